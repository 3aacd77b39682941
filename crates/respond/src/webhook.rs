//! A webhook enforcer: the effective decisions, as JSON POSTs signed with
//! HMAC-SHA256, for connectors (account lockout, EDR host isolation, a
//! firewall manager) that Riposte has no dedicated enforcer for.
//!
//! The first apply (and the first after a failed one) sends a snapshot of
//! every effective decision; later ones send what was added and removed
//! since the last successful POST, and nothing when nothing changed:
//!
//! ```json
//! {"type": "snapshot", "sent_at": "…", "decisions": [ … ]}
//! {"type": "delta", "sent_at": "…", "added": [ … ], "removed": [ … ]}
//! ```
//!
//! Each POST carries `X-Riposte-Timestamp` (Unix seconds) and, with a
//! secret, `X-Riposte-Signature: sha256=<hex HMAC-SHA256 of
//! "<timestamp>.<body>">`, so a receiver can check origin and freshness.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use riposte_model::{Decision, DecisionId, DecisionKind, Timestamp};
use serde::Deserialize;
use sha2::Sha256;

/// `enforcers: [{type: webhook, …}]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Which kinds to send (default: every kind).
    #[serde(default)]
    pub kinds: Vec<DecisionKind>,
    #[serde(default = "default_timeout", with = "crate::enforcer::std_duration")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Posts decisions to a URL; see the module documentation.
#[derive(Clone, Debug)]
pub struct WebhookEnforcer {
    url: String,
    secret: Option<Vec<u8>>,
    kinds: Vec<DecisionKind>,
    timeout: Duration,
    /// What the receiver has, as of the last successful POST; `None`
    /// until then (and after a failure), which makes the next POST a
    /// snapshot.
    sent: Arc<Mutex<Option<BTreeMap<DecisionId, Decision>>>>,
}

impl WebhookEnforcer {
    /// The secret is read from `secret_env` now; a missing variable is
    /// reported by the configuration check before this is built.
    pub fn new(config: &WebhookConfig) -> Self {
        let secret = config
            .secret_env
            .as_ref()
            .and_then(|var| std::env::var(var).ok())
            .map(String::into_bytes);
        Self::with_secret(config, secret)
    }

    pub fn with_secret(config: &WebhookConfig, secret: Option<Vec<u8>>) -> Self {
        Self {
            url: config.url.clone(),
            secret,
            kinds: config.kinds.clone(),
            timeout: config.timeout,
            sent: Arc::new(Mutex::new(None)),
        }
    }

    pub fn name(&self) -> String {
        format!("webhook:{}", self.url)
    }

    /// Blocking: run it off the async executor (reconciliation does).
    pub fn apply(&self, effective: &[Decision], now: Timestamp) -> std::io::Result<()> {
        let want: BTreeMap<DecisionId, Decision> = effective
            .iter()
            .filter(|d| self.kinds.is_empty() || self.kinds.contains(&d.kind))
            .map(|d| (d.id, d.clone()))
            .collect();
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| std::io::Error::other("webhook state poisoned"))?;
        let sent_at = now.to_rfc3339();
        let body = match sent.as_ref() {
            None => serde_json::json!({
                "type": "snapshot", "sent_at": sent_at,
                "decisions": want.values().collect::<Vec<_>>(),
            }),
            Some(prev) => {
                let added: Vec<&Decision> = want
                    .iter()
                    .filter(|(id, _)| !prev.contains_key(id))
                    .map(|(_, d)| d)
                    .collect();
                let removed: Vec<&Decision> = prev
                    .iter()
                    .filter(|(id, _)| !want.contains_key(id))
                    .map(|(_, d)| d)
                    .collect();
                if added.is_empty() && removed.is_empty() {
                    return Ok(());
                }
                serde_json::json!({
                    "type": "delta", "sent_at": sent_at, "added": added, "removed": removed,
                })
            }
        };
        let body = serde_json::to_vec(&body).map_err(std::io::Error::other)?;
        match self.post(body, now) {
            Ok(()) => {
                *sent = Some(want);
                Ok(())
            }
            Err(e) => {
                // The receiver's state is unknown now: start over with a
                // snapshot next time.
                *sent = None;
                Err(e)
            }
        }
    }

    fn post(&self, body: Vec<u8>, now: Timestamp) -> std::io::Result<()> {
        let timestamp = now.timestamp().to_string();
        let client = reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(std::io::Error::other)?;
        let mut req = client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Riposte-Timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            req = req.header("X-Riposte-Signature", signature(secret, &timestamp, &body));
        }
        let resp = req.body(body).send().map_err(|e| {
            let kind = if e.is_timeout() {
                std::io::ErrorKind::TimedOut
            } else {
                std::io::ErrorKind::Other
            };
            std::io::Error::new(kind, format!("POST {}: {e}", self.url))
        })?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "POST {} answered {status}",
                self.url
            )))
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
