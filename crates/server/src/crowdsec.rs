//! A CrowdSec-compatible Local API for bouncers: the two endpoints a
//! bouncer reads, with CrowdSec's JSON shapes, so existing bouncers
//! (firewall, nginx, HAProxy, Traefik, …) enforce Riposte's decisions.
//!
//! - `GET /v1/decisions/stream?startup=true|false[&scopes=ip,range]`:
//!   `{"new": [...], "deleted": [...]}` (`null` for an empty side, as
//!   CrowdSec answers). `startup=true` (or a bouncer's first pull) gives
//!   every effective decision; later pulls give what changed since a
//!   margin before that bouncer's previous successful GET (changes
//!   stamped before a commit that landed after that pull are repeated
//!   rather than missed; bouncers take a repeated decision as a refresh).
//!   Pull times are kept in memory: after a restart, each bouncer's next
//!   pull gets every effective decision and what ended within a look-back.
//! - `GET /v1/decisions?ip=A` (or `range=`, `scope=`, `value=`, `type=`,
//!   each applied on its own; others are refused): the effective decisions
//!   covering it, or `null`.
//!
//! Every request carries `X-Api-Key`; each bouncer has its own key
//! (`bouncers:` in riposte.yaml). Keys are kept as SHA-256 digests and
//! compared in constant time, their length included (`crate::secret`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use ipnet::IpNet;
use riposte_model::{Decision, DecisionId, DecisionKind, DecisionState, Scope, Timestamp};
use riposte_store::DecisionFilter;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

/// The bouncers allowed to read decisions, and when each last pulled.
/// Keys are held as digests only (`Debug` shows names, never keys).
#[derive(Debug, Default)]
pub struct Bouncers {
    keys: Vec<(String, BouncerKey)>,
    pulls: Mutex<HashMap<String, Timestamp>>,
}

/// A bouncer key's digest; `Debug` prints nothing of it.
#[derive(Default)]
struct BouncerKey(crate::secret::SecretDigest);

impl std::fmt::Debug for BouncerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Bouncers {
    /// `(name, key)` pairs.
    pub fn new(keys: Vec<(String, String)>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|(name, key)| (name, BouncerKey(crate::secret::digest(key.as_bytes()))))
                .collect(),
            pulls: Mutex::new(HashMap::new()),
        }
    }

    /// The bouncer whose key this is.
    fn authenticate(&self, headers: &HeaderMap) -> Option<&str> {
        let given = crate::secret::digest(headers.get("x-api-key")?.as_bytes());
        // Every key is compared, each in constant time, so the answer's
        // timing says nothing about which key or how much of it matched.
        let mut found = None;
        for (name, key) in &self.keys {
            if crate::secret::digests_equal(&given, &key.0) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// One decision as CrowdSec's API writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsDecision {
    pub id: i64,
    pub uuid: String,
    pub origin: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: String,
    pub value: String,
    /// Time left, as a Go duration (`3h59m58s`), which bouncers parse.
    pub duration: String,
    pub until: String,
    pub scenario: String,
    pub simulated: bool,
}

/// The stream's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsStream {
    pub new: Option<Vec<CsDecision>>,
    pub deleted: Option<Vec<CsDecision>>,
}

/// CrowdSec's scope names.
fn cs_scope(scope: Scope) -> &'static str {
    match scope {
        Scope::Ip => "Ip",
        Scope::Range => "Range",
        Scope::User => "Username",
        Scope::Domain => "Domain",
        Scope::Country => "Country",
        Scope::Asn => "AS",
    }
}

/// A stable 63-bit id from the decision's UUID (CrowdSec ids are int64).
fn cs_id(d: &Decision) -> i64 {
    let n = d.id.0.as_u128();
    let folded = (n as u64) ^ ((n >> 64) as u64);
    (folded & (i64::MAX as u64)) as i64
}

/// Seconds as a Go duration string: `167h59m59s`, `45s`, `0s`.
fn go_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn to_cs(d: &Decision, now: Timestamp) -> CsDecision {
    // Permanent decisions get CrowdSec's convention of a very long one.
    let left = d
        .expires_at
        .map_or(10 * 365 * 86_400, |e| (e - now).num_seconds());
    CsDecision {
        id: cs_id(d),
        uuid: d.id.to_string(),
        origin: if d.origin.is_automated() {
            "riposte".to_owned()
        } else {
            "cscli".to_owned()
        },
        kind: d.kind.as_str().to_owned(),
        scope: cs_scope(d.scope).to_owned(),
        value: d.value.clone(),
        duration: go_duration(left),
        until: d
            .expires_at
            .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        scenario: d.origin.rule().unwrap_or(&d.reason).to_owned(),
        simulated: false,
    }
}

/// The kinds a bouncer can enforce; connectors' kinds stay out.
fn for_bouncers(d: &Decision) -> bool {
    matches!(
        d.kind,
        DecisionKind::Ban | DecisionKind::Captcha | DecisionKind::Throttle
    )
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    startup: Option<bool>,
    /// Comma-separated CrowdSec scope names; default `ip,range`.
    scopes: Option<String>,
}

/// Scopes by CrowdSec's name (`Username`, `AS`) or Riposte's (`user`,
/// `asn`), any case; unknown names are ignored, as CrowdSec does.
fn wanted_scopes(param: Option<&str>) -> Vec<Scope> {
    let text = param.unwrap_or("ip,range");
    text.split(',')
        .filter_map(|name| {
            let name = name.trim();
            Scope::ALL.iter().copied().find(|s| {
                cs_scope(*s).eq_ignore_ascii_case(name) || s.as_str().eq_ignore_ascii_case(name)
            })
        })
        .collect()
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({"message": "access forbidden"})),
    )
        .into_response()
}

/// Decisions changed (or made) at or after this many are read per pull at
/// most; a bouncer further behind should pull with `startup=true`.
const STREAM_LIMIT: u32 = 1_000_000;

/// A pull reads what changed this long before the bouncer's previous
/// pull. A decision's `created_at`/`updated_at` are taken inside the write
/// transaction, which may commit after a pull that ran meanwhile; without
/// the margin such a change would fall behind the cursor and never be
/// sent. Repeats are harmless: a bouncer takes a repeated decision as a
/// refresh, and a repeated deletion of what it no longer has as a no-op.
const SINCE_MARGIN_SECS: i64 = 60;

/// Pull times are kept in memory. A bouncer's first `startup=false` pull
/// after Riposte started gets every effective decision in `new` and, in
/// `deleted`, every decision that ended within this look-back, so a
/// revocation made while Riposte was down or just before it restarted
/// still reaches a bouncer that kept running.
const RESTART_LOOKBACK_SECS: i64 = 24 * 3600;

pub(crate) async fn stream(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let Some(bouncer) = s.bouncers.authenticate(&headers).map(str::to_owned) else {
        return Ok(forbidden());
    };
    let now = s.clock.now();
    let scopes = wanted_scopes(q.scopes.as_deref());
    let keep = |d: &&Decision| for_bouncers(d) && scopes.contains(&d.scope);
    let previous = s
        .bouncers
        .pulls
        .lock()
        .map_err(|_| ApiError::Internal("bouncer state poisoned".into()))?
        .get(&bouncer)
        .copied();
    let all_new = || async {
        let all = s.store.effective_decisions(now).await?;
        Ok::<_, ApiError>(all.iter().filter(keep).map(|d| to_cs(d, now)).collect())
    };
    let (new, deleted) = match (q.startup, previous) {
        (Some(true), _) => (all_new().await?, Vec::new()),
        (_, None) => {
            let since = now - TimeDelta::seconds(RESTART_LOOKBACK_SECS);
            let (_, deleted) = changes(&s, since, now, &keep).await?;
            (all_new().await?, deleted)
        }
        (_, Some(previous)) => {
            let since = previous - TimeDelta::seconds(SINCE_MARGIN_SECS);
            changes(&s, since, now, &keep).await?
        }
    };
    // The cursor moves only once the answer is ready (after a failed
    // pull, the next one reads from the same cursor), and never for HEAD, which axum
    // answers with this handler but whose body nobody reads.
    if method != Method::HEAD {
        s.bouncers
            .pulls
            .lock()
            .map_err(|_| ApiError::Internal("bouncer state poisoned".into()))?
            .insert(bouncer.clone(), now);
    }
    tracing::debug!(%bouncer, new = new.len(), deleted = deleted.len(), "bouncer pull");
    let side = |v: Vec<CsDecision>| (!v.is_empty()).then_some(v);
    Ok(Json(CsStream {
        new: side(new),
        deleted: side(deleted),
    })
    .into_response())
}

/// What changed at or after `since`: `(new, deleted)`.
async fn changes(
    s: &AppState,
    since: Timestamp,
    now: Timestamp,
    keep: &(dyn Fn(&&Decision) -> bool + Sync),
) -> Result<(Vec<CsDecision>, Vec<CsDecision>), ApiError> {
    let changed = s
        .store
        .list_decisions(&DecisionFilter {
            since: Some(since),
            limit: Some(STREAM_LIMIT),
            ..DecisionFilter::default()
        })
        .await?;
    // Every decision in state `active`: the effective ones, and
    // those lapsed but not swept yet.
    let active = s
        .store
        .list_decisions(&DecisionFilter {
            state: Some(DecisionState::Active),
            limit: Some(STREAM_LIMIT),
            ..DecisionFilter::default()
        })
        .await?;
    let mut effective: HashMap<(Scope, &str, DecisionKind), Vec<&Decision>> = HashMap::new();
    for d in active.iter().filter(|d| d.is_effective(now)) {
        effective
            .entry((d.scope, d.value.as_str(), d.kind))
            .or_default()
            .push(d);
    }
    let effective_ids: HashSet<DecisionId> = effective.values().flatten().map(|d| d.id).collect();
    let mut new = Vec::new();
    let mut new_ids = HashSet::new();
    let mut ended = Vec::new();
    for d in changed.iter().filter(|d| keep(d)) {
        if effective_ids.contains(&d.id) {
            new_ids.insert(d.id);
            new.push(to_cs(d, now));
        } else if !matches!(
            d.state,
            DecisionState::Simulated | DecisionState::PendingApproval
        ) {
            ended.push(d);
        }
    }
    // Lapsed since the last pull but not swept yet: ended too.
    for d in active.iter().filter(|d| keep(d)) {
        if !d.is_effective(now) && d.expires_at.is_some_and(|e| e > since) {
            ended.push(d);
        }
    }
    // Bouncers remove by value: a deletion of an ended decision
    // whose scope, value and type another effective decision still
    // has (a repeat offender's new ban, made after the old one
    // lapsed) would lift that one too. It is left out, and the
    // effective one is sent again instead, which a bouncer takes as
    // a refresh (so it holds the right duration).
    let mut deleted = Vec::new();
    let mut deleted_ids = HashSet::new();
    for d in ended {
        match effective.get(&(d.scope, d.value.as_str(), d.kind)) {
            None => {
                if deleted_ids.insert(d.id) {
                    deleted.push(to_cs(d, now));
                }
            }
            Some(covering) => {
                for e in covering {
                    if new_ids.insert(e.id) {
                        new.push(to_cs(e, now));
                    }
                }
            }
        }
    }
    Ok((new, deleted))
}

/// Every parameter is applied on its own; any other is refused (400) rather
/// than ignored, which would answer with every decision.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupQuery {
    ip: Option<String>,
    range: Option<String>,
    scope: Option<String>,
    value: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn lookup(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if s.bouncers.authenticate(&headers).is_none() {
        return Ok(forbidden());
    }
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let scope = match q.scope.as_deref() {
        Some(name) => match wanted_scopes(Some(name)).as_slice() {
            [one] => Some(*one),
            _ => return Err(ApiError::BadRequest(format!("unknown scope {name:?}"))),
        },
        None => None,
    };
    let now = s.clock.now();
    let asked = match (&q.ip, &q.range) {
        (Some(ip), _) => Some((Scope::Ip, ip)),
        (None, Some(range)) => Some((Scope::Range, range)),
        (None, None) => None,
    };
    // Canonical like a decision's value (IPv4-mapped IPv6 as IPv4).
    let net: Option<IpNet> = asked
        .map(|(scope, value)| {
            let value = scope.normalize(value).map_err(ApiError::BadRequest)?;
            scope
                .network(&value)
                .ok_or_else(|| ApiError::BadRequest(format!("{value:?} is not an address")))
        })
        .transpose()?;
    let kind = q.kind.as_deref().map(str::to_ascii_lowercase);
    let effective = s.store.effective_decisions(now).await?;
    let found: Vec<CsDecision> = effective
        .iter()
        .filter(|d| for_bouncers(d))
        .filter(|d| kind.as_deref().is_none_or(|k| d.kind.as_str() == k))
        // A decision covers the address or range asked about.
        .filter(|d| {
            net.is_none_or(|net| {
                d.scope
                    .network(&d.value)
                    .is_some_and(|dn| dn.contains(&net))
            })
        })
        .filter(|d| scope.is_none_or(|s| d.scope == s))
        .filter(|d| {
            q.value
                .as_deref()
                .is_none_or(|v| d.scope.normalize(v).is_ok_and(|v| v == d.value))
        })
        .map(|d| to_cs(d, now))
        .collect();
    Ok(Json((!found.is_empty()).then_some(found)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_go_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(3599), "59m59s");
        assert_eq!(go_duration(4 * 3600 - 2), "3h59m58s");
        assert_eq!(go_duration(7 * 86_400), "168h0m0s");
        assert_eq!(go_duration(-5), "0s");
    }

    #[test]
    fn bouncer_keys_compare_exactly_and_never_print() {
        let bouncers = Bouncers::new(vec![("nginx".into(), "key-0123456789".into())]);
        let with = |key: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-api-key", key.parse().unwrap());
            headers
        };
        assert_eq!(
            bouncers.authenticate(&with("key-0123456789")),
            Some("nginx")
        );
        for wrong in ["key-0123456788", "key-012345678", "key-01234567890", ""] {
            assert_eq!(bouncers.authenticate(&with(wrong)), None, "{wrong:?}");
        }
        assert_eq!(bouncers.authenticate(&HeaderMap::new()), None);
        let debug = format!("{bouncers:?}");
        assert!(
            debug.contains("nginx") && !debug.contains("0123456789"),
            "{debug}"
        );
    }
}
