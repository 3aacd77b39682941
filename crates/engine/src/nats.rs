//! A NATS JetStream source: a durable pull consumer on an existing stream,
//! one record per message, committed exactly once across crashes.
//!
//! The store is the source of truth, not the consumer. Each batch is
//! committed together with the stream sequence of its last message (the
//! checkpoint) and acknowledged only afterwards, so:
//!
//! * a crash after the commit but before the acknowledgement makes the
//!   server redeliver messages whose sequence is at or below the checkpoint;
//!   they are acknowledged and skipped without being processed again;
//! * a crash (or a lost connection) after messages were delivered but before
//!   they were committed leaves them pending on the server, which would
//!   redeliver them only after the consumer's ack wait — after newer
//!   messages, whose commit would move the checkpoint past them. So before
//!   fetching, and whenever a delivery went missing, the source compares the
//!   consumer's position with the checkpoint and, if messages past the
//!   checkpoint are outstanding, recreates the durable consumer (same
//!   configuration) starting right after the checkpoint.
//!
//! One running source per durable consumer and checkpoint name: two
//! processes sharing a consumer would each see gaps in the deliveries and
//! keep resetting it (the source logs this).

use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, FromConsumer, PullConsumer};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, stream::Stream};
use futures_util::StreamExt;
use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format, Line};
use riposte_model::Clock;
use tokio::sync::watch;

use crate::IngestLimits;
use crate::pipeline::{PipelineError, PipelineHandle};
use crate::source::{SourceCtx, SourceError};

/// One configured JetStream source.
#[derive(Clone, Debug)]
pub struct NatsSource {
    /// The source name: the checkpoint key and `event.origin.source`.
    pub name: String,
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The stream to read; it must exist (operators own streams).
    pub stream: String,
    /// Filter subject: set on the consumer when it is created here, and
    /// required of an existing one.
    pub subject: Option<String>,
    /// Durable consumer name; created if absent.
    pub consumer: String,
    pub format: Format,
    /// The `mapping` of a `json` source.
    pub decode: DecodeOptions,
}

/// The longest wait between two attempts to reach the server.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads `src` until `shutdown` turns true (or its sender is dropped).
///
/// Returns an error only when a batch could not be committed (the
/// messages are left unacknowledged, so they are delivered again after a
/// restart) or the decoder thread failed; every NATS problem — server
/// unreachable, stream missing, consumer mismatch — is logged and retried
/// with a growing delay.
pub async fn run_nats_source(src: NatsSource, ctx: SourceCtx) -> Result<(), SourceError> {
    let SourceCtx {
        limits,
        store,
        clock,
        pipeline,
        mut shutdown,
    } = ctx;
    let checkpoint = store
        .checkpoint(&src.name)
        .await
        .map_err(|e| SourceError::Store(e.to_string()))?
        .map_or(0, |c| c.offset);
    let mut state = State {
        checkpoint,
        decoder: Some(Decoder::new(src.format, &src.decode)),
    };
    let mut delay = first_delay(&limits);
    let mut client: Option<async_nats::Client> = None;
    loop {
        if is_stopped(&shutdown) {
            return Ok(());
        }
        let c = match &client {
            Some(c) => c.clone(),
            None => {
                let connect = connect_options(&src.name).connect(src.url.as_str());
                let result = tokio::select! {
                    r = connect => r,
                    _ = stopped(&mut shutdown) => return Ok(()),
                };
                match result {
                    Ok(c) => {
                        tracing::info!(source = %src.name, url = %redact(&src.url), "connected to NATS");
                        client = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        tracing::warn!(source = %src.name, url = %redact(&src.url), error = %e, retry_in = ?delay, "cannot connect to NATS; retrying");
                        if sleep_or_stopped(&mut shutdown, delay).await {
                            return Ok(());
                        }
                        delay = (delay * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        let session = Session {
            src: &src,
            limits: &limits,
            clock: clock.as_ref(),
            pipeline: &pipeline,
            js: jetstream::new(c),
        };
        match session.run(&mut state, &mut shutdown, &mut delay).await {
            Ok(()) | Err(Stop::Shutdown) => return Ok(()),
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Retry(reason)) => {
                tracing::warn!(source = %src.name, stream = %src.stream, consumer = %src.consumer, reason = %reason, retry_in = ?delay, "NATS source interrupted; retrying");
                if sleep_or_stopped(&mut shutdown, delay).await {
                    return Ok(());
                }
                // A session that got as far as fetching resets the delay
                // (see Session::run), so only repeated failures grow it.
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// What survives a reconnection: the committed position and the decoder
/// (stateful formats read their header from the stream itself).
struct State {
    checkpoint: u64,
    /// `None` only while a batch is being decoded on a blocking thread.
    decoder: Option<Decoder>,
}

enum Stop {
    /// Shutdown was requested, or the pipeline is gone.
    Shutdown,
    /// A NATS problem: log it, wait and start a new session.
    Retry(String),
    /// Stop the source.
    Fatal(SourceError),
}

struct Session<'a> {
    src: &'a NatsSource,
    limits: &'a IngestLimits,
    clock: &'a dyn Clock,
    pipeline: &'a PipelineHandle,
    js: jetstream::Context,
}

/// A fetched message, taken apart: its position, payload and acker.
struct Delivery {
    stream_seq: u64,
    consumer_seq: u64,
    message: async_nats::Message,
    acker: Acker,
}

impl Session<'_> {
    async fn run(
        &self,
        state: &mut State,
        shutdown: &mut watch::Receiver<bool>,
        delay: &mut Duration,
    ) -> Result<(), Stop> {
        let src = self.src;
        let stream = match until_stopped(shutdown, self.js.get_stream(&src.stream)).await {
            None => return Ok(()),
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                if let GetStreamErrorKind::JetStream(js) = e.kind()
                    && js.error_code() == ErrorCode::STREAM_NOT_FOUND
                {
                    return Err(Stop::Retry(format!(
                        "stream {:?} does not exist; Riposte does not create streams, create it with the subjects to ingest",
                        src.stream
                    )));
                }
                return Err(Stop::Retry(format!(
                    "cannot look up stream {:?}: {e}",
                    src.stream
                )));
            }
        };
        let last = stream.cached_info().state.last_sequence;
        if last < state.checkpoint {
            tracing::error!(
                source = %src.name, stream = %src.stream, checkpoint = state.checkpoint, last_sequence = last,
                "the stream ends before the committed checkpoint (was it deleted and recreated?); messages up to the checkpoint are skipped as already processed"
            );
        }
        let Some(consumer) = self.consumer(&stream, state.checkpoint, shutdown).await? else {
            return Ok(());
        };
        let Some(info) = until_stopped(shutdown, consumer.get_info()).await else {
            return Ok(());
        };
        let info = info.map_err(|e| Stop::Retry(format!("consumer info: {e}")))?;
        let ack_policy = info.config.ack_policy;
        let mut next_consumer_seq = info.delivered.consumer_sequence.saturating_add(1);
        tracing::info!(
            source = %src.name, stream = %src.stream, consumer = %src.consumer,
            checkpoint = state.checkpoint, delivered = info.delivered.stream_sequence,
            pending = info.num_pending, ack_pending = info.num_ack_pending,
            "consuming JetStream"
        );
        *delay = first_delay(self.limits);

        loop {
            if is_stopped(shutdown) {
                return Ok(());
            }
            let fetch = fetch(
                &consumer,
                self.limits.batch_lines.max(1),
                self.limits.poll_interval,
            );
            let Some(batch) = until_stopped(shutdown, fetch).await else {
                return Ok(());
            };
            let batch = batch?;
            if batch.is_empty() {
                continue;
            }
            // Every delivery of this consumer goes to this source, so the
            // consumer sequences are consecutive; a hole means deliveries
            // were lost (a reconnection mid-batch) and are now pending on
            // the server, to be redelivered after newer messages. Commit
            // nothing from this batch: the next session compares the
            // consumer with the checkpoint and resets it if need be.
            for d in &batch {
                if d.consumer_seq != next_consumer_seq {
                    return Err(Stop::Retry(format!(
                        "deliveries out of sequence (expected consumer sequence {next_consumer_seq}, got {}): lost in a reconnection, a server restart, or another process reading consumer {:?}",
                        d.consumer_seq, src.consumer
                    )));
                }
                next_consumer_seq = next_consumer_seq.saturating_add(1);
            }
            self.process(batch, ack_policy, state, shutdown).await?;
        }
    }

    /// The durable pull consumer, created if absent and reset to the
    /// checkpoint if messages after it are outstanding. `None` on shutdown.
    async fn consumer(
        &self,
        stream: &Stream,
        checkpoint: u64,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<PullConsumer>, Stop> {
        let src = self.src;
        let wanted = consumer::pull::Config {
            durable_name: Some(src.consumer.clone()),
            description: Some(format!("riposte source {}", src.name)),
            deliver_policy: start_after(checkpoint),
            ack_policy: AckPolicy::All,
            filter_subject: src.subject.clone().unwrap_or_default(),
            max_ack_pending: i64::try_from(self.limits.batch_lines.max(1000)).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let lookup = stream.get_or_create_consumer(&src.consumer, wanted);
        let Some(consumer) = until_stopped(shutdown, lookup).await else {
            return Ok(None);
        };
        let consumer: PullConsumer = consumer.map_err(|e| {
            Stop::Retry(format!(
                "cannot get or create pull consumer {:?} on stream {:?}: {e}",
                src.consumer, src.stream
            ))
        })?;
        let info = consumer.cached_info().clone();
        if let Some(subject) = &src.subject
            && &info.config.filter_subject != subject
        {
            return Err(Stop::Retry(format!(
                "consumer {:?} exists with filter subject {:?}, but the source is configured with {subject:?}; delete the consumer or fix the configuration",
                src.consumer, info.config.filter_subject
            )));
        }
        if info.config.ack_policy == AckPolicy::None {
            return Err(Stop::Retry(format!(
                "consumer {:?} does not acknowledge messages (ack policy none); Riposte needs explicit or all",
                src.consumer
            )));
        }
        // Messages past the checkpoint were delivered and never committed
        // (the previous run stopped mid-batch). Start over right after what
        // is committed or acknowledged, keeping the rest of the
        // configuration.
        let outstanding = info.num_ack_pending > 0 && info.delivered.stream_sequence > checkpoint;
        if !outstanding {
            return Ok(Some(consumer));
        }
        let start = checkpoint.max(info.ack_floor.stream_sequence);
        tracing::warn!(
            source = %src.name, stream = %src.stream, consumer = %src.consumer,
            checkpoint, delivered = info.delivered.stream_sequence, ack_pending = info.num_ack_pending,
            restart_at = start.saturating_add(1),
            "messages after the checkpoint were delivered but not committed; recreating the consumer to redeliver them in order"
        );
        let mut config = consumer::pull::Config::try_from_consumer_config(info.config.clone())
            .map_err(|e| Stop::Retry(format!("consumer {:?} config: {e}", src.consumer)))?;
        config.deliver_policy = start_after(start);
        let recreate = async {
            stream.delete_consumer(&src.consumer).await.map_err(|e| {
                Stop::Retry(format!("cannot delete consumer {:?}: {e}", src.consumer))
            })?;
            stream.create_consumer(config).await.map_err(|e| {
                Stop::Retry(format!("cannot recreate consumer {:?}: {e}", src.consumer))
            })
        };
        match until_stopped(shutdown, recreate).await {
            None => Ok(None),
            Some(r) => r.map(Some),
        }
    }

    /// Skips what is already committed, decodes and commits the rest with
    /// its checkpoint, then acknowledges the whole batch.
    async fn process(
        &self,
        batch: Vec<Delivery>,
        ack_policy: AckPolicy,
        state: &mut State,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        let src = self.src;
        let max = self.limits.max_line_bytes;
        let mut lines = Vec::new();
        let mut skipped = 0usize;
        let mut last = state.checkpoint;
        for d in &batch {
            if d.stream_seq <= state.checkpoint {
                // Committed before (a crash between commit and ack, or an
                // ack that never arrived): acknowledge, do not process.
                skipped += 1;
                continue;
            }
            if d.stream_seq <= last {
                // Committing `last` would mark this one as done.
                return Err(Stop::Retry(format!(
                    "message {} delivered after message {last}; resetting to the checkpoint",
                    d.stream_seq
                )));
            }
            last = d.stream_seq;
            lines.push(line(d.stream_seq, &d.message.payload, max));
        }
        let first = batch.first().map(|d| d.stream_seq);
        if !lines.is_empty() {
            let Some(mut decoder) = state.decoder.take() else {
                return Err(Stop::Fatal(SourceError::Io(
                    "decoder lost by an earlier failure".to_owned(),
                )));
            };
            let source = src.name.clone();
            let now = self.clock.now();
            let (decoder, decoded) = tokio::task::spawn_blocking(move || {
                let ctx = DecodeCtx {
                    source: &source,
                    now,
                };
                let decoded = decoder.decode_batch(&lines, &ctx);
                (decoder, decoded)
            })
            .await
            .map_err(|e| Stop::Fatal(SourceError::Io(e.to_string())))?;
            state.decoder = Some(decoder);
            match self
                .pipeline
                .submit(decoded, Some((src.name.clone(), last.into())))
                .await
            {
                Ok(summary) => {
                    state.checkpoint = last;
                    tracing::debug!(
                        source = %src.name, first = ?first, last, skipped,
                        events = summary.events, dead_letters = summary.dead_letters,
                        "batch committed"
                    );
                }
                // Not committed and not acknowledged: redelivered later.
                Err(PipelineError::Stopped) => return Err(Stop::Shutdown),
                Err(e) => return Err(Stop::Fatal(SourceError::Pipeline(e.to_string()))),
            }
        } else {
            tracing::debug!(source = %src.name, first = ?first, skipped, checkpoint = state.checkpoint, "redelivered messages already committed; acknowledged");
        }
        // Not worth delaying a shutdown for: see `ack`.
        match until_stopped(shutdown, ack(&batch, ack_policy)).await {
            Some(()) => Ok(()),
            None => Err(Stop::Shutdown),
        }
    }
}

/// Acknowledges a committed batch: the highest message with ack policy
/// `all`, each message otherwise; the last acknowledgement waits for the
/// server's confirmation, so the consumer's state is settled on return. A
/// lost acknowledgement is harmless: the redelivery is at or below the
/// checkpoint and skipped.
async fn ack(batch: &[Delivery], policy: AckPolicy) {
    let Some(top) = batch.iter().max_by_key(|d| d.stream_seq) else {
        return;
    };
    if policy != AckPolicy::All {
        for d in batch {
            if d.stream_seq != top.stream_seq
                && let Err(e) = d.acker.ack().await
            {
                tracing::warn!(sequence = d.stream_seq, error = %e, "ack failed; the redelivery will be skipped");
            }
        }
    }
    if let Err(e) = top.acker.double_ack().await {
        tracing::warn!(sequence = top.stream_seq, error = %e, "ack failed; the redelivery will be skipped");
    }
}

/// One pull request: up to `max` messages, waiting at most `expires` for
/// them to arrive.
async fn fetch(
    consumer: &PullConsumer,
    max: usize,
    expires: Duration,
) -> Result<Vec<Delivery>, Stop> {
    let mut messages = consumer
        .batch()
        .max_messages(max)
        .expires(expires.max(Duration::from_millis(10)))
        .messages()
        .await
        .map_err(|e| Stop::Retry(format!("pull request failed: {e}")))?;
    let mut out = Vec::new();
    while let Some(m) = messages.next().await {
        let m = m.map_err(|e| Stop::Retry(format!("fetching messages: {e}")))?;
        let (stream_seq, consumer_seq) = {
            let info = m
                .info()
                .map_err(|e| Stop::Retry(format!("message without JetStream metadata: {e}")))?;
            (info.stream_sequence, info.consumer_sequence)
        };
        let (message, acker) = m.split();
        out.push(Delivery {
            stream_seq,
            consumer_seq,
            message,
            acker,
        });
    }
    Ok(out)
}

/// A message as a record: one trailing newline dropped, cut to `max`
/// bytes with the full length kept when longer.
fn line(seq: u64, payload: &[u8], max: usize) -> Line {
    let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
    let truncated_from = (payload.len() > max).then_some(payload.len() as u64);
    let kept = payload.get(..max).unwrap_or(payload);
    Line {
        offset: seq,
        bytes: kept.to_vec(),
        truncated_from,
    }
}

fn first_delay(limits: &IngestLimits) -> Duration {
    limits.poll_interval.max(Duration::from_millis(100))
}

fn start_after(seq: u64) -> DeliverPolicy {
    if seq == 0 {
        DeliverPolicy::All
    } else {
        DeliverPolicy::ByStartSequence {
            start_sequence: seq.saturating_add(1),
        }
    }
}

fn connect_options(source: &str) -> async_nats::ConnectOptions {
    let name = source.to_owned();
    async_nats::ConnectOptions::new()
        .name(format!("riposte {source}"))
        .event_callback(move |event| {
            let name = name.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!(source = %name, "NATS connection (re)established")
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(source = %name, "NATS connection lost; reconnecting")
                    }
                    // Every failed reconnection attempt; "connection lost"
                    // already said what matters.
                    async_nats::Event::ClientError(e) => {
                        tracing::debug!(source = %name, error = %e, "NATS client error")
                    }
                    async_nats::Event::Closed => {
                        tracing::debug!(source = %name, "NATS connection closed")
                    }
                    other => tracing::warn!(source = %name, event = %other, "NATS event"),
                }
            }
        })
}

/// The URL without credentials, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!(
            "{}://***{}",
            url.get(..scheme).unwrap_or_default(),
            url.get(at..).unwrap_or_default()
        ),
        _ => url.to_owned(),
    }
}

fn is_stopped(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Resolves once shutdown is requested or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Runs `fut` unless shutdown comes first (`None`).
async fn until_stopped<T>(
    shutdown: &mut watch::Receiver<bool>,
    fut: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        v = fut => Some(v),
        _ = stopped(shutdown) => None,
    }
}

/// Sleeps for `d`; true if shutdown was requested meanwhile.
async fn sleep_or_stopped(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    until_stopped(shutdown, tokio::time::sleep(d))
        .await
        .is_none()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_becomes_one_bounded_line_at_its_sequence() {
        let l = line(7, b"hello\n", 10);
        assert_eq!(
            (l.offset, l.bytes.as_slice(), l.truncated_from),
            (7, &b"hello"[..], None)
        );
        let l = line(8, b"0123456789abc", 10);
        assert_eq!(
            (l.offset, l.bytes.as_slice(), l.truncated_from),
            (8, &b"0123456789"[..], Some(13))
        );
        let l = line(9, b"0123456789\n", 10);
        assert_eq!((l.bytes.len(), l.truncated_from), (10, None));
    }

    #[test]
    fn credentials_never_reach_the_logs() {
        assert_eq!(
            redact("nats://user:secret@10.0.0.1:4222"),
            "nats://***@10.0.0.1:4222"
        );
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn a_consumer_starts_right_after_the_checkpoint() {
        assert_eq!(start_after(0), DeliverPolicy::All);
        assert_eq!(
            start_after(41),
            DeliverPolicy::ByStartSequence { start_sequence: 42 }
        );
    }
}
