//! Syslog over the network: UDP datagrams and TCP streams (RFC 6587
//! octet counting or newline framing), batched into the pipeline.
//!
//! Neither transport can replay, so these sources have no checkpoint: a
//! message is safe once its batch is committed. Backpressure reaches the
//! senders: connection tasks hand records to a bounded channel, so while the
//! pipeline is busy TCP reads stop and the kernel's flow control slows the
//! sender; UDP has no flow control, and datagrams the socket buffer cannot
//! hold are dropped by the kernel (size it with `net.core.rmem_max`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format, Line};
use riposte_model::Clock;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::IngestLimits;
use crate::pipeline::{PipelineError, PipelineHandle};
use crate::source::SourceError;

/// Concurrent TCP connections per listener; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 256;
/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;

/// A network source's name, format and limits.
#[derive(Clone, Debug)]
pub struct NetSource {
    pub name: String,
    pub format: Format,
    pub decode: DecodeOptions,
    pub limits: IngestLimits,
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
        let (n, _peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => r.map_err(|e| SourceError::Io(e.to_string()))?,
            _ = shutdown.changed() => break,
        };
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
    clock: Arc<dyn Clock>,
    pipeline: PipelineHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let (tx, batcher) = spawn_batcher(&src, clock, pipeline, &shutdown);
    let seq = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(source = %src.name, error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let tx = tx.clone();
        let seq = seq.clone();
        let max = src.limits.max_line_bytes;
        let name = src.name.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                r = read_frames(stream, &seq, max, &tx) => {
                    if let Err(e) = r {
                        tracing::warn!(source = %name, %peer, error = %e, "connection closed with an error");
                    }
                }
                _ = stop.changed() => {}
            }
        });
    }
    drop(tx);
    batcher.await.map_err(|e| SourceError::Io(e.to_string()))?
}

/// Reads frames from one connection until it closes. Each frame is
/// octet-counted (`LEN SP MSG`) when it starts with digits followed by a
/// space, otherwise newline-terminated; a record longer than `max` is kept
/// cut (and dead-lettered) while the rest of it is skipped.
async fn read_frames(
    stream: TcpStream,
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
    reader: &mut BufReader<TcpStream>,
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
    fn long_records_are_cut_and_numbered() {
        let seq = AtomicU64::new(5);
        let line = bounded_line(&seq, b"abcdef", 6, 4);
        assert_eq!(line.offset, 5);
        assert_eq!(line.bytes, b"abcd");
        assert_eq!(line.truncated_from, Some(6));
        assert_eq!(bounded_line(&seq, b"ab", 2, 4).offset, 6);
    }
}
