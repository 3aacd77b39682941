//! The playbook actions whose effects land outside Riposte (mail, webhooks,
//! chat, HTTP APIs, Jira tickets, local programs) and the read-only
//! enrichment actions (GeoIP/ASN, reverse DNS), as one [`Actions`] that the
//! engine's executor calls through [`riposte_playbooks::Effects`].
//!
//! Every input may carry attacker-controlled text (an alert's user name, a
//! URL from a log line), so each action treats its inputs as hostile:
//! outgoing HTTP goes only to http/https URLs and, unless allowed, never to
//! loopback, private or link-local addresses (checked on every resolved
//! address and every redirect); responses and program output are read up
//! to a bound; programs run from an allowlist as argv arrays, never through
//! a shell; chat text is escaped so it cannot mention `@channel` or inject
//! links. Outside actions carry the step's idempotency key (an
//! `Idempotency-Key` header, a Jira label, a Message-ID, an environment
//! variable) so that a step performed again after a crash can be
//! recognised by its receiver. Error messages name the action and what went
//! wrong and never echo credentials (URL queries and user info are left
//! out, `Authorization` headers are never printed).

mod config;
mod enrich;
mod exec;
mod http;
mod jira;
mod notify;
#[cfg(test)]
mod testutil;

use async_trait::async_trait;
use riposte_model::Mode;
use riposte_playbooks::{ActionResult, Effect, Effects, Performed, StepCall};
use serde_json::Value;

pub use config::{ActionsConfig, ExecConfig, HttpConfig, RawActionsConfig};

/// Why [`Actions`] could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("{path}: cannot open MaxMind database: {message}")]
    Database { path: String, message: String },
    #[error("{path}: {message}")]
    WrongDatabase { path: String, message: String },
    #[error("notify.smtp: {0}")]
    Smtp(#[from] riposte_notify::NotifyError),
    #[error("actions.http: cannot build the HTTP client: {0}")]
    Client(String),
    #[error("actions.exec.allowed: {0}")]
    Exec(String),
}

/// The outside and read-only actions, ready to perform. Cheap to share
/// (`Arc` it); every call is independent.
#[derive(Debug)]
pub struct Actions {
    http: http::Http,
    mailer: Option<riposte_notify::Mailer>,
    exec: exec::Exec,
    geo: enrich::Geo,
    rdns: enrich::Rdns,
}

impl Actions {
    /// Opens the MaxMind databases, builds the mailer and the HTTP client;
    /// an error names the configuration key or file at fault.
    pub fn new(config: ActionsConfig) -> Result<Self, ActionsError> {
        Ok(Self {
            http: http::Http::new(&config.http)?,
            mailer: config
                .smtp
                .as_ref()
                .map(riposte_notify::Mailer::new)
                .transpose()?,
            exec: exec::Exec::new(config.exec)?,
            geo: enrich::Geo::open(config.geoip.as_deref(), config.asn.as_deref())?,
            rdns: enrich::Rdns::new(config.rdns_timeout),
        })
    }

    async fn dispatch(&self, call: &StepCall<'_>) -> Result<ActionResult, String> {
        if call.spec.effect == Effect::Outside && call.mode != Mode::Enforce {
            // The runner records outside actions in simulate and shadow
            // modes without performing them; this is the second rail.
            return Err(format!("not performed in {} mode", call.mode));
        }
        match call.spec.name {
            "http.request" => self.http.request(call).await,
            "notify.webhook" => notify::webhook(&self.http, call).await,
            "notify.slack" => notify::slack(&self.http, call).await,
            "notify.email" => notify::email(self.mailer.as_ref(), call).await,
            "ticket.create" => jira::create(&self.http, call).await,
            "ticket.comment" => jira::comment(&self.http, call).await,
            "exec" => self.exec.run(call).await,
            "enrich.geoip" => self.geo.lookup(call),
            "enrich.rdns" => self.rdns.lookup(call).await,
            _ => Err("is not one of the actions riposte-actions performs".into()),
        }
    }
}

#[async_trait]
impl Effects for Actions {
    async fn perform(&self, call: &StepCall<'_>) -> Performed {
        let started = std::time::Instant::now();
        let result = self.dispatch(call).await;
        tracing::debug!(action = call.spec.name, run = %call.run.id, path = call.path,
            ok = result.is_ok(), elapsed_ms = started.elapsed().as_millis() as u64, "action performed");
        match result {
            Ok(result) => Performed::Done(result),
            Err(message) => Performed::Failed(format!("{}: {message}", call.spec.name)),
        }
    }
}

/// Reads a step's inputs, already checked against the action's spec: a
/// missing required input or a wrong type can only mean a spec and its
/// action disagree, and is reported as such rather than panicking.
pub(crate) struct Input<'a>(&'a Value);

impl<'a> Input<'a> {
    pub(crate) fn of(call: &'a StepCall<'_>) -> Self {
        Self(&call.input)
    }

    pub(crate) fn str(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub(crate) fn req(&self, name: &str) -> Result<&'a str, String> {
        self.str(name)
            .ok_or_else(|| format!("input {name} is missing or not a text"))
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    pub(crate) fn map(&self, name: &str) -> Vec<(String, String)> {
        match self.0.get(name) {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), and
/// whether it was cut.
pub(crate) fn truncate(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// The last `max` bytes of `text` (on a character boundary): where a
/// program's error usually is.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A short hex digest of the idempotency key: a stable name for this
/// step of this run in places that limit length or characters (Jira
/// labels, Message-IDs).
pub(crate) fn key_digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..12])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testutil::Call;
    use serde_json::json;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(truncate("héllo", 2), ("h", true));
        assert_eq!(truncate("héllo", 3), ("hé", true));
        assert_eq!(truncate("abc", 3), ("abc", false));
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("ab", 4), "ab");
    }

    #[test]
    fn digests_are_short_stable_and_distinct() {
        let a = key_digest("run-1/notify");
        assert_eq!(a.len(), 24);
        assert_eq!(a, key_digest("run-1/notify"));
        assert_ne!(a, key_digest("run-1/notify2"));
    }

    #[tokio::test]
    async fn outside_actions_are_refused_outside_enforce_mode() {
        let actions = Actions::new(ActionsConfig::default()).unwrap();
        let mut call = Call::new(
            "notify.webhook",
            json!({"url": "http://127.0.0.1:9/", "json": {}}),
        );
        call.mode = Mode::Simulate;
        match actions.perform(&call.step()).await {
            Performed::Failed(m) => {
                assert_eq!(m, "notify.webhook: not performed in simulate mode")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn database_actions_are_not_ours() {
        let actions = Actions::new(ActionsConfig::default()).unwrap();
        let call = Call::new("case.comment", json!({"text": "x"}));
        match actions.perform(&call.step()).await {
            Performed::Failed(m) => assert_eq!(
                m,
                "case.comment: is not one of the actions riposte-actions performs"
            ),
            other => panic!("{other:?}"),
        }
    }
}
