#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! The NATS JetStream source against a real nats-server with JetStream.
//!
//! The server's URL comes from RIPOSTE_TEST_NATS_URL; without it the tests
//! are skipped, unless RIPOSTE_REQUIRE_NATS=1 (CI), where an unset URL or an
//! unreachable server fails them. Each test uses its own uniquely named
//! stream and deletes it at the end.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use riposte_engine::nats::{NatsSource, run_nats_source};
use riposte_engine::source::{SourceCtx, SourceError};
use riposte_engine::{Engine, IngestLimits, PipelineHandle, pipeline};
use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format, Line};
use riposte_model::{Clock, SystemClock};
use riposte_service::{Config, build_engine};
use riposte_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Only ever a guard against a hang: every wait below ends as soon as its
/// condition holds.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn required() -> bool {
    std::env::var("RIPOSTE_REQUIRE_NATS").is_ok_and(|v| v == "1")
}

fn nats_url() -> Option<String> {
    match std::env::var("RIPOSTE_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !required(),
                "RIPOSTE_REQUIRE_NATS=1 but RIPOSTE_TEST_NATS_URL is not set"
            );
            eprintln!(
                "skipping: set RIPOSTE_TEST_NATS_URL=nats://127.0.0.1:4222 to run the NATS tests"
            );
            None
        }
    }
}

async fn connect(url: &str) -> Option<async_nats::Client> {
    match async_nats::connect(url).await {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                !required(),
                "RIPOSTE_REQUIRE_NATS=1 but {url} is unreachable: {e}"
            );
            eprintln!("skipping: NATS at {url} is unreachable: {e}");
            None
        }
    }
}

/// A uniquely named stream on `prefix.>`, deleted when dropped.
struct TestStream {
    url: String,
    name: String,
    prefix: String,
    js: jetstream::Context,
}

impl TestStream {
    /// Names a stream without creating it.
    async fn named(url: &str) -> Option<Self> {
        let client = connect(url).await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        Some(Self {
            url: url.to_owned(),
            name: format!("RIPOSTE_TEST_{id}"),
            prefix: format!("riposte.test.{id}"),
            js: jetstream::new(client),
        })
    }

    async fn create(url: &str) -> Option<Self> {
        let s = Self::named(url).await?;
        s.create_stream().await;
        Some(s)
    }

    async fn create_stream(&self) {
        self.js
            .create_stream(stream::Config {
                name: self.name.clone(),
                subjects: vec![format!("{}.>", self.prefix)],
                max_age: Duration::from_secs(3600),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    fn subject(&self, leaf: &str) -> String {
        format!("{}.{leaf}", self.prefix)
    }

    /// Publishes in order and returns each message's stream sequence.
    async fn publish(&self, leaf: &str, payloads: Vec<Vec<u8>>) -> Vec<u64> {
        let subject = self.subject(leaf);
        let mut acks = Vec::with_capacity(payloads.len());
        for p in payloads {
            acks.push(self.js.publish(subject.clone(), p.into()).await.unwrap());
        }
        let mut seqs = Vec::with_capacity(acks.len());
        for a in acks {
            seqs.push(a.await.unwrap().sequence);
        }
        seqs
    }

    async fn consumer_info(&self, consumer: &str) -> consumer::Info {
        let stream = self.js.get_stream(&self.name).await.unwrap();
        stream.consumer_info(consumer).await.unwrap()
    }

    /// A durable pull consumer on the `auth` subject, as an operator or an
    /// earlier run of the source would have left it.
    async fn create_consumer(
        &self,
        name: &str,
        ack_policy: consumer::AckPolicy,
        ack_wait: Duration,
    ) -> consumer::PullConsumer {
        let stream = self.js.get_stream(&self.name).await.unwrap();
        stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name.to_owned()),
                ack_policy,
                ack_wait,
                filter_subject: self.subject("auth"),
                ..Default::default()
            })
            .await
            .unwrap()
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Async work cannot run in drop; a thread of its own can.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(c) = async_nats::connect(url.as_str()).await {
                    let _ = jetstream::new(c).delete_stream(&name).await;
                }
            });
        })
        .join();
    }
}

/// A pipeline over a fresh SQLite store, without rules.
struct Riposte {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    handle: PipelineHandle,
    task: JoinHandle<Engine>,
}

async fn riposte() -> Riposte {
    // The source's logs, shown for a failing test (RUST_LOG to filter).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "riposte_engine=debug".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "version: 1\nstore: sqlite://{}\n",
        dir.path().join("riposte.db").display()
    );
    let config = Config::parse("riposte.yaml", &text, dir.path()).unwrap();
    let engine = build_engine(&config, Arc::new(SystemClock)).await.unwrap();
    let store = engine.store().clone();
    let (handle, task) = pipeline::spawn(engine, 4);
    Riposte {
        _dir: dir,
        store,
        handle,
        task,
    }
}

impl Riposte {
    fn start(
        &self,
        src: NatsSource,
        limits: IngestLimits,
    ) -> (watch::Sender<bool>, JoinHandle<Result<(), SourceError>>) {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_nats_source(
            src,
            SourceCtx {
                limits,
                store: self.store.clone(),
                clock: Arc::new(SystemClock),
                pipeline: self.handle.clone(),
                shutdown: stop_rx,
            },
        ));
        (stop, task)
    }

    async fn wait_for_checkpoint(&self, name: &str, seq: u64) {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let cp = self.store.checkpoint(name).await.unwrap().map(|c| c.offset);
            if cp == Some(seq) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "checkpoint stuck at {cp:?}, waiting for {seq}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The stream sequences of the stored events, sorted, duplicates kept.
    async fn event_offsets(&self, name: &str) -> Vec<u64> {
        let mut offsets: Vec<u64> = self
            .store
            .list_events_by_source(name, 1_000_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                let origin = e.origin.expect("events keep their origin");
                assert_eq!(origin.source, name);
                origin.offset
            })
            .collect();
        offsets.sort_unstable();
        offsets
    }

    /// Commits records as an earlier run of the source would have.
    async fn commit(&self, name: &str, lines: &[(u64, Vec<u8>)], checkpoint: u64) {
        let lines: Vec<Line> = lines
            .iter()
            .map(|(seq, bytes)| Line {
                offset: *seq,
                bytes: bytes.clone(),
                truncated_from: None,
            })
            .collect();
        let mut decoder = Decoder::new(Format::Syslog, &DecodeOptions::default());
        let batch = decoder.decode_batch(
            &lines,
            &DecodeCtx {
                source: name,
                now: SystemClock.now(),
            },
        );
        let summary = self
            .handle
            .submit(batch, Some((name.to_owned(), checkpoint.into())))
            .await
            .unwrap();
        assert_eq!(summary.events, lines.len() as u64);
    }

    async fn finish(self) -> Arc<dyn Store> {
        drop(self.handle);
        tokio::time::timeout(HANG_GUARD, self.task)
            .await
            .unwrap()
            .unwrap();
        self.store
    }
}

async fn stop(stop: watch::Sender<bool>, task: JoinHandle<Result<(), SourceError>>) {
    stop.send(true).unwrap();
    let result = tokio::time::timeout(HANG_GUARD, task)
        .await
        .expect("the source stops on shutdown")
        .unwrap();
    assert!(result.is_ok(), "source failed: {result:?}");
}

fn source(s: &TestStream, name: &str, consumer: &str) -> NatsSource {
    NatsSource {
        name: name.to_owned(),
        url: s.url.clone(),
        stream: s.name.clone(),
        subject: Some(s.subject("auth")),
        consumer: consumer.to_owned(),
        format: Format::Syslog,
        decode: riposte_ingest::DecodeOptions::default(),
    }
}

fn limits(batch_lines: usize) -> IngestLimits {
    IngestLimits {
        max_line_bytes: 4096,
        batch_lines,
        poll_interval: Duration::from_millis(100),
    }
}

fn sshd(i: usize) -> Vec<u8> {
    format!(
        "Mar 14 09:{:02}:{:02} web{} sshd[{}]: Failed password for invalid user u{i} from 198.51.100.{} port {} ssh2",
        (i / 60) % 60,
        i % 60,
        i % 3,
        1000 + i,
        i % 250 + 1,
        30000 + i
    )
    .into_bytes()
}

/// Waits until the consumer has nothing pending and nothing unacknowledged.
async fn wait_settled(s: &TestStream, consumer: &str) -> consumer::Info {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let info = s.consumer_info(consumer).await;
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer not settled: {} pending, {} unacknowledged",
            info.num_pending,
            info.num_ack_pending
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_is_ingested_exactly_with_its_dead_letters_and_acknowledged() {
    let Some(url) = nats_url() else { return };
    let Some(s) = TestStream::create(&url).await else {
        return;
    };
    let r = riposte().await;
    let name = "nats-auth";

    // 2,000 records on the source's subject, among them bad ones; messages
    // on another subject of the same stream interleaved, to be filtered out.
    let oversized = {
        let mut p = sshd(1234);
        p.extend(std::iter::repeat_n(b'x', 10_000));
        p
    };
    let mut expected_events = Vec::new();
    let mut expected_dead = Vec::new();
    let mut ignored = 0;
    for i in 0..2000 {
        let (payload, outcome) = if i == 1234 {
            let reason = format!(
                "record of {} bytes exceeds the limit of 4096 bytes",
                oversized.len()
            );
            (oversized.clone(), Err(reason))
        } else if i == 500 {
            (Vec::new(), Ok(false))
        } else if i % 97 == 13 {
            let mut p = b"Mar 14 09:00:00 h sshd[1]: Failed password for ".to_vec();
            let at = p.len();
            p.extend_from_slice(b"\xff\xfe from 203.0.113.9 port 22 ssh2");
            (p, Err(format!("invalid UTF-8 at byte {at}")))
        } else if i % 89 == 7 {
            let p = format!("<999>this is not syslog {i}");
            let reason = format!("not a syslog line: invalid priority {p:?}");
            (p.into_bytes(), Err(reason))
        } else {
            (sshd(i), Ok(true))
        };
        let seq = s.publish("auth", vec![payload]).await[0];
        match outcome {
            Ok(true) => expected_events.push(seq),
            Ok(false) => ignored += 1,
            Err(reason) => expected_dead.push((seq, reason)),
        }
        if i % 10 == 0 {
            s.publish("other", vec![sshd(i)]).await;
        }
    }
    let last = s.publish("auth", vec![sshd(2000)]).await[0];
    expected_events.push(last);
    assert_eq!(
        (expected_events.len(), expected_dead.len(), ignored),
        (1955, 45, 1)
    );

    let (stop_tx, task) = r.start(source(&s, name, "riposte-auth"), limits(256));
    r.wait_for_checkpoint(name, last).await;
    stop(stop_tx, task).await;

    assert_eq!(r.event_offsets(name).await, expected_events);
    let events = r.store.list_events_by_source(name, 10_000).await.unwrap();
    assert!(events.iter().all(|e| e.dataset == "sshd"));
    let newest = events
        .iter()
        .find(|e| e.origin.as_ref().unwrap().offset == last);
    assert_eq!(
        newest.unwrap().original.as_deref().map(str::as_bytes),
        Some(sshd(2000).as_slice())
    );
    let mut dead: Vec<(u64, String)> = r
        .store
        .list_dead_letters(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            assert_eq!((d.source.as_str(), d.format.as_str()), (name, "syslog"));
            (d.offset.unwrap(), d.reason)
        })
        .collect();
    dead.sort();
    assert_eq!(dead, expected_dead);
    assert_eq!(r.store.checkpoint(name).await.unwrap(), Some(last.into()));

    // The source created the consumer and acknowledged everything.
    let info = s.consumer_info("riposte-auth").await;
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
    assert_eq!(info.delivered.stream_sequence, last);
    assert_eq!(info.ack_floor.stream_sequence, last);
    assert_eq!(info.config.ack_policy, consumer::AckPolicy::All);
    assert_eq!(info.config.filter_subject, s.subject("auth"));
    assert_eq!(info.config.durable_name.as_deref(), Some("riposte-auth"));
    r.finish().await;
}

/// A run stopped after fetching 300 messages and committing the first 120
/// (ack policy explicit, so acknowledged one by one):
/// 121..300 are pending on the server, to be redelivered only after the
/// ack wait (30 s) — after newer messages. The source must process them
/// before anything newer, or committing the newer ones would skip them.
#[tokio::test]
async fn messages_delivered_but_not_committed_before_a_crash_are_processed_in_order() {
    let Some(url) = nats_url() else { return };
    let Some(s) = TestStream::create(&url).await else {
        return;
    };
    let r = riposte().await;
    let name = "nats-crash";
    let consumer = s
        .create_consumer(
            "riposte-crash",
            consumer::AckPolicy::Explicit,
            Duration::from_secs(30),
        )
        .await;

    let payloads: Vec<Vec<u8>> = (0..300).map(sshd).collect();
    let seqs = s.publish("auth", payloads.clone()).await;
    let mut fetched = consumer
        .batch()
        .max_messages(300)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let mut delivered = Vec::new();
    while let Some(m) = fetched.next().await {
        delivered.push(m.unwrap().info().unwrap().stream_sequence);
    }
    assert_eq!(delivered, seqs);
    let committed: Vec<(u64, Vec<u8>)> = seqs.iter().copied().zip(payloads).take(120).collect();
    r.commit(name, &committed, seqs[119]).await;
    // Not acknowledged: the run "crashed" here. New messages keep coming.
    let newer = s.publish("auth", (300..400).map(sshd).collect()).await;
    let info = s.consumer_info("riposte-crash").await;
    assert_eq!(
        (info.num_ack_pending, info.num_pending),
        (300, 100),
        "{info:?}"
    );

    let (stop_tx, task) = r.start(source(&s, name, "riposte-crash"), limits(64));
    r.wait_for_checkpoint(name, newer[99]).await;
    stop(stop_tx, task).await;

    let all: Vec<u64> = seqs.iter().chain(&newer).copied().collect();
    assert_eq!(
        r.event_offsets(name).await,
        all,
        "each message exactly once"
    );
    let info = wait_settled(&s, "riposte-crash").await;
    assert_eq!(info.ack_floor.stream_sequence, newer[99]);
    // Reset to the checkpoint with the operator's settings kept: every
    // message acknowledged one by one.
    assert_eq!(
        (
            info.config.deliver_policy,
            info.config.ack_policy,
            info.config.ack_wait
        ),
        (
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: seqs[120]
            },
            consumer::AckPolicy::Explicit,
            Duration::from_secs(30)
        )
    );
    r.finish().await;
}

/// A run committed 200 messages with their checkpoint and stopped before
/// acknowledging them: the server redelivers them (ack wait 1 s here), and
/// the source must acknowledge them without processing them again.
#[tokio::test]
async fn messages_committed_but_not_acknowledged_are_acknowledged_and_skipped() {
    let Some(url) = nats_url() else { return };
    let Some(s) = TestStream::create(&url).await else {
        return;
    };
    let r = riposte().await;
    let name = "nats-unacked";
    let consumer = s
        .create_consumer(
            "riposte-unacked",
            consumer::AckPolicy::All,
            Duration::from_secs(1),
        )
        .await;

    let payloads: Vec<Vec<u8>> = (0..200).map(sshd).collect();
    let seqs = s.publish("auth", payloads.clone()).await;
    let mut fetched = consumer
        .batch()
        .max_messages(200)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let mut delivered = 0;
    while let Some(m) = fetched.next().await {
        m.unwrap();
        delivered += 1;
    }
    assert_eq!(delivered, 200);
    let committed: Vec<(u64, Vec<u8>)> = seqs.iter().copied().zip(payloads).collect();
    r.commit(name, &committed, seqs[199]).await;
    assert_eq!(
        s.consumer_info("riposte-unacked").await.num_ack_pending,
        200
    );

    // Nothing newer yet: the first deliveries the source gets are the
    // redeliveries, once the ack wait has passed.
    let (stop_tx, task) = r.start(source(&s, name, "riposte-unacked"), limits(64));
    let info = wait_settled(&s, "riposte-unacked").await;
    assert_eq!(info.ack_floor.stream_sequence, seqs[199]);
    assert!(
        info.delivered.consumer_sequence > 200,
        "the source got the redeliveries: {info:?}"
    );
    assert_eq!(r.event_offsets(name).await, seqs, "nothing processed twice");

    let newer = s.publish("auth", (200..250).map(sshd).collect()).await;
    r.wait_for_checkpoint(name, newer[49]).await;
    stop(stop_tx, task).await;

    let all: Vec<u64> = seqs.iter().chain(&newer).copied().collect();
    assert_eq!(
        r.event_offsets(name).await,
        all,
        "each message exactly once"
    );
    wait_settled(&s, "riposte-unacked").await;
    r.finish().await;
}

/// Shutdown interrupts the wait for messages: with a poll interval of ten
/// minutes the pull request would otherwise outlive the hang guard.
#[tokio::test]
async fn shutdown_stops_the_source_while_it_waits_for_messages() {
    let Some(url) = nats_url() else { return };
    let Some(s) = TestStream::create(&url).await else {
        return;
    };
    let r = riposte().await;
    let limits = IngestLimits {
        poll_interval: Duration::from_secs(600),
        ..limits(100)
    };
    let (stop_tx, task) = r.start(source(&s, "nats-idle", "riposte-idle"), limits);
    // The source is waiting once its pull request is registered.
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let stream = s.js.get_stream(&s.name).await.unwrap();
        if let Ok(info) = stream.consumer_info("riposte-idle").await
            && info.num_waiting == 1
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pull request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(stop_tx, task).await;
    assert_eq!(r.store.checkpoint("nats-idle").await.unwrap(), None);
    r.finish().await;
}

/// Operators own streams: a missing one is waited for, never created.
#[tokio::test]
async fn a_missing_stream_is_waited_for_and_not_created() {
    let Some(url) = nats_url() else { return };
    let Some(s) = TestStream::named(&url).await else {
        return;
    };
    let r = riposte().await;
    let name = "nats-late";
    let (stop_tx, task) = r.start(source(&s, name, "riposte-late"), limits(100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.js.get_stream(&s.name).await.is_err(),
        "the source must not create the stream"
    );
    assert!(!task.is_finished(), "the source keeps retrying");

    s.create_stream().await;
    let seqs = s.publish("auth", (0..10).map(sshd).collect()).await;
    r.wait_for_checkpoint(name, seqs[9]).await;
    stop(stop_tx, task).await;
    assert_eq!(r.event_offsets(name).await, seqs);
    r.finish().await;
}

/// A private nats-server on a free loopback port, killed and restarted to
/// test reconnection.
struct PrivateServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// The nats-server binary: RIPOSTE_TEST_NATS_SERVER, else from PATH.
fn nats_server() -> String {
    std::env::var("RIPOSTE_TEST_NATS_SERVER").unwrap_or_else(|_| "nats-server".to_owned())
}

impl PrivateServer {
    fn start() -> Option<Self> {
        let found = Command::new(nats_server())
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                !required(),
                "RIPOSTE_REQUIRE_NATS=1 but nats-server is not installed"
            );
            eprintln!("skipping: nats-server is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.spawn();
        Some(server)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(nats_server())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = std::time::Instant::now() + HANG_GUARD;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn publish_retrying(s: &TestStream, payloads: Vec<Vec<u8>>) -> Vec<u64> {
    let subject = s.subject("auth");
    let mut seqs = Vec::new();
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    for p in payloads {
        loop {
            let sent = s.js.publish(subject.clone(), p.clone().into()).await;
            if let Ok(ack) = sent
                && let Ok(ack) = ack.await
            {
                seqs.push(ack.sequence);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "cannot publish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    seqs
}

/// The server dies and comes back (same storage): the source reconnects
/// and carries on, and every message is stored exactly once.
#[tokio::test]
async fn the_source_reconnects_after_the_server_restarts() {
    // The shared server must be configured for this run to be required.
    if nats_url().is_none() {
        return;
    }
    let Some(mut server) = PrivateServer::start() else {
        return;
    };
    let Some(s) = TestStream::create(&server.url()).await else {
        return;
    };
    let r = riposte().await;
    let name = "nats-restart";
    let first = s.publish("auth", (0..200).map(sshd).collect()).await;
    let (stop_tx, task) = r.start(source(&s, name, "riposte-restart"), limits(50));
    r.wait_for_checkpoint(name, first[199]).await;

    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "the source outlives the connection");
    server.spawn();
    let second = publish_retrying(&s, (200..400).map(sshd).collect()).await;
    r.wait_for_checkpoint(name, second[199]).await;
    stop(stop_tx, task).await;

    let all: Vec<u64> = first.iter().chain(&second).copied().collect();
    assert_eq!(
        r.event_offsets(name).await,
        all,
        "each message exactly once"
    );
    wait_settled(&s, "riposte-restart").await;
    r.finish().await;
    drop(s);
    drop(server);
}
