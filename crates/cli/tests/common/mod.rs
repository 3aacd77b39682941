//! What the tests that run `riposte serve` as a process share: a serve
//! process killed on drop, bounded polls of its API, and posting syslog.
//!
//! Every wait is a bounded poll (a fixed number of attempts with short
//! sleeps) that fails with a message naming what it waited for; no assertion
//! depends on how fast the machine is.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_riposte");

/// Total bound of every wait: attempts × sleep = 60 s.
pub const POLL_SLEEP: Duration = Duration::from_millis(20);
pub const POLL_ATTEMPTS: u32 = 3_000;

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().unwrap().port()
}

/// An HTTP client whose requests cannot hang a test: each is bounded too.
/// It authenticates as the fixture admin ([`seed_identities`]).
pub fn client() -> reqwest::Client {
    client_as(riposte_testkit::identity::ADMIN)
}

/// [`client`] with another fixture key.
pub fn client_as(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A client without credentials.
pub fn anonymous_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The fixture users and keys (`riposte_testkit::identity`) in the store
/// `config` names, hashed under its `auth.secret_file` (created if absent,
/// as `serve` would); once per store.
pub fn seed_identities(config: &Path) {
    let Ok(cfg) = riposte_service::Config::load(config) else {
        return; // the test means `serve` to refuse this config
    };
    std::thread::spawn(move || {
        riposte_store::create_private_dir(&cfg.data_dir).unwrap();
        if let Some(parent) = cfg.auth.secret_file.parent() {
            riposte_store::create_private_dir(parent).unwrap();
        }
        let secret = riposte_auth::ServerSecret::load_or_create(&cfg.auth.secret_file).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = riposte_store::open(&cfg.store_url).await.unwrap();
            riposte_testkit::identity::seed_once(store.as_ref(), &secret).await;
        });
    })
    .join()
    .unwrap();
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("riposte.db").display())
}

/// Writes `dir/riposte.yaml`: version 1, the SQLite store in `dir`, the API
/// on 127.0.0.1:`port`, then `rest` (more top-level keys, one per line).
pub fn write_config(dir: &Path, port: u16, rest: &str) -> PathBuf {
    let config = dir.join("riposte.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\nstore: {}\napi: {{ listen: 127.0.0.1:{port} }}\n{rest}",
            sqlite_url(dir)
        ),
    )
    .unwrap();
    config
}

/// A running `riposte serve`; killed (SIGKILL) on drop if still running, so
/// a failing test leaves no process behind.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub stderr_path: PathBuf,
}

impl Serve {
    pub fn start(config: &Path, port: u16, label: &str) -> Serve {
        seed_identities(config);
        let dir = config.parent().unwrap();
        let stderr_path = dir.join(format!("{label}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RIPOSTE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawning riposte serve");
        Serve {
            child,
            port,
            stderr_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Panics (with the server's log) if the process has exited.
    pub fn assert_running(&mut self, waiting_for: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "riposte serve exited ({status}) while waiting for {waiting_for}; its stderr:\n{}",
                self.stderr()
            );
        }
    }

    /// Polls `/api/v1/status` until `done(counts)` holds; returns those counts.
    pub async fn wait_health(
        &mut self,
        client: &reqwest::Client,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = None;
        for _ in 0..POLL_ATTEMPTS {
            self.assert_running(what);
            if let Ok(resp) = client.get(self.url("/api/v1/status")).send().await
                && resp.status() == reqwest::StatusCode::OK
            {
                let body: Value = resp.json().await.expect("status body is JSON");
                assert_eq!(body["status"], "ok", "{body}");
                let counts = body["counts"].clone();
                if done(&counts) {
                    return counts;
                }
                last = Some(counts);
            }
            tokio::time::sleep(POLL_SLEEP).await;
        }
        panic!(
            "gave up after {:?} waiting for {what}; last status counts: {last:?}; stderr:\n{}",
            POLL_SLEEP * POLL_ATTEMPTS,
            self.stderr()
        );
    }

    /// Polls the unauthenticated `/api/v1/health` until it answers 200.
    pub async fn wait_up(&mut self, _client: &reqwest::Client) {
        let anonymous = anonymous_client();
        for _ in 0..POLL_ATTEMPTS {
            self.assert_running("the API to answer");
            if let Ok(resp) = anonymous.get(self.url("/api/v1/health")).send().await
                && resp.status() == reqwest::StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(POLL_SLEEP).await;
        }
        panic!(
            "gave up after {:?} waiting for the API to answer; stderr:\n{}",
            POLL_SLEEP * POLL_ATTEMPTS,
            self.stderr()
        );
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    pub fn sigkill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap()
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, what: &str) -> ExitStatus {
        for _ in 0..POLL_ATTEMPTS {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(POLL_SLEEP).await;
        }
        panic!(
            "riposte serve did not exit within {:?} after {what}; stderr:\n{}",
            POLL_SLEEP * POLL_ATTEMPTS,
            self.stderr()
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn syslog_lines(n: usize, ip: &str, first_pid: usize) -> Vec<String> {
    let start = Utc::now() - TimeDelta::seconds(20);
    (0..n)
        .map(|i| {
            let ts = (start + TimeDelta::seconds(i as i64 * 2)).format("%b %e %H:%M:%S");
            format!(
                "{ts} bastion sshd[{}]: Failed password for root from {ip} port {} ssh2",
                first_pid + i,
                40000 + i
            )
        })
        .collect()
}

pub async fn post_syslog(client: &reqwest::Client, serve: &Serve, lines: &[String]) -> Value {
    let resp = client
        .post(serve.url("/api/v1/events?format=syslog"))
        .json(&lines)
        .send()
        .await
        .expect("POST /api/v1/events");
    let status = resp.status();
    let body: Value = resp.json().await.expect("events answer is JSON");
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body
}
