#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

//! Syslog over UDP and TCP into a real store, through real loopback sockets.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use riposte_engine::listener::{self, AllowFrom, NetSource, TcpLimits};
use riposte_engine::{Engine, IngestLimits, pipeline};
use riposte_ingest::{DecodeOptions, Format};
use riposte_model::{Clock, ManualClock};
use riposte_store::Store;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

fn limits() -> IngestLimits {
    IngestLimits {
        max_line_bytes: 300,
        batch_lines: 50,
        poll_interval: Duration::from_millis(20),
    }
}

async fn engine() -> (Arc<dyn Store>, Arc<dyn Clock>, Engine) {
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
    ));
    let engine = common::bare_engine(store.clone(), clock.clone());
    (store, clock, engine)
}

fn net(name: &str) -> NetSource {
    NetSource {
        name: name.into(),
        format: Format::Syslog,
        decode: DecodeOptions::default(),
        limits: limits(),
        allow_from: AllowFrom::default(),
        stats: Default::default(),
    }
}

/// Polls the store until `want` events and dead letters are there (the
/// sockets deliver asynchronously); the deadline only guards against a hang.
async fn wait_for(store: &Arc<dyn Store>, events: u64, dead: u64) {
    for _ in 0..3000 {
        let c = store.counts().await.unwrap();
        if c.events >= events && c.dead_letters >= dead {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sshd(i: usize) -> String {
    format!(
        "<38>Mar 14 09:27:{:02} bastion sshd[2303]: Failed password for root from 203.0.113.{} port 52230 ssh2",
        i % 60,
        i % 250 + 1
    )
}

#[tokio::test]
async fn tcp_octet_counted_and_newline_frames_are_all_stored() {
    let (store, clock, engine) = engine().await;
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let tcp = listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = tcp.local_addr().unwrap();
    let source = tokio::spawn(listener::run_tcp(
        net("tcp"),
        tcp,
        TcpLimits::default(),
        clock,
        handle,
        stop,
    ));

    // One connection octet-counted, one newline-framed with CRLF, each with
    // an oversized record and a non-syslog one in the middle.
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = format!("<38>Mar 14 09:27:01 h app: {}", "x".repeat(1000));
    let mut framed = Vec::new();
    let mut lines = Vec::new();
    for i in 0..200 {
        let msg = match i {
            50 => big.clone(),
            60 => "garbage without a header".to_owned(),
            _ => sshd(i),
        };
        framed.extend(format!("{} {}", msg.len(), msg).into_bytes());
        lines.extend(format!("{msg}\r\n").into_bytes());
    }
    // Written in awkward pieces, so frames straddle reads.
    for chunk in framed.chunks(777) {
        a.write_all(chunk).await.unwrap();
    }
    for chunk in lines.chunks(333) {
        b.write_all(chunk).await.unwrap();
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    wait_for(&store, 396, 4).await;
    stop_tx.send(true).unwrap();
    source.await.unwrap().unwrap();
    drop(task);

    let counts = store.counts().await.unwrap();
    assert_eq!((counts.events, counts.dead_letters), (396, 4));
    let mut reasons: Vec<String> = store
        .list_dead_letters(10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.reason)
        .collect();
    reasons.sort();
    let big_len = big.len();
    let garbage = "not a syslog line: expected \"<PRI>\" or a timestamp at the start, found \"garbage without a header\"".to_owned();
    assert_eq!(
        reasons,
        [
            garbage.clone(),
            garbage,
            format!("record of {big_len} bytes exceeds the limit of 300 bytes"),
            format!("record of {big_len} bytes exceeds the limit of 300 bytes"),
        ]
    );
    let events = store.list_events_by_source("tcp", 1000).await.unwrap();
    assert_eq!(events.len(), 396);
    assert!(events.iter().all(|e| e.dataset == "sshd"));
}

#[tokio::test]
async fn udp_datagrams_are_stored_one_message_each() {
    let (store, clock, engine) = engine().await;
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let socket = listener::bind_udp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let source = tokio::spawn(listener::run_udp(net("udp"), socket, clock, handle, stop));

    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..100 {
        client
            .send_to(format!("{}\n", sshd(i)).as_bytes(), addr)
            .await
            .unwrap();
        // Loopback drops nothing at this pace, but yield so the receiver
        // keeps up with the socket buffer.
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    client.send_to(b"\xff\xfe not utf-8", addr).await.unwrap();
    wait_for(&store, 100, 1).await;
    stop_tx.send(true).unwrap();
    source.await.unwrap().unwrap();
    drop(task);

    let counts = store.counts().await.unwrap();
    assert_eq!((counts.events, counts.dead_letters), (100, 1));
    let dl = &store.list_dead_letters(1).await.unwrap()[0];
    assert_eq!(dl.reason, "invalid UTF-8 at byte 0");
    assert_eq!(dl.offset, Some(100), "the 101st datagram");
}

/// A flood over four connections at once, with a 100 MB frame in the middle
/// of one: every message is stored or dead-lettered, memory stays bounded by
/// the record limit, and the listener keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_flood_with_a_100_mb_frame_loses_nothing() {
    let (store, clock, engine) = engine().await;
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let tcp = listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = tcp.local_addr().unwrap();
    let source = tokio::spawn(listener::run_tcp(
        net("flood"),
        tcp,
        TcpLimits::default(),
        clock,
        handle,
        stop,
    ));

    const PER_CONNECTION: usize = 5_000;
    let mut senders = Vec::new();
    for c in 0..4 {
        senders.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = Vec::new();
            for i in 0..PER_CONNECTION {
                buf.extend(sshd(c * PER_CONNECTION + i).into_bytes());
                buf.push(b'\n');
                if c == 0 && i == PER_CONNECTION / 2 {
                    buf.extend(std::iter::repeat_n(b'A', 100 << 20));
                    buf.push(b'\n');
                }
                if buf.len() > 1 << 20 {
                    s.write_all(&buf).await.unwrap();
                    buf.clear();
                }
            }
            s.write_all(&buf).await.unwrap();
            s.shutdown().await.unwrap();
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let total = 4 * PER_CONNECTION as u64;
    wait_for(&store, total, 1).await;
    stop_tx.send(true).unwrap();
    source.await.unwrap().unwrap();
    drop(task);

    let counts = store.counts().await.unwrap();
    assert_eq!((counts.events, counts.dead_letters), (total, 1));
    let dl = &store.list_dead_letters(1).await.unwrap()[0];
    assert_eq!(dl.raw_len, 100 << 20);
    assert_eq!(
        dl.reason,
        format!(
            "record of {} bytes exceeds the limit of 300 bytes",
            100 << 20
        )
    );
}

/// Polls `done` until it holds; the bound only guards against a hang.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..3000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Reads until the server closes the connection: EOF, or a reset if it
/// closed with our bytes unread. The bound only guards against a hang.
async fn closed_by_server(s: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
        .await
        .expect("the server did not close the connection");
    match r {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed, got {other:?}"),
    }
}

/// `max_connections` and `idle_timeout`: past the cap a connection is closed
/// at once (and counted); a connection idle past its timeout is closed and
/// its slot serves the next sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_cap_closes_extra_connections_and_idle_ones_free_their_slot() {
    let (store, clock, engine) = engine().await;
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let tcp = listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = tcp.local_addr().unwrap();
    let src = net("capped");
    let stats = src.stats.clone();
    let limits = TcpLimits {
        max_connections: 2,
        idle_timeout: Duration::from_millis(500),
    };
    let source = tokio::spawn(listener::run_tcp(src, tcp, limits, clock, handle, stop));
    let events = async || store.counts().await.unwrap().events;

    // Two senders hold both slots: each message stored proves it was taken.
    let mut held = Vec::new();
    for i in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{}\n", sshd(i)).as_bytes())
            .await
            .unwrap();
        until("a held connection's message", async || {
            events().await == i as u64 + 1
        })
        .await;
        held.push(s);
    }
    // Three more are closed at once, and counted.
    for _ in 0..3 {
        let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
        closed_by_server(&mut extra).await;
    }
    assert_eq!(stats.over_capacity.load(Ordering::Relaxed), 3);
    // The held ones go quiet and are closed by the idle timeout.
    for s in &mut held {
        closed_by_server(s).await;
    }
    until("both idle closes counted", async || {
        stats.idle_closed.load(Ordering::Relaxed) == 2
    })
    .await;
    // Their slots are free again: a new sender is served. (The slot is
    // released just after the close is sent, so a sender may still be
    // turned away once: it then reconnects, as a syslog daemon would.)
    let mut served = false;
    for attempt in 0..100 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{}\n", sshd(10 + attempt)).as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 1];
        tokio::select! {
            _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf) => continue,
            () = until("the message after the idle close", async || events().await == 3) => {
                served = true;
                break;
            }
        }
    }
    assert!(served, "no sender was served after the idle closes");
    stop_tx.send(true).unwrap();
    source.await.unwrap().unwrap();
    drop(task);
    assert_eq!(store.counts().await.unwrap().events, 3);
    assert_eq!(stats.refused_senders.load(Ordering::Relaxed), 0);
}

/// `allow_from`: datagrams and connections from other networks are dropped
/// unread and counted; from a listed network they are ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_from_drops_other_senders_and_admits_listed_ones() {
    let (store, clock, engine) = engine().await;
    let (handle, task) = pipeline::spawn(engine, 4);
    let (stop_tx, stop) = watch::channel(false);
    let only = |name: &str, net: &str| NetSource {
        allow_from: AllowFrom::new([net.parse().unwrap()]),
        ..self::net(name)
    };
    let mut sources = Vec::new();
    let mut udp_addrs = Vec::new();
    let mut tcp_addrs = Vec::new();
    let mut stats = Vec::new();
    for (name, allowed) in [("elsewhere", "10.0.0.0/8"), ("loopback", "127.0.0.0/8")] {
        let src = only(&format!("udp-{name}"), allowed);
        stats.push(src.stats.clone());
        let socket = listener::bind_udp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        udp_addrs.push(socket.local_addr().unwrap());
        sources.push(tokio::spawn(listener::run_udp(
            src,
            socket,
            clock.clone(),
            handle.clone(),
            stop.clone(),
        )));
        let src = only(&format!("tcp-{name}"), allowed);
        stats.push(src.stats.clone());
        let tcp = listener::bind_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        tcp_addrs.push(tcp.local_addr().unwrap());
        sources.push(tokio::spawn(listener::run_tcp(
            src,
            tcp,
            TcpLimits::default(),
            clock.clone(),
            handle.clone(),
            stop.clone(),
        )));
    }
    drop(handle);
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(sshd(1).as_bytes(), udp_addrs[0])
        .await
        .unwrap();
    let mut refused = tokio::net::TcpStream::connect(tcp_addrs[0]).await.unwrap();
    refused
        .write_all(format!("{}\n", sshd(2)).as_bytes())
        .await
        .unwrap();
    closed_by_server(&mut refused).await;
    until("the refused datagram counted", async || {
        stats[0].refused_senders.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(stats[1].refused_senders.load(Ordering::Relaxed), 1);

    client
        .send_to(sshd(3).as_bytes(), udp_addrs[1])
        .await
        .unwrap();
    let mut admitted = tokio::net::TcpStream::connect(tcp_addrs[1]).await.unwrap();
    admitted
        .write_all(format!("{}\n", sshd(4)).as_bytes())
        .await
        .unwrap();
    admitted.shutdown().await.unwrap();
    wait_for(&store, 2, 0).await;
    stop_tx.send(true).unwrap();
    for s in sources {
        s.await.unwrap().unwrap();
    }
    drop(task);

    for (source, want) in [
        ("udp-elsewhere", 0),
        ("tcp-elsewhere", 0),
        ("udp-loopback", 1),
        ("tcp-loopback", 1),
    ] {
        let got = store.list_events_by_source(source, 10).await.unwrap();
        assert_eq!(got.len(), want, "{source}");
    }
    assert_eq!(store.counts().await.unwrap().events, 2);
    let refused: Vec<u64> = stats
        .iter()
        .map(|s| s.refused_senders.load(Ordering::Relaxed))
        .collect();
    assert_eq!(refused, [1, 1, 0, 0]);
}
