//! What every request passes before its handler: the `Host` it names, where
//! it comes from (browser attacks), who sends it (the bearer key), whether
//! that identity may use the route, and what its body claims to be.
//!
//! Each route declares its [`Access`] in one table (`api::routes`); the
//! router is built from that table, so a route cannot be added without
//! saying who may call it, and a test walks the same table.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use ipnet::IpNet;
use riposte_auth::{
    AuthError, Authenticator, Identity, Permission, ServerSecret, may, may_webhook,
};
use riposte_model::{Clock, Timestamp};
use riposte_store::Store;

use crate::{ApiError, AppState};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (liveness only).
    Public,
    /// A bearer key whose identity holds the permission; the body, if any,
    /// must be of the kind named.
    Permission(Permission, Body),
    /// `POST /api/v1/playbooks/{id}/webhook`: the playbook's webhook secret,
    /// or a key allowed that playbook's webhook ([`may_webhook`]).
    Webhook,
    /// The CrowdSec bouncer API: a bouncer's `X-Api-Key`, checked by the
    /// handler; failures count toward the same per-address limit.
    Bouncer,
}

/// What a route's request body may be. A browser may send `text/plain`,
/// form and multipart bodies to any site without asking first (no CORS
/// preflight); refusing them on every route that acts is what keeps a web
/// page from acting through a victim's browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A read: no body is looked at.
    None,
    /// `application/json` (or empty).
    Json,
    /// Event intake: JSON, or one record per line as
    /// `application/x-ndjson` / `application/jsonl`.
    Events,
}

const JSON_TYPES: &[&str] = &["application/json"];
const EVENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
];

impl Body {
    fn accepted(self) -> &'static [&'static str] {
        match self {
            Body::None => &[],
            Body::Json => JSON_TYPES,
            Body::Events => EVENT_TYPES,
        }
    }

    /// `Err` with the 415's message when the declared type is not one of
    /// ours. A body without a type is refused too, unless it is empty.
    fn check(self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self == Body::None {
            return Ok(());
        }
        let declared = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let ok = match &declared {
            Some(t) => self.accepted().contains(&t.as_str()),
            None => !carries_body(headers),
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type {} is not accepted here (valid: {})",
                declared.map_or_else(|| "(none)".to_owned(), |t| format!("{t:?}")),
                self.accepted().join(", ")
            )))
        }
    }
}

/// Whether the request says it has a body: a non-zero length, or chunks.
fn carries_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// The names a request's `Host` may carry: DNS rebinding points a name
/// the attacker owns at this address, so a browser sends it with the
/// attacker's `Host`, which no configured name matches.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    /// `None`: any host (in-process tests only).
    allowed: Option<Allowed>,
}

#[derive(Clone, Debug)]
struct Allowed {
    /// `api.hosts`: matched on the name alone, whatever the port (a proxy
    /// in front may listen on 443).
    names: Vec<String>,
    /// The listen address and, for loopback or all-interfaces listeners,
    /// `localhost` and this host's own addresses: matched with the bound
    /// port (or none).
    local: Vec<String>,
    port: u16,
}

impl HostPolicy {
    /// The names for a listener bound to `listen`, plus `hosts`.
    pub fn new(listen: SocketAddr, hosts: &[String]) -> Self {
        let mut local = vec![listen.ip()];
        if listen.ip().is_unspecified() {
            local.extend(
                if_addrs::get_if_addrs()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| i.ip()),
            );
        }
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            local.extend([
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ]);
        }
        let mut local: Vec<String> = local
            .into_iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            })
            .collect();
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            local.push("localhost".into());
        }
        Self {
            allowed: Some(Allowed {
                names: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                local,
                port: listen.port(),
            }),
        }
    }

    /// Any `Host`, or none: for routers tested in-process.
    pub fn any() -> Self {
        Self { allowed: None }
    }

    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(allowed) = &self.allowed else {
            return true;
        };
        let Some(host) = host else {
            return false;
        };
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&host);
        if allowed.names.iter().any(|n| {
            let (n_name, n_port) = split_host(n);
            n_name == name && (n_port.is_none() || n_port == port)
        }) {
            return true;
        }
        let port_ok = port.is_none_or(|p| p == allowed.port);
        port_ok && allowed.local.iter().any(|l| l == name)
    }
}

/// `name:port`, `[v6]:port` or a bare name → (name, port).
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, tail)) => {
                let name = &host[..rest.find(']').map_or(host.len(), |i| i + 2)];
                (name, tail.strip_prefix(':').and_then(|p| p.parse().ok()))
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

/// Failed authentications per source address: after [`FailureLimiter::MAX`]
/// in [`FailureLimiter::WINDOW`], that address gets 429 until the window
/// has passed, whatever it sends. Bounded: past [`FailureLimiter::CAPACITY`]
/// addresses, expired ones are dropped, and if none has expired the
/// oldest goes.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    by_addr: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    since: Timestamp,
    count: u32,
}

impl FailureLimiter {
    pub const MAX: u32 = 10;
    pub const WINDOW: TimeDelta = TimeDelta::minutes(1);
    pub const CAPACITY: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_addr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds until `addr` may try again, if it is blocked now.
    pub fn blocked(&self, addr: IpAddr, now: Timestamp) -> Option<i64> {
        let map = self.lock();
        let f = map.get(&addr)?;
        let until = f.since + Self::WINDOW;
        (f.count >= Self::MAX && now < until).then(|| (until - now).num_seconds().max(1))
    }

    /// Counts a failure; returns the count in the current window.
    pub fn record(&self, addr: IpAddr, now: Timestamp) -> u32 {
        let mut map = self.lock();
        if map.len() >= Self::CAPACITY && !map.contains_key(&addr) {
            map.retain(|_, f| now < f.since + Self::WINDOW);
            if map.len() >= Self::CAPACITY
                && let Some(oldest) = map.iter().min_by_key(|(_, f)| f.since).map(|(a, _)| *a)
            {
                map.remove(&oldest);
            }
        }
        let f = map.entry(addr).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now >= f.since + Self::WINDOW || now < f.since {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
        f.count
    }
}

/// What the middleware needs: keys, names, proxies and failures.
#[derive(Debug)]
pub struct Guard {
    pub authenticator: Authenticator,
    pub hosts: HostPolicy,
    /// `api.trusted_proxies`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub failures: FailureLimiter,
}

impl Guard {
    pub fn new(
        store: Arc<dyn Store>,
        secret: ServerSecret,
        hosts: HostPolicy,
        trusted_proxies: Vec<IpNet>,
    ) -> Self {
        Self {
            authenticator: Authenticator::new(store, secret),
            hosts,
            trusted_proxies,
            failures: FailureLimiter::default(),
        }
    }

    /// The address a request comes from ([`client_addr`]).
    pub fn client_addr(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        client_addr(&self.trusted_proxies, peer, headers)
    }
}

/// The address a request comes from: the TCP peer, or, when the peer is a
/// trusted proxy, the right-most `X-Forwarded-For` entry that is not one
/// (everything left of it is whatever the client wrote).
pub fn client_addr(
    trusted_proxies: &[IpNet],
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> IpAddr {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    // Several headers are one list, in order.
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        hops.extend(text.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// A guard for in-process tests and benches: any `Host`, no proxies.
pub fn any_host_guard(store: Arc<dyn Store>, secret: ServerSecret) -> Arc<Guard> {
    Arc::new(Guard::new(store, secret, HostPolicy::any(), Vec::new()))
}

/// The address the guard attributed the request to, for handlers and logs.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// Browser attacks, for every route: a `Host` that is none of ours is 421
/// (DNS rebinding); a state-changing request another site's page made
/// (its `Origin` or `Sec-Fetch-Site` says so) is 403.
pub async fn same_site(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !s.guard.hosts.allows(host) {
        return ApiError::MisdirectedRequest(format!(
            "this server does not answer for Host {:?}; add it to api.hosts if it should",
            host.unwrap_or("")
        ))
        .into_response();
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(site) = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !matches!(*v, "same-origin" | "none"))
        {
            return ApiError::Forbidden(format!(
                "a cross-site request (Sec-Fetch-Site: {site}) may not change anything"
            ))
            .into_response();
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let authority = origin
                .split_once("://")
                .map_or("", |(_, rest)| rest)
                .trim_end_matches('/');
            if host.is_none_or(|h| !authority.eq_ignore_ascii_case(h)) {
                return ApiError::Forbidden(format!(
                    "a request from origin {origin:?} may not change anything here"
                ))
                .into_response();
            }
        }
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::Unauthorized(message.to_owned()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"riposte\""),
    );
    response
}

/// Counts a failed authentication from `addr`, logging the first of a
/// window and the one that blocks the address (not every one).
fn refuse(guard: &Guard, addr: IpAddr, now: Timestamp, reason: &str) {
    let count = guard.failures.record(addr, now);
    if count == 1 || count == FailureLimiter::MAX {
        tracing::warn!(client = %addr, reason, failures = count, "API authentication failed");
    }
}

fn too_many(seconds: i64) -> Response {
    let mut response = ApiError::TooManyRequests(format!(
        "too many failed authentications from this address; try again in {seconds} s"
    ))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The per-route check: authenticates, authorises, checks the body type,
/// and hands the handler the [`Identity`] as an extension.
pub async fn check(
    State((s, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let guard = &s.guard;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let addr = guard.client_addr(peer, req.headers());
    req.extensions_mut().insert(ClientAddr(addr));
    let now = s.clock.now();
    if let Some(seconds) = guard.failures.blocked(addr, now) {
        return too_many(seconds);
    }
    if access == Access::Bouncer {
        let response = next.run(req).await;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            refuse(guard, addr, now, "bouncer key");
        }
        return response;
    }
    let identity = match access {
        Access::Webhook => match webhook_identity(
            &s,
            bearer(req.headers()).map(str::to_owned),
            req.uri().path().to_owned(),
            now,
        )
        .await
        {
            Ok(identity) => identity,
            Err(reason) => {
                if reason != NO_CREDENTIALS {
                    refuse(guard, addr, now, reason);
                }
                return unauthorized("missing or wrong bearer token");
            }
        },
        _ => {
            // Asking without credentials guesses nothing: not counted.
            let Some(token) = bearer(req.headers()) else {
                return unauthorized(
                    "authentication required: send Authorization: Bearer <API key>",
                );
            };
            match guard.authenticator.authenticate(token, now).await {
                Ok(identity) => identity,
                Err(AuthError::Store(e)) => return ApiError::from(e).into_response(),
                Err(e) => {
                    let reason = e.to_string();
                    refuse(guard, addr, now, &reason);
                    return unauthorized("invalid, revoked or expired API key");
                }
            }
        }
    };
    let (permitted, body) = match access {
        Access::Permission(p, body) => (may(&identity, p), body),
        Access::Webhook => {
            let playbook = webhook_playbook(req.uri().path()).unwrap_or_default();
            (may_webhook(&identity, playbook), Body::Json)
        }
        Access::Public | Access::Bouncer => (Ok(()), Body::None),
    };
    if let Err(denied) = permitted {
        return ApiError::Forbidden(denied.to_string()).into_response();
    }
    if let Err(e) = body.check(req.headers()) {
        return e.into_response();
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

/// `router` (one that authenticates by itself, such as TAXII's) with its
/// 401s counted against the client address like the API's, and a blocked
/// address answered 429 before it is looked at.
pub fn limit_failures(
    router: axum::Router,
    guard: Arc<Guard>,
    clock: Arc<dyn Clock>,
) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(
        (guard, clock),
        count_failures,
    ))
}

async fn count_failures(
    State((guard, clock)): State<(Arc<Guard>, Arc<dyn Clock>)>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let addr = guard.client_addr(peer, req.headers());
    let now = clock.now();
    if let Some(seconds) = guard.failures.blocked(addr, now) {
        return too_many(seconds);
    }
    // Asking without credentials guesses nothing: not counted.
    let guessed = req.headers().contains_key(header::AUTHORIZATION);
    let response = next.run(req).await;
    if guessed && response.status() == axum::http::StatusCode::UNAUTHORIZED {
        refuse(&guard, addr, now, "TAXII credentials");
    }
    response
}

/// `/api/v1/playbooks/{id}/webhook` → `id`.
fn webhook_playbook(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/playbooks/")?
        .strip_suffix("/webhook")
}

const NO_CREDENTIALS: &str = "no credentials";

/// A webhook's caller: an API key (`rpk_…`) allowed this playbook's
/// webhook, or the playbook's own webhook secret.
async fn webhook_identity(
    s: &AppState,
    token: Option<String>,
    path: String,
    now: Timestamp,
) -> Result<Identity, &'static str> {
    let token = token.ok_or(NO_CREDENTIALS)?;
    if token.starts_with(riposte_auth::KEY_PREFIX) {
        return match s.guard.authenticator.authenticate(&token, now).await {
            Ok(identity) => Ok(identity),
            Err(_) => Err("bad API key on a webhook"),
        };
    }
    let playbook = webhook_playbook(&path).ok_or("no playbook")?;
    let expected = s
        .executor
        .playbooks()
        .get(playbook)
        .and_then(|p| p.trigger.webhook.clone())
        .and_then(|name| s.executor.secrets().get(&name).map(str::to_owned))
        .ok_or("no webhook secret")?;
    if crate::secret::matches(
        token.as_bytes(),
        &crate::secret::digest(expected.as_bytes()),
    ) {
        Ok(Identity::webhook_secret(playbook))
    } else {
        Err("wrong webhook secret")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn hosts_are_the_listen_address_loopback_names_and_configured_names() {
        let loopback = HostPolicy::new("127.0.0.1:8080".parse().unwrap(), &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
        ] {
            assert!(loopback.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1:9999",
            "localhost.evil.example:8080",
            "",
        ] {
            assert!(!loopback.allows(Some(bad)), "{bad}");
        }
        assert!(!loopback.allows(None));
        let named = HostPolicy::new(
            "10.1.2.3:8443".parse().unwrap(),
            &["riposte.example.org".into(), "soc.example.org:443".into()],
        );
        assert!(named.allows(Some("riposte.example.org")));
        assert!(named.allows(Some("Riposte.Example.Org:443")));
        assert!(named.allows(Some("soc.example.org:443")));
        assert!(!named.allows(Some("soc.example.org:8443")));
        assert!(named.allows(Some("10.1.2.3:8443")));
        assert!(!named.allows(Some("localhost:8443")));
        assert!(HostPolicy::any().allows(None));
    }

    #[test]
    fn ten_failures_in_a_minute_block_an_address_for_the_rest_of_it() {
        let limiter = FailureLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for i in 0..9 {
            assert_eq!(limiter.record(a, at(i)), i as u32 + 1);
            assert_eq!(limiter.blocked(a, at(i)), None);
        }
        assert_eq!(limiter.record(a, at(10)), 10);
        assert_eq!(limiter.blocked(a, at(10)), Some(50));
        assert_eq!(limiter.blocked(b, at(10)), None);
        assert_eq!(limiter.blocked(a, at(59)), Some(1));
        assert_eq!(limiter.blocked(a, at(60)), None);
        // A new window starts from nothing.
        assert_eq!(limiter.record(a, at(61)), 1);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let from = |peer: &str, xff: &[&str]| {
            let mut headers = HeaderMap::new();
            for x in xff {
                headers.append("x-forwarded-for", x.parse().unwrap());
            }
            client_addr(&proxies, Some(peer.parse().unwrap()), &headers).to_string()
        };
        assert_eq!(from("203.0.113.9:5000", &["198.51.100.1"]), "203.0.113.9");
        assert_eq!(
            from("10.0.0.5:5000", &["6.6.6.6, 198.51.100.1"]),
            "198.51.100.1"
        );
        assert_eq!(
            from("10.0.0.5:5000", &["198.51.100.1, 10.0.0.7"]),
            "198.51.100.1"
        );
        assert_eq!(
            from("10.0.0.5:5000", &["6.6.6.6", "198.51.100.1"]),
            "198.51.100.1"
        );
        assert_eq!(
            from("10.0.0.5:5000", &["garbage, 198.51.100.1"]),
            "198.51.100.1"
        );
        assert_eq!(
            from("10.0.0.5:5000", &["198.51.100.1, garbage"]),
            "10.0.0.5"
        );
        assert_eq!(from("10.0.0.5:5000", &[]), "10.0.0.5");
        assert_eq!(
            client_addr(&proxies, None, &HeaderMap::new()).to_string(),
            "0.0.0.0"
        );
    }

    #[test]
    fn bodies_must_declare_an_accepted_type() {
        let mut h = HeaderMap::new();
        assert!(Body::Json.check(&h).is_ok(), "no body at all");
        h.insert(header::CONTENT_LENGTH, "12".parse().unwrap());
        assert!(Body::Json.check(&h).is_err(), "a body without a type");
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let err = Body::Events.check(&h).unwrap_err();
        assert!(
            matches!(err, ApiError::UnsupportedMediaType(ref m) if m == "Content-Type \"text/plain\" is not accepted here (valid: application/json, application/x-ndjson, application/jsonl)"),
            "{err:?}"
        );
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(Body::Json.check(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-ndjson".parse().unwrap(),
        );
        assert!(Body::Json.check(&h).is_err());
        assert!(Body::Events.check(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(Body::Json.check(&h).is_err());
        assert!(Body::None.check(&h).is_ok());
    }
}
