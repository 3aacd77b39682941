//! Syslog over the network: UDP datagrams and TCP streams (RFC 6587
//! octet counting or newline framing), batched into the pipeline.
//!
//! Neither transport can replay, so these sources have no checkpoint: a
//! message is safe once its batch is committed. Backpressure reaches the
//! senders: connection tasks hand records to a bounded channel, so while the
//! pipeline is busy TCP reads stop and the kernel's flow control slows the
//! sender; UDP has no flow control, and datagrams the socket buffer cannot
//! hold are dropped by the kernel (size it with `net.core.rmem_max`).
//!
//! What a sender can hold is bounded: a record by `max_line_bytes`, a TCP
//! listener by its connection cap (past it, new connections are closed at
//! once) and each connection by its idle timeout; senders outside
//! `allow_from` are dropped before a byte of theirs is read. Drops are
//! counted and logged at powers of two, so a flood cannot flood the log.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use ipnet::IpNet;
use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format, Line};
use riposte_model::Clock;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Sleep;

use crate::IngestLimits;
use crate::pipeline::{PipelineError, PipelineHandle};
use crate::source::SourceError;

/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;

/// A network source's name, format, limits and permitted senders.
#[derive(Clone, Debug)]
pub struct NetSource {
    pub name: String,
    pub format: Format,
    pub decode: DecodeOptions,
    pub limits: IngestLimits,
    pub allow_from: AllowFrom,
    pub stats: Arc<ListenerStats>,
}

/// `allow_from`: the networks a listener takes messages from. Syslog has
/// no authentication, so anyone who can reach the port can feed the rules
/// (and through them, bans); this narrows "anyone" to the senders' subnets.
/// Empty means every sender. A short list checked in order: senders are a
/// handful of relays, not a routing table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowFrom(Vec<IpNet>);

impl AllowFrom {
    /// IPv4-mapped IPv6 networks are taken as the IPv4 networks they are,
    /// so `10.0.0.0/8` also admits `::ffff:10.1.2.3` on a dual-stack socket.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self(
            nets.into_iter()
                .map(|n| riposte_model::canonical_net(n).trunc())
                .collect(),
        )
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|n| n.contains(&ip))
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }
}

/// Bounds on a TCP listener's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections at once; past it, a new connection is closed at once
    /// (it would otherwise wait in the kernel's backlog behind peers that
    /// may never send).
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed: a sender
    /// with something to say reconnects, one that holds a slot idle does
    /// not keep it.
    pub idle_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What a listener dropped, counted for whoever watches it (tests, and a
/// metrics endpoint when there is one); each counter also logs its 1st,
/// 2nd, 4th, 8th… drop.
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// Datagrams and connections from senders outside `allow_from`.
    pub refused_senders: AtomicU64,
    /// Connections closed at once because the listener was full.
    pub over_capacity: AtomicU64,
    /// Connections closed after their idle timeout.
    pub idle_closed: AtomicU64,
}

/// Adds one to `counter`; the new count if it is one to log.
fn count_drop(counter: &AtomicU64) -> Option<u64> {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    n.is_power_of_two().then_some(n)
}

/// Listens for syslog datagrams on `addr` until shutdown. The socket is
/// bound before this returns, so a caller can send as soon as it has the
/// local address from `bound`.
pub async fn run_udp(
    src: NetSource,
    socket: UdpSocket,
    clock: Arc<dyn Clock>,
    pipeline: PipelineHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let (tx, batcher) = spawn_batcher(&src, clock, pipeline, &shutdown);
    let seq = AtomicU64::new(0);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => r.map_err(|e| SourceError::Io(e.to_string()))?,
            _ = shutdown.changed() => break,
        };
        if !src.allow_from.permits(peer.ip()) {
            if let Some(refused) = count_drop(&src.stats.refused_senders) {
                tracing::warn!(source = %src.name, %peer, refused, "datagram from a sender outside allow_from dropped");
            }
            continue;
        }
        for record in split_datagram(&buf[..n]) {
            let line = bounded_line(&seq, record, record.len() as u64, src.limits.max_line_bytes);
            if tx.send(line).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    batcher.await.map_err(|e| SourceError::Io(e.to_string()))?
}

/// The channel records go into and the task that batches them into the
/// pipeline; the channel holds a few batches, so readers block (and TCP
/// pushes back) when the pipeline falls behind.
fn spawn_batcher(
    src: &NetSource,
    clock: Arc<dyn Clock>,
    pipeline: PipelineHandle,
    shutdown: &watch::Receiver<bool>,
) -> (
    mpsc::Sender<Line>,
    tokio::task::JoinHandle<Result<(), SourceError>>,
) {
    let (tx, rx) = mpsc::channel::<Line>(src.limits.batch_lines.max(1) * 4);
    let task = tokio::spawn(batch_records(
        src.clone(),
        rx,
        clock,
        pipeline,
        shutdown.clone(),
    ));
    (tx, task)
}

/// A datagram may hold several newline-separated messages (some senders
/// batch); a trailing newline or NUL is not part of the message.
fn split_datagram(d: &[u8]) -> impl Iterator<Item = &[u8]> {
    d.split(|&b| b == b'\n')
        .map(|r| {
            let mut r = r;
            while let [rest @ .., b'\r' | b'\0'] = r {
                r = rest;
            }
            r
        })
        .filter(|r| !r.is_empty())
}

/// A record as a [`Line`] numbered in arrival order (its "offset"), cut to
/// `max` bytes.
fn bounded_line(seq: &AtomicU64, bytes: &[u8], full_len: u64, max: usize) -> Line {
    let offset = seq.fetch_add(1, Ordering::Relaxed);
    Line::new(offset, bytes[..bytes.len().min(max)].to_vec(), full_len)
}

/// Accepts syslog TCP connections until shutdown.
pub async fn run_tcp(
    src: NetSource,
    listener: TcpListener,
    tcp: TcpLimits,
    clock: Arc<dyn Clock>,
    pipeline: PipelineHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let (tx, batcher) = spawn_batcher(&src, clock, pipeline, &shutdown);
    let seq = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(tcp.max_connections.max(1)));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and the like: wait for descriptors to free up
                    // instead of spinning.
                    tracing::warn!(source = %src.name, error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        if !src.allow_from.permits(peer.ip()) {
            if let Some(refused) = count_drop(&src.stats.refused_senders) {
                tracing::warn!(source = %src.name, %peer, refused, "connection from a sender outside allow_from closed");
            }
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            if let Some(refused) = count_drop(&src.stats.over_capacity) {
                tracing::warn!(source = %src.name, %peer, refused, max = tcp.max_connections, "connection cap reached; closing new connections");
            }
            continue;
        };
        let tx = tx.clone();
        let seq = seq.clone();
        let max = src.limits.max_line_bytes;
        let name = src.name.clone();
        let mut stop = shutdown.clone();
        let stats = src.stats.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = IdleTimeout::new(stream, tcp.idle_timeout);
            tokio::select! {
                r = read_frames(stream, &seq, max, &tx) => match r {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        if let Some(closed) = count_drop(&stats.idle_closed) {
                            tracing::info!(source = %name, %peer, closed, "idle connection closed");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(source = %name, %peer, error = %e, "connection closed with an error");
                    }
                },
                _ = stop.changed() => {}
            }
        });
    }
    drop(tx);
    batcher.await.map_err(|e| SourceError::Io(e.to_string()))?
}

/// A stream whose reads fail with `TimedOut` when no byte arrives for
/// `timeout`. The clock runs only while a read waits for the peer, not
/// while the reader waits for the pipeline (backpressure is not idleness).
struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Whether a read is waiting, the deadline set when it started.
    waiting: bool,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            waiting: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.waiting {
            let at = tokio::time::Instant::now() + this.timeout;
            this.deadline.as_mut().reset(at);
            this.waiting = true;
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "idle timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                this.waiting = false;
                ready
            }
        }
    }
}

type Conn = BufReader<IdleTimeout<TcpStream>>;

/// Reads frames from one connection until it closes. Each frame is
/// octet-counted (`LEN SP MSG`) when it starts with digits followed by a
/// space, otherwise newline-terminated; a record longer than `max` is kept
/// cut (and dead-lettered) while the rest of it is skipped.
async fn read_frames(
    stream: IdleTimeout<TcpStream>,
    seq: &AtomicU64,
    max: usize,
    tx: &mpsc::Sender<Line>,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
        let octet_len = (digits > 0 && digits <= 10 && buf.get(digits) == Some(&b' '))
            .then(|| {
                std::str::from_utf8(&buf[..digits])
                    .ok()?
                    .parse::<u64>()
                    .ok()
            })
            .flatten();
        let line = match octet_len {
            Some(len) => {
                reader.consume(digits + 1);
                let keep = len.min(max as u64);
                let mut bytes = vec![0u8; keep as usize];
                reader.read_exact(&mut bytes).await?;
                let rest = len - keep;
                if rest > 0 {
                    tokio::io::copy(&mut (&mut reader).take(rest), &mut tokio::io::sink()).await?;
                }
                Line::new(seq.fetch_add(1, Ordering::Relaxed), bytes, len)
            }
            None => {
                let (bytes, full, ended) = read_newline_frame(&mut reader, max).await?;
                if full == 0 && !ended {
                    return Ok(());
                }
                Line::new(seq.fetch_add(1, Ordering::Relaxed), bytes, full)
            }
        };
        if line.bytes.is_empty() && line.truncated_from.is_none() {
            continue;
        }
        if tx.send(line).await.is_err() {
            return Ok(());
        }
    }
}

/// One `\n`-terminated frame: the kept bytes (at most `max`), the frame's
/// full length without the terminator, and whether a terminator was seen.
async fn read_newline_frame(
    reader: &mut Conn,
    max: usize,
) -> std::io::Result<(Vec<u8>, u64, bool)> {
    let mut kept = Vec::new();
    let mut full = 0u64;
    let mut last = None;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok((kept, full, false));
        }
        let (chunk, ended) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        full += chunk.len() as u64;
        last = chunk.last().copied().or(last);
        let used = chunk.len() + usize::from(ended);
        reader.consume(used);
        if ended {
            // CRLF framing: the CR belongs to the terminator.
            if last == Some(b'\r') {
                if kept.len() as u64 == full {
                    kept.pop();
                }
                full -= 1;
            }
            return Ok((kept, full, true));
        }
    }
}

/// Collects records into batches (up to `batch_lines`, or whatever arrived
/// within `poll_interval` of the first), decodes them on a blocking thread
/// and commits them, one batch at a time.
async fn batch_records(
    src: NetSource,
    mut rx: mpsc::Receiver<Line>,
    clock: Arc<dyn Clock>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let mut decoder = Decoder::new(src.format, &src.decode);
    let linger = src.limits.poll_interval.min(Duration::from_millis(200));
    loop {
        let Some(first) = rx.recv().await else {
            return Ok(());
        };
        let mut lines = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while lines.len() < src.limits.batch_lines {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => lines.push(line),
                Ok(None) | Err(_) => break,
            }
        }
        let name = src.name.clone();
        let now = clock.now();
        let (back, decoded) = tokio::task::spawn_blocking(move || {
            let ctx = DecodeCtx { source: &name, now };
            let decoded = decoder.decode_batch(&lines, &ctx);
            (decoder, decoded)
        })
        .await
        .map_err(|e| SourceError::Io(e.to_string()))?;
        decoder = back;
        match pipeline.submit(decoded, None).await {
            Ok(_) => {}
            Err(PipelineError::Stopped) => return Ok(()),
            Err(e) => return Err(SourceError::Pipeline(e.to_string())),
        }
        if *shutdown.borrow() && rx.is_empty() {
            return Ok(());
        }
    }
}

/// Binds a UDP source's socket.
pub async fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}

/// Binds a TCP source's listener.
pub async fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_split_on_newlines_and_lose_trailing_terminators() {
        let got: Vec<&[u8]> = split_datagram(b"<13>a\r\n<13>b\n\n<13>c\0").collect();
        assert_eq!(got, [&b"<13>a"[..], b"<13>b", b"<13>c"]);
    }

    #[test]
    fn allow_from_admits_its_networks_and_their_mapped_forms() {
        let nets = ["10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.0/120"]
            .map(|n| n.parse::<IpNet>().unwrap_or_else(|e| panic!("{n}: {e}")));
        let allow = AllowFrom::new(nets);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        for (addr, admitted) in [
            ("10.1.2.3", true),
            ("::ffff:10.1.2.3", true),
            ("11.0.0.1", false),
            ("2001:db8::1", true),
            ("2001:db9::1", false),
            ("192.0.2.200", true),
            ("127.0.0.1", false),
        ] {
            assert_eq!(allow.permits(ip(addr)), admitted, "{addr}");
        }
        assert!(AllowFrom::default().permits(ip("198.51.100.1")));
    }

    #[test]
    fn drops_are_logged_at_powers_of_two() {
        let c = AtomicU64::new(0);
        let logged: Vec<u64> = (0..20).filter_map(|_| count_drop(&c)).collect();
        assert_eq!(logged, [1, 2, 4, 8, 16]);
        assert_eq!(c.load(Ordering::Relaxed), 20);
    }

    #[test]
    fn long_records_are_cut_and_numbered() {
        let seq = AtomicU64::new(5);
        let line = bounded_line(&seq, b"abcdef", 6, 4);
        assert_eq!(line.offset, 5);
        assert_eq!(line.bytes, b"abcd");
        assert_eq!(line.truncated_from, Some(6));
        assert_eq!(bounded_line(&seq, b"ab", 2, 4).offset, 6);
    }
}
