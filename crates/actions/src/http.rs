//! `http.request`, and the HTTP client every outside action shares.
//!
//! The client is where the rules for outgoing requests live, so that no
//! action can forget one: http and https only; no connection to loopback,
//! private, link-local or shared addresses unless `actions.http` allows it
//! (checked on IP literals in the URL, on every address a host name
//! resolves to, so a name that resolves inside is refused as well, and on
//! every redirect); redirects only to the same host, a bounded number of
//! times; a timeout on the whole exchange; response bodies read up to a
//! bound and never decompressed; no proxy from the environment, since a
//! proxy would resolve names past these checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use riposte_playbooks::{ActionResult, StepCall};
use serde_json::{Map, Value, json};

use crate::{ActionsError, HttpConfig, Input};

/// The header that carries a step's idempotency key (`<run id>/<path>`).
pub(crate) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Response headers `http.request` returns: enough to follow up (where
/// to, when to retry, which version), none that may carry credentials
/// (`Set-Cookie`).
const KEPT_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "location",
    "etag",
    "last-modified",
    "retry-after",
    "x-request-id",
];

/// Request headers a step may not set: they decide framing or routing,
/// which the client owns.
const FORBIDDEN_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// Which addresses requests may reach.
#[derive(Clone, Debug)]
pub(crate) struct AddressPolicy {
    allow_private: bool,
    allow_networks: Vec<IpNet>,
}

impl AddressPolicy {
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private
            || !is_internal(ip)
            || self.allow_networks.iter().any(|n| n.contains(&ip))
    }
}

/// Addresses that lead into this host or its networks rather than to
/// the internet.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_internal_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
        || a >= 240
}

/// Resolves names, keeping only the addresses the policy allows: the
/// connection can only go to an address checked here, so a name that
/// resolves (or re-resolves) to an internal address is refused.
#[derive(Debug)]
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves only to loopback, private or link-local addresses, \
                     which actions.http does not allow"
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The shared client with its limits.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

impl Http {
    pub(crate) fn new(config: &HttpConfig) -> Result<Self, ActionsError> {
        let policy = Arc::new(AddressPolicy {
            allow_private: config.allow_private,
            allow_networks: config.allow_networks.clone(),
        });
        let redirect_policy = policy.clone();
        let max_redirects = config.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let Some(first) = attempt.previous().first().cloned() else {
                return attempt.follow();
            };
            let next = attempt.url().clone();
            if max_redirects == 0 {
                return attempt.stop();
            }
            if attempt.previous().len() > max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            let same_host = next.host_str() == first.host_str()
                && (next.port_or_known_default() == first.port_or_known_default()
                    || (first.scheme() == "http" && next.scheme() == "https"));
            if !same_host || !matches!(next.scheme(), "http" | "https") {
                // Returned as the 3xx it is: the step sees where it led.
                return attempt.stop();
            }
            if let Err(e) = check_host(&next, &redirect_policy) {
                return attempt.error(e);
            }
            attempt.follow()
        });
        let client = reqwest::Client::builder()
            .user_agent(concat!("riposte/", env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ActionsError::Client(e.to_string()))?;
        Ok(Self {
            client,
            policy,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Parses a URL from an input and checks it may be requested.
    pub(crate) fn url(&self, input: &str, text: &str) -> Result<Url, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("input {input}: not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "input {input}: only http and https URLs are allowed, not {}:",
                url.scheme()
            ));
        }
        check_host(&url, &self.policy).map_err(|e| format!("input {input}: {e}"))?;
        Ok(url)
    }

    /// How long this call's request may take: the step's timeout can
    /// only shorten the configured one.
    pub(crate) fn timeout(&self, call: &StepCall<'_>) -> Duration {
        call.timeout.map_or(self.timeout, |t| t.min(self.timeout))
    }

    pub(crate) fn request_builder(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request; errors say what was requested (`what`, never the
    /// query or user info) and why it failed.
    pub(crate) async fn send(
        &self,
        req: RequestBuilder,
        what: &str,
        timeout: Duration,
    ) -> Result<Response, String> {
        req.timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("{what}: {}", describe(e, timeout)))
    }

    /// The request `http.request` describes; see the module documentation.
    pub(crate) async fn request(&self, call: &StepCall<'_>) -> Result<ActionResult, String> {
        let input = Input::of(call);
        let url = self.url("url", input.req("url")?)?;
        let json_body = input.value("json");
        let body = input.str("body");
        if json_body.is_some() && body.is_some() {
            return Err("give json or body, not both".into());
        }
        let method = match input.str("method") {
            Some(m) => Method::from_bytes(m.as_bytes())
                .map_err(|_| format!("input method: {m:?} is not an HTTP method"))?,
            None if json_body.is_some() || body.is_some() => Method::POST,
            None => Method::GET,
        };
        let expect = Expect::parse(&input.list("expect"))?;
        let limit = match input.int("max_response_bytes") {
            Some(n) if n <= 0 => return Err("input max_response_bytes: must be more than 0".into()),
            Some(n) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.max_response_bytes),
            None => self.max_response_bytes,
        };
        let mut headers = headers(&input.map("headers"))?;
        if !matches!(method, Method::GET | Method::HEAD) && !headers.contains_key(IDEMPOTENCY_KEY) {
            headers.insert(IDEMPOTENCY_KEY, key_header(&call.idempotency_key)?);
        }
        let what = format!("{method} {}", shown(&url));
        let query = input.map("query");
        let mut req = self.request_builder(method, url);
        if !query.is_empty() {
            req = req.query(&query);
        }
        if let Some(v) = json_body {
            req = req.json(v);
        } else if let Some(b) = body {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
            }
            req = req.body(b.to_owned());
        }
        let timeout = self.timeout(call);
        let mut resp = self.send(req.headers(headers), &what, timeout).await?;
        let status = resp.status();
        let mut kept = Map::new();
        for name in KEPT_HEADERS {
            if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
                kept.insert(name.to_owned(), Value::String(v.to_owned()));
            }
        }
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"));
        let (bytes, truncated) = read_bounded(&mut resp, limit)
            .await
            .map_err(|e| format!("{what}: reading the response: {}", describe(e, timeout)))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !expect.accepts(status) {
            return Err(format!(
                "{what} answered {status} (expected {}){}",
                expect.describe(),
                excerpt(&text)
            ));
        }
        let json = if is_json && !truncated {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Ok(ActionResult::done(json!({
            "status": status.as_u16(),
            "headers": kept,
            "json": json,
            "text": text,
            "truncated": truncated,
        })))
    }
}

/// Refuses a URL whose host is an internal IP literal (names are checked
/// when they are resolved).
fn check_host(url: &Url, policy: &AddressPolicy) -> Result<(), String> {
    let Some(host) = url.host_str() else {
        return Err("the URL has no host".into());
    };
    // The URL parser has already normalised IP literals (`2130706433`,
    // `0x7f.1` are 127.0.0.1 by now); anything else is a name.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = literal.parse::<IpAddr>() else {
        return Ok(());
    };
    if policy.allows(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is a loopback, private or link-local address, which actions.http does not allow"
        ))
    }
}

/// The request headers a step gives, checked. Values are never quoted
/// in errors: they may be credentials.
pub(crate) fn headers(pairs: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("input headers: {name:?} is not a header name"))?;
        if FORBIDDEN_HEADERS.contains(&n.as_str()) {
            return Err(format!(
                "input headers: {name} is set by the HTTP client, not by a step"
            ));
        }
        let v = HeaderValue::from_str(value).map_err(|_| {
            format!("input headers: the value of {name} has characters a header cannot carry")
        })?;
        map.append(n, v);
    }
    Ok(map)
}

pub(crate) fn key_header(key: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(key).map_err(|_| "the idempotency key is not a header value".into())
}

/// Reads at most `limit` bytes of the body; true if there was more (the
/// rest is not read: dropping the response closes the connection).
pub(crate) async fn read_bounded(
    resp: &mut Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, false))
}

/// Reads a response's body for an error message: a few KiB at most.
pub(crate) async fn error_text(resp: &mut Response) -> String {
    match read_bounded(resp, 4096).await {
        Ok((b, _)) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// `: <the start of the body>` for an error message, or nothing.
pub(crate) fn excerpt(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return String::new();
    }
    let one_line: String = t
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let (cut, more) = crate::truncate(&one_line, 200);
    format!(": {cut}{}", if more { "…" } else { "" })
}

/// A URL as errors show it: without user info and query, which may hold
/// credentials.
pub(crate) fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Only the scheme, host and port: for URLs whose path is itself a
/// secret (chat and webhook URLs carry their token in the path).
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A reqwest error as a message: without the URL (reqwest prints it
/// whole, query and all), with its causes.
pub(crate) fn describe(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}", show_duration(timeout));
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

pub(crate) fn show_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Which statuses count as success: codes (`204`) and classes (`2xx`).
#[derive(Debug, PartialEq)]
struct Expect(Vec<(u16, u16)>);

impl Expect {
    fn parse(list: &[String]) -> Result<Self, String> {
        if list.is_empty() {
            return Ok(Self(vec![(200, 299)]));
        }
        let mut ranges = Vec::new();
        for item in list {
            let t = item.trim().to_ascii_lowercase();
            let bad =
                || format!("input expect: {item:?} is not a status code (200) or class (2xx)");
            let range = match t.as_bytes() {
                [d @ b'1'..=b'5', b'x', b'x'] => {
                    let base = u16::from(d - b'0') * 100;
                    (base, base + 99)
                }
                [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] => {
                    let code: u16 = t.parse().map_err(|_| bad())?;
                    (code, code)
                }
                _ => return Err(bad()),
            };
            ranges.push(range);
        }
        Ok(Self(ranges))
    }

    fn accepts(&self, status: StatusCode) -> bool {
        let s = status.as_u16();
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&s))
    }

    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{}xx", lo / 100)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use axum::http::StatusCode as S;
    use serde_json::json;

    use super::*;
    use crate::testutil::{Call, Recorder, done, failed, local_http};

    fn http(allow_private: bool) -> Http {
        Http::new(&HttpConfig {
            allow_private,
            ..HttpConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "192.0.2.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn expectations() {
        let e = Expect::parse(&["2xx".into(), "404".into()]).unwrap();
        assert!(e.accepts(StatusCode::NO_CONTENT));
        assert!(e.accepts(StatusCode::NOT_FOUND));
        assert!(!e.accepts(StatusCode::FORBIDDEN));
        assert_eq!(e.describe(), "2xx, 404");
        assert_eq!(
            Expect::parse(&["ok".into()]).unwrap_err(),
            "input expect: \"ok\" is not a status code (200) or class (2xx)"
        );
        assert_eq!(Expect::parse(&[]).unwrap().describe(), "2xx");
    }

    #[tokio::test]
    async fn sends_method_headers_query_and_json_with_the_idempotency_key() {
        let rec = Recorder::new(|_| {
            (
                S::CREATED,
                [("content-type", "application/json"), ("set-cookie", "s=1")],
                r#"{"id": 42}"#,
            )
        });
        let base = rec.serve().await;
        let call = Call::new(
            "http.request",
            json!({
                "url": format!("{base}/api/items?fixed=1"),
                "method": "PUT",
                "headers": {"Authorization": "Bearer t0ken", "X-Tag": "a b"},
                "query": {"ip": "203.0.113.7", "q": "a&b=c"},
                "json": {"ip": "203.0.113.7", "n": 3},
            }),
        );
        let out = done(http(true).request(&call.step()).await);
        assert_eq!(
            out,
            json!({
                "status": 201,
                "headers": {"content-type": "application/json", "content-length": "10"},
                "json": {"id": 42},
                "text": r#"{"id": 42}"#,
                "truncated": false,
            })
        );
        let got = rec.requests();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.method, "PUT");
        assert_eq!(r.uri, "/api/items?fixed=1&ip=203.0.113.7&q=a%26b%3Dc");
        assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(r.header("x-tag"), Some("a b"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("idempotency-key"), Some(call.key().as_str()));
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"ip": "203.0.113.7", "n": 3})
        );
    }

    #[tokio::test]
    async fn get_by_default_without_an_idempotency_key_and_text_bodies() {
        let rec = Recorder::new(|_| (S::OK, [("content-type", "text/plain")], "pong"));
        let base = rec.serve().await;
        let out = done(
            http(true)
                .request(&Call::new("http.request", json!({"url": format!("{base}/ping")})).step())
                .await,
        );
        assert_eq!(out["status"], 200);
        assert_eq!(out["text"], "pong");
        assert_eq!(out["json"], Value::Null);
        let r = &rec.requests()[0];
        assert_eq!(r.method, "GET");
        assert_eq!(r.header("idempotency-key"), None);

        let out = done(
            http(true)
                .request(
                    &Call::new(
                        "http.request",
                        json!({"url": format!("{base}/note"), "body": "hello"}),
                    )
                    .step(),
                )
                .await,
        );
        assert_eq!(out["status"], 200);
        let r = &rec.requests()[1];
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, b"hello");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }

    #[tokio::test]
    async fn a_retry_sends_the_same_idempotency_key() {
        // The first attempt fails (503), the retry succeeds: both carry
        // the step's key, so the receiver can tell it is one request.
        let rec = Recorder::new(|n| {
            if n == 0 {
                (
                    S::SERVICE_UNAVAILABLE,
                    [("content-type", "text/plain")],
                    "busy",
                )
            } else {
                (S::OK, [("content-type", "text/plain")], "ok")
            }
        });
        let base = rec.serve().await;
        let call = Call::new(
            "http.request",
            json!({"url": format!("{base}/hook"), "method": "POST", "json": {"a": 1}}),
        );
        let h = http(true);
        assert_eq!(
            failed(h.request(&call.step()).await),
            format!("POST {base}/hook answered 503 Service Unavailable (expected 2xx): busy")
        );
        assert_eq!(done(h.request(&call.step()).await)["status"], 200);
        let keys: Vec<_> = rec
            .requests()
            .iter()
            .map(|r| r.header("idempotency-key").unwrap().to_owned())
            .collect();
        assert_eq!(keys, [call.key(), call.key()]);
        assert!(call.key().ends_with("/step"), "{}", call.key());
    }

    #[tokio::test]
    async fn expected_statuses() {
        let rec = Recorder::new(|_| (S::NOT_FOUND, [("content-type", "text/plain")], "no such"));
        let base = rec.serve().await;
        let url = format!("{base}/x?token=s3cret");
        let err = failed(
            http(true)
                .request(&Call::new("http.request", json!({"url": url})).step())
                .await,
        );
        // The query (which may hold a token) is not in the message.
        assert_eq!(
            err,
            format!("GET {base}/x answered 404 Not Found (expected 2xx): no such")
        );
        let out = done(
            http(true)
                .request(
                    &Call::new(
                        "http.request",
                        json!({"url": url, "expect": ["2xx", "404"]}),
                    )
                    .step(),
                )
                .await,
        );
        assert_eq!(out["status"], 404);
    }

    #[tokio::test]
    async fn a_huge_response_is_cut_at_the_bound() {
        let rec = Recorder::new(|_| {
            (
                S::OK,
                [("content-type", "application/json")],
                "x".repeat(10 << 20),
            )
        });
        let base = rec.serve().await;
        let h = Http::new(&HttpConfig {
            allow_private: true,
            max_response_bytes: 64 * 1024,
            ..HttpConfig::default()
        })
        .unwrap();
        let out = done(
            h.request(&Call::new("http.request", json!({"url": format!("{base}/big")})).step())
                .await,
        );
        assert_eq!(out["text"].as_str().unwrap().len(), 64 * 1024);
        assert_eq!(out["truncated"], true);
        assert_eq!(out["json"], Value::Null);
        // A step may lower the bound, not raise it.
        for (asked, got) in [(1000, 1000), (1 << 30, 64 * 1024)] {
            let out = done(
                h.request(
                    &Call::new(
                        "http.request",
                        json!({"url": format!("{base}/big"), "max_response_bytes": asked}),
                    )
                    .step(),
                )
                .await,
            );
            assert_eq!(out["text"].as_str().unwrap().len(), got);
        }
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let base = local_http(axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late"
        }))
        .await;
        let mut call = Call::new("http.request", json!({"url": format!("{base}/slow")}));
        call.timeout = Some(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = failed(http(true).request(&call.step()).await);
        assert_eq!(err, format!("GET {base}/slow: timed out after 300ms"));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn only_http_and_https() {
        for (url, msg) in [
            (
                "file:///etc/passwd",
                "input url: only http and https URLs are allowed, not file:",
            ),
            (
                "gopher://127.0.0.1:70/",
                "input url: only http and https URLs are allowed, not gopher:",
            ),
            (
                "ftp://example.org/x",
                "input url: only http and https URLs are allowed, not ftp:",
            ),
            (
                "/relative",
                "input url: not a URL (relative URL without a base)",
            ),
        ] {
            let err = failed(
                http(true)
                    .request(&Call::new("http.request", json!({"url": url})).step())
                    .await,
            );
            assert_eq!(err, msg, "{url}");
        }
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        let rec = Recorder::new(|_| (S::OK, [("content-type", "text/plain")], "inside"));
        let base = rec.serve().await;
        let port = base.rsplit(':').next().unwrap().to_owned();
        let h = http(false);
        for (url, msg) in [
            (
                format!("{base}/admin"),
                "input url: 127.0.0.1 is a loopback, private or link-local address, which actions.http does not allow".to_owned(),
            ),
            (
                "http://169.254.169.254/latest/meta-data/".to_owned(),
                "input url: 169.254.169.254 is a loopback, private or link-local address, which actions.http does not allow".to_owned(),
            ),
            (
                format!("http://[::ffff:127.0.0.1]:{port}/"),
                "input url: ::ffff:127.0.0.1 is a loopback, private or link-local address, which actions.http does not allow".to_owned(),
            ),
            (
                // A name is checked once resolved.
                format!("http://localhost:{port}/admin"),
                format!("GET http://localhost:{port}/admin: error sending request: client error (Connect): dns error: localhost resolves only to loopback, private or link-local addresses, which actions.http does not allow"),
            ),
        ] {
            let err = failed(h.request(&Call::new("http.request", json!({"url": url})).step()).await);
            assert_eq!(err, msg, "{url}");
        }
        assert!(rec.requests().is_empty());
        // allow_networks opens one range.
        let h = Http::new(&HttpConfig {
            allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..HttpConfig::default()
        })
        .unwrap();
        for url in [format!("{base}/ok"), format!("http://localhost:{port}/ok")] {
            let out = done(
                h.request(&Call::new("http.request", json!({"url": url})).step())
                    .await,
            );
            assert_eq!(out["text"], "inside");
        }
    }

    #[tokio::test]
    async fn redirects_stay_on_the_same_host() {
        let rec = Recorder::new(|_| (S::OK, [("content-type", "text/plain")], "landed"));
        let target = rec.serve().await;
        let tport = target.rsplit(':').next().unwrap().to_owned();
        let router = axum::Router::new()
            .route(
                "/same",
                axum::routing::get(|| async { (S::FOUND, [("location", "/final")]) }),
            )
            .route("/final", axum::routing::get(|| async { "final" }))
            .route(
                "/loop",
                axum::routing::get(|| async { (S::FOUND, [("location", "/loop")]) }),
            )
            .route(
                "/away",
                axum::routing::get(move || {
                    let to = format!("http://127.0.0.1:{tport}/stolen");
                    async move { (S::FOUND, [("location", to)]) }
                }),
            );
        let base = local_http(router).await;
        let h = http(true);
        let get = |path: &str, expect: Option<&str>| {
            let mut input = json!({"url": format!("{base}{path}")});
            if let Some(e) = expect {
                input["expect"] = json!([e]);
            }
            Call::new("http.request", input)
        };
        assert_eq!(
            done(h.request(&get("/same", None).step()).await)["text"],
            "final"
        );
        // Another port is another host: the 302 is returned, not followed.
        let err = failed(h.request(&get("/away", None).step()).await);
        assert_eq!(
            err,
            format!("GET {base}/away answered 302 Found (expected 2xx)")
        );
        let out = done(h.request(&get("/away", Some("3xx")).step()).await);
        assert_eq!(out["status"], 302);
        assert_eq!(out["headers"]["location"], format!("{target}/stolen"));
        assert!(rec.requests().is_empty());
        let err = failed(h.request(&get("/loop", None).step()).await);
        assert_eq!(
            err,
            format!("GET {base}/loop: error following redirect: more than 3 redirects")
        );
    }

    #[tokio::test]
    async fn bad_headers_are_refused_without_quoting_values() {
        let h = http(true);
        for (headers, msg) in [
            (
                json!({"Authorization": "Bearer s3cret\r\nX-Evil: 1"}),
                "input headers: the value of Authorization has characters a header cannot carry",
            ),
            (
                json!({"Host": "internal"}),
                "input headers: Host is set by the HTTP client, not by a step",
            ),
            (
                json!({"Bad Name": "x"}),
                "input headers: \"Bad Name\" is not a header name",
            ),
        ] {
            let err = failed(
                h.request(
                    &Call::new(
                        "http.request",
                        json!({"url": "http://127.0.0.1:9/", "headers": headers}),
                    )
                    .step(),
                )
                .await,
            );
            assert_eq!(err, msg);
            assert!(!err.contains("s3cret"));
        }
        let err = failed(
            h.request(
                &Call::new(
                    "http.request",
                    json!({"url": "http://127.0.0.1:9/", "json": {}, "body": "x"}),
                )
                .step(),
            )
            .await,
        );
        assert_eq!(err, "give json or body, not both");
    }

    #[test]
    fn shown_urls_leave_credentials_out() {
        let u = Url::parse("https://user:pw@jira.example.org:8443/rest/api?token=abc#f").unwrap();
        assert_eq!(shown(&u), "https://jira.example.org:8443/rest/api");
        assert_eq!(origin(&u), "https://jira.example.org:8443");
    }
}
