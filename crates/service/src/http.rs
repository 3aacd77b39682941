//! The HTTP listeners (the REST API, TAXII): an accept loop that bounds
//! what a client can hold. `axum::serve` has no connection cap, no header
//! timeout and no TLS; a peer that opens connections and says nothing would
//! otherwise keep a task and a descriptor each for as long as it likes.
//!
//! - at most `max_connections` at once; past that a new connection is
//!   closed at once (the kernel's backlog does not fill with them);
//! - the TLS handshake must finish within `handshake_timeout`;
//! - a request's headers must arrive within `header_timeout`, which also
//!   closes a keep-alive connection idle that long between requests;
//! - a whole request, body included, must be answered within
//!   `request_timeout` (408 otherwise);
//! - accept errors (out of descriptors) pause the loop instead of spinning.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Bounds on one listener's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// How long connections in flight get to finish after a stop.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `router` on `tcp` until `shutdown` resolves, then stops accepting
/// and lets requests in flight finish (at most [`DRAIN`]).
pub async fn serve_http(
    name: &'static str,
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused: u64 = 0;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: wait for descriptors to free up.
                    tracing::warn!(listener = name, error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(listener = name, %peer, refused, max = limits.max_connections, "connection cap reached; closing new connections");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_conn(stream, peer, router, limits, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => serve_conn(tls, peer, router, limits, watcher).await,
                        Ok(Err(e)) => {
                            tracing::debug!(listener = name, %peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => {
                            tracing::debug!(listener = name, %peer, "TLS handshake timed out")
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(tcp);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => tracing::warn!(listener = name, "connections still open after the drain time; closing them"),
    }
}

async fn serve_conn<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// A TLS acceptor for the certificate chain and key in these PEM files
/// (TLS 1.2 and 1.3, HTTP/1.1 by ALPN). The error names the file at fault,
/// both files when both are.
pub fn tls_acceptor(files: &crate::TlsFiles) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context as _;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs = match CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
    {
        Ok(certs) if certs.is_empty() => Err(format!(
            "api.tls.cert: {} holds no PEM certificate",
            files.cert.display()
        )),
        Ok(certs) => Ok(certs),
        Err(e) => Err(format!(
            "api.tls.cert: cannot read {}: {e}",
            files.cert.display()
        )),
    };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "api.tls.key: cannot read a private key from {}: {e}",
            files.key.display()
        )
    });
    let (certs, key) = match (certs, key) {
        (Ok(c), Ok(k)) => (c, k),
        (c, k) => {
            let errors: Vec<String> = [c.err(), k.err()].into_iter().flatten().collect();
            anyhow::bail!("{}", errors.join("; "));
        }
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .with_context(|| {
        format!(
            "api.tls: the key in {} does not fit the certificate in {}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unreadable_tls_files_are_both_named() {
        let dir = std::env::temp_dir().join("riposte-no-such-dir");
        let files = crate::TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        let err = tls_acceptor(&files).err().unwrap().to_string();
        let (cert, key) = err.split_once("; ").unwrap();
        assert!(
            cert.starts_with(&format!(
                "api.tls.cert: cannot read {}: ",
                files.cert.display()
            )),
            "{err}"
        );
        assert!(
            key.starts_with(&format!(
                "api.tls.key: cannot read a private key from {}: ",
                files.key.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_with_the_wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let b = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let files = crate::TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        std::fs::write(&files.cert, a.cert.pem()).unwrap();
        std::fs::write(&files.key, b.signing_key.serialize_pem()).unwrap();
        let err = tls_acceptor(&files).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "api.tls: the key in {} does not fit the certificate in {}",
                files.key.display(),
                files.cert.display()
            )
        );
        std::fs::write(&files.key, a.signing_key.serialize_pem()).unwrap();
        assert!(tls_acceptor(&files).is_ok());
    }
}
