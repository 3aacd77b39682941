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
//!
//! A webhook URL's path and query are often its credential (Slack's
//! `/services/T…/B…/<secret>`, `?token=`), and its userinfo always is: the
//! enforcer's name, its errors, plans and logs show the URL's origin only
//! (`scheme://host[:port]`, [`url_origin`]).

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
    /// Log what would be sent; POST nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Posts decisions to a URL; see the module documentation.
#[derive(Clone)]
pub struct WebhookEnforcer {
    url: String,
    /// What names and messages show of `url`.
    origin: String,
    secret: Option<Vec<u8>>,
    kinds: Vec<DecisionKind>,
    timeout: Duration,
    dry_run: bool,
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
            origin: url_origin(&config.url),
            secret,
            kinds: config.kinds.clone(),
            timeout: config.timeout,
            dry_run: config.dry_run,
            sent: Arc::new(Mutex::new(None)),
        }
    }

    /// `webhook:scheme://host[:port]`: never the path, query or userinfo.
    pub fn name(&self) -> String {
        format!("webhook:{}", self.origin)
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// What the next POST would carry, or `None` when nothing changed.
    fn next_body(
        &self,
        want: &BTreeMap<DecisionId, Decision>,
        sent: Option<&BTreeMap<DecisionId, Decision>>,
        now: Timestamp,
    ) -> Option<serde_json::Value> {
        let sent_at = now.to_rfc3339();
        let Some(prev) = sent else {
            return Some(serde_json::json!({
                "type": "snapshot", "sent_at": sent_at,
                "decisions": want.values().collect::<Vec<_>>(),
            }));
        };
        // New decisions, and sent ones whose expiry changed (an extension,
        // an approval): the receiver upserts them by id, so it never ends
        // a decision at the time it was first sent with.
        let added: Vec<&Decision> = want
            .iter()
            .filter(|(id, d)| prev.get(id).is_none_or(|p| p.expires_at != d.expires_at))
            .map(|(_, d)| d)
            .collect();
        let removed: Vec<&Decision> = prev
            .iter()
            .filter(|(id, _)| !want.contains_key(id))
            .map(|(_, d)| d)
            .collect();
        if added.is_empty() && removed.is_empty() {
            return None;
        }
        Some(serde_json::json!({
            "type": "delta", "sent_at": sent_at, "added": added, "removed": removed,
        }))
    }

    fn wanted(&self, effective: &[Decision]) -> BTreeMap<DecisionId, Decision> {
        effective
            .iter()
            .filter(|d| self.kinds.is_empty() || self.kinds.contains(&d.kind))
            .map(|d| (d.id, d.clone()))
            .collect()
    }

    /// The next POST, summarised: a snapshot's size, or a delta's added
    /// and removed decisions (`+`/`-` kind scope value).
    pub fn plan(&self, effective: &[Decision]) -> std::io::Result<String> {
        let want = self.wanted(effective);
        let sent = self
            .sent
            .lock()
            .map_err(|_| std::io::Error::other("webhook state poisoned"))?;
        let line = |sign: char, d: &serde_json::Value| {
            format!(
                "{sign} {} {} {}\n",
                d["kind"].as_str().unwrap_or(""),
                d["scope"].as_str().unwrap_or(""),
                d["value"].as_str().unwrap_or("")
            )
        };
        Ok(
            match self.next_body(&want, sent.as_ref(), Timestamp::default()) {
                None => String::new(),
                Some(body) if body["type"] == "snapshot" => {
                    format!(
                        "POST {}: snapshot of {} decisions\n",
                        self.origin,
                        want.len()
                    )
                }
                Some(body) => {
                    let mut out = format!("POST {}: delta\n", self.origin);
                    for (key, sign) in [("added", '+'), ("removed", '-')] {
                        for d in body[key].as_array().into_iter().flatten() {
                            out.push_str(&line(sign, d));
                        }
                    }
                    out
                }
            },
        )
    }

    /// Blocking: run it off the async executor (reconciliation does).
    pub fn apply(&self, effective: &[Decision], now: Timestamp) -> std::io::Result<()> {
        if self.dry_run {
            let plan = self.plan(effective)?;
            if !plan.is_empty() {
                tracing::info!(enforcer = %self.name(), plan = %plan.trim_end(),
                    "dry run: webhook not sent");
            }
            return Ok(());
        }
        let want = self.wanted(effective);
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| std::io::Error::other("webhook state poisoned"))?;
        let Some(body) = self.next_body(&want, sent.as_ref(), now) else {
            return Ok(());
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
            // reqwest's message names the URL; its causes (connect,
            // TLS, timeout) say what went wrong.
            let e = e.without_url();
            let mut message = format!("POST {}: {e}", self.origin);
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(": ");
                message.push_str(&c.to_string());
                cause = c.source();
            }
            std::io::Error::new(kind, self.scrub(message))
        })?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "POST {} answered {status}",
                self.origin
            )))
        }
    }

    /// The URL replaced by its origin wherever a message still quotes it.
    fn scrub(&self, message: String) -> String {
        if self.url.len() > self.origin.len() && message.contains(&self.url) {
            message.replace(&self.url, &self.origin)
        } else {
            message
        }
    }
}

/// Neither the URL (path and query) nor the secret.
impl std::fmt::Debug for WebhookEnforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEnforcer")
            .field("origin", &self.origin)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("kinds", &self.kinds)
            .field("timeout", &self.timeout)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]` of `url` (the port only when not the scheme's
/// default): what may be shown of a URL whose path, query or userinfo may
/// hold a credential. Text that does not parse as a URL with a host is cut
/// the same way by hand.
pub fn url_origin(url: &str) -> String {
    if let Ok(parsed) = reqwest::Url::parse(url)
        && parsed.has_host()
    {
        return parsed.origin().ascii_serialization();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
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
