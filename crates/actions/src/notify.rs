//! The notification actions: `notify.email` (through the `notify.smtp`
//! relay), `notify.webhook` (a signed JSON POST) and `notify.slack` (a
//! Slack or Mattermost incoming webhook).
//!
//! Chat and webhook URLs carry their credential in the path
//! (`/services/T…/B…/secret`, `/hooks/<id>`), so errors show only their
//! scheme, host and port.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use riposte_notify::{Mail, Mailer, parse_mailbox};
use riposte_playbooks::{ActionResult, StepCall};
use serde_json::{Map, Value, json};

use crate::http::{Http, IDEMPOTENCY_KEY, error_text, excerpt, headers, key_header, origin};
use crate::{Input, key_digest, truncate};

/// Recipients of one message, at most: a list rendered from an alert
/// must not turn one step into a mass mailing.
const MAX_RECIPIENTS: usize = 50;
/// The most of a mail body (text, and HTML) sent.
const MAX_MAIL_BODY: usize = 1024 * 1024;
/// Slack cuts messages past 40,000 characters; so do we, by bytes.
const MAX_CHAT_TEXT: usize = 40_000;

/// `notify.email`: `{sent: true, to: [...]}`. The Message-ID is derived
/// from the step's idempotency key, so a message sent again after a crash
/// has the same Message-ID as the first.
pub(crate) async fn email(
    mailer: Option<&Mailer>,
    call: &StepCall<'_>,
) -> Result<ActionResult, String> {
    let Some(mailer) = mailer else {
        return Err("no SMTP relay configured (notify.smtp)".into());
    };
    let input = Input::of(call);
    let to = input.list("to");
    if to.is_empty() {
        return Err("input to: no recipient".into());
    }
    if to.len() > MAX_RECIPIENTS {
        return Err(format!(
            "input to: {} recipients, more than the {MAX_RECIPIENTS} one message may have",
            to.len()
        ));
    }
    for addr in &to {
        parse_mailbox(addr).map_err(|e| format!("input to: {e}"))?;
    }
    let mail = Mail {
        to: to.clone(),
        subject: input.req("subject")?.to_owned(),
        text: bounded_body(input.req("text")?),
        html: input.str("html").map(bounded_body),
    };
    mailer
        .send_with_id(&mail, Some(&key_digest(&call.idempotency_key)))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ActionResult::done(json!({"sent": true, "to": to})))
}

fn bounded_body(text: &str) -> String {
    match truncate(text, MAX_MAIL_BODY) {
        (t, false) => t.to_owned(),
        (t, true) => format!("{t}\n[cut at 1 MiB by Riposte]"),
    }
}

/// `notify.webhook`: POSTs `json` with `Idempotency-Key`,
/// `X-Riposte-Timestamp` and, given a `secret`, `X-Riposte-Signature:
/// sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` — the scheme of
/// the webhook enforcer, so one receiver can check both. `{status}`.
pub(crate) async fn webhook(http: &Http, call: &StepCall<'_>) -> Result<ActionResult, String> {
    let input = Input::of(call);
    let url = http.url("url", input.req("url")?)?;
    let body = serde_json::to_vec(input.value("json").unwrap_or(&Value::Null))
        .map_err(|e| format!("input json: {e}"))?;
    let mut h = headers(&input.map("headers"))?;
    let timestamp = chrono::Utc::now().timestamp().to_string();
    set(&mut h, "x-riposte-timestamp", &timestamp)?;
    if let Some(secret) = input.str("secret").filter(|s| !s.is_empty()) {
        let sig = riposte_respond::signature(secret.as_bytes(), &timestamp, &body);
        set(&mut h, "x-riposte-signature", &sig)?;
    }
    let status = post_json(http, call, url, h, body).await?;
    Ok(ActionResult::done(json!({"status": status})))
}

/// `notify.slack`: `{"text", "channel"?, "username"?}` to an incoming
/// webhook (Slack, or Mattermost's Slack-compatible one). `{status}`.
pub(crate) async fn slack(http: &Http, call: &StepCall<'_>) -> Result<ActionResult, String> {
    let input = Input::of(call);
    let url = http.url("url", input.req("url")?)?;
    let text = chat_escape(input.req("text")?);
    let (text, _) = truncate(&text, MAX_CHAT_TEXT);
    let mut payload = Map::new();
    payload.insert("text".into(), json!(text));
    for key in ["channel", "username"] {
        if let Some(v) = input.str(key).filter(|v| !v.is_empty()) {
            payload.insert(key.into(), json!(v));
        }
    }
    let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
    let status = post_json(http, call, url, HeaderMap::new(), body).await?;
    Ok(ActionResult::done(json!({"status": status})))
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), String> {
    let v = HeaderValue::from_str(value).map_err(|_| format!("{name} is not a header value"))?;
    h.insert(HeaderName::from_static(name), v);
    Ok(())
}

/// POSTs a JSON body with the step's idempotency key; a non-2xx answer is
/// a failure quoting the start of the response.
async fn post_json(
    http: &Http,
    call: &StepCall<'_>,
    url: Url,
    mut h: HeaderMap,
    body: Vec<u8>,
) -> Result<u16, String> {
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(IDEMPOTENCY_KEY, key_header(&call.idempotency_key)?);
    let what = format!("POST {}", origin(&url));
    let req = http
        .request_builder(Method::POST, url)
        .headers(h)
        .body(body);
    let mut resp = http.send(req, &what, http.timeout(call)).await?;
    let status = resp.status();
    if !status.is_success() {
        let text = error_text(&mut resp).await;
        return Err(format!("{what} answered {status}{}", excerpt(&text)));
    }
    Ok(status.as_u16())
}

/// Text for a chat message that may hold attacker-controlled values:
/// `&`, `<` and `>` escaped as Slack requires, so no `<!channel>`,
/// `<@U123>` or `<https://evil|click here>` can be formed; and the
/// broadcast mentions Mattermost (and Slack with `link_names`) read in
/// plain text (`@channel`, `@here`, `@all`, `@everyone`) broken with a
/// zero-width space, so an alert cannot page a whole channel. Markdown
/// (Mattermost renders it) gets no masked link, image or reference
/// definition either: a zero-width space after every `]` that a `(`, `[`
/// or `:` follows, so `[https://bank.example](https://evil.example)` shows
/// as the text it is and `![x](https://tracker.example/pixel)` makes no
/// reader's client fetch anything. Bare addresses stay as they are: a
/// reader sees where they lead.
pub(crate) fn chat_escape(text: &str) -> String {
    const BROADCASTS: [&str; 4] = ["channel", "here", "all", "everyone"];
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            ']' => {
                out.push(']');
                if matches!(text[i + 1..].chars().next(), Some('(' | '[' | ':')) {
                    out.push('\u{200B}');
                }
            }
            '@' => {
                out.push('@');
                let rest = &text[i + 1..];
                let word_len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
                    .unwrap_or(rest.len());
                let word = &rest[..word_len];
                if BROADCASTS.iter().any(|b| word.eq_ignore_ascii_case(b)) {
                    out.push('\u{200B}');
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use axum::http::StatusCode as S;
    use riposte_notify::{SmtpConfig, SmtpTls};
    use serde_json::json;

    use super::*;
    use crate::HttpConfig;
    use crate::testutil::{Call, Recorder, done, failed};

    fn http() -> Http {
        Http::new(&HttpConfig {
            allow_private: true,
            ..HttpConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn chat_text_cannot_mention_or_link() {
        assert_eq!(
            chat_escape("<!channel> <@U123> <https://evil.example|click> a&b"),
            "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; a&amp;b"
        );
        assert_eq!(
            chat_escape("@channel @Here @all, @everyone! @alice mail@example.org @allison"),
            "@\u{200B}channel @\u{200B}Here @\u{200B}all, @\u{200B}everyone! @alice mail@example.org @allison"
        );
        // Markdown links, images and reference definitions come out inert;
        // brackets that form none stay as they are.
        assert_eq!(
            chat_escape(
                "[https://bank.example](https://evil.example) ![x](https://t.example/p.png)"
            ),
            "[https://bank.example]\u{200B}(https://evil.example) ![x]\u{200B}(https://t.example/p.png)"
        );
        assert_eq!(
            chat_escape("[login][1]\n[1]: https://evil.example\n[sev] high ]"),
            "[login]\u{200B}[1]\n[1]\u{200B}: https://evil.example\n[sev] high ]"
        );
    }

    #[tokio::test]
    async fn slack_posts_escaped_text_channel_and_username() {
        let rec = Recorder::new(|_| (S::OK, "ok"));
        let base = rec.serve().await;
        let url = format!("{base}/services/T000/B000/s3cr3tpath");
        let call = Call::new(
            "notify.slack",
            json!({"url": url, "text": "Banned <@U1> @channel from 203.0.113.7 & co",
                   "channel": "#soc", "username": "riposte"}),
        );
        let out = done(slack(&http(), &call.step()).await);
        assert_eq!(out, json!({"status": 200}));
        let r = &rec.requests()[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.uri, "/services/T000/B000/s3cr3tpath");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("idempotency-key"), Some(call.key().as_str()));
        assert_eq!(
            r.json(),
            json!({"text": "Banned &lt;@U1&gt; @\u{200B}channel from 203.0.113.7 &amp; co",
                   "channel": "#soc", "username": "riposte"})
        );
    }

    #[tokio::test]
    async fn a_refusing_chat_server_is_named_without_its_secret_path() {
        let rec = Recorder::new(|_| (S::NOT_FOUND, "no_service"));
        let base = rec.serve().await;
        let call = Call::new(
            "notify.slack",
            json!({"url": format!("{base}/services/T000/B000/s3cr3tpath"), "text": "x"}),
        );
        let err = failed(slack(&http(), &call.step()).await);
        assert_eq!(
            err,
            format!("POST {base} answered 404 Not Found: no_service")
        );
    }

    #[tokio::test]
    async fn webhook_posts_signed_json_with_the_idempotency_key() {
        let rec = Recorder::new(|_| S::NO_CONTENT);
        let base = rec.serve().await;
        let payload = json!({"alert": "ssh-bruteforce", "ip": "203.0.113.7", "n": [1, 2]});
        let call = Call::new(
            "notify.webhook",
            json!({"url": format!("{base}/hooks/abc?k=v"), "json": payload.clone(),
                   "headers": {"X-Tenant": "blue", "Content-Type": "text/plain"},
                   "secret": "shared-secret"}),
        );
        let out = done(webhook(&http(), &call.step()).await);
        assert_eq!(out, json!({"status": 204}));
        // Performed again (a retry after a crash): same key.
        done(webhook(&http(), &call.step()).await);
        let got = rec.requests();
        assert_eq!(got.len(), 2);
        for r in &got {
            assert_eq!(r.uri, "/hooks/abc?k=v");
            assert_eq!(r.json(), payload);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("x-tenant"), Some("blue"));
            assert_eq!(r.header("idempotency-key"), Some(call.key().as_str()));
            let ts = r.header("x-riposte-timestamp").unwrap();
            let now = chrono::Utc::now().timestamp();
            assert!((now - ts.parse::<i64>().unwrap()).abs() < 60, "{ts}");
            assert_eq!(
                r.header("x-riposte-signature").unwrap(),
                riposte_respond::signature(b"shared-secret", ts, &r.body)
            );
        }
    }

    #[tokio::test]
    async fn webhook_without_secret_is_unsigned_and_failures_are_reported() {
        let rec = Recorder::new(|_| (S::BAD_GATEWAY, "upstream down"));
        let base = rec.serve().await;
        let call = Call::new(
            "notify.webhook",
            json!({"url": format!("{base}/hooks/abc"), "json": [1]}),
        );
        let err = failed(webhook(&http(), &call.step()).await);
        assert_eq!(
            err,
            format!("POST {base} answered 502 Bad Gateway: upstream down")
        );
        assert_eq!(rec.requests()[0].header("x-riposte-signature"), None);
        let err = failed(
            webhook(
                &Http::new(&HttpConfig::default()).unwrap(),
                &Call::new(
                    "notify.webhook",
                    json!({"url": format!("{base}/x"), "json": 1}),
                )
                .step(),
            )
            .await,
        );
        assert_eq!(
            err,
            "input url: 127.0.0.1 is a loopback, private or link-local address, which actions.http does not allow"
        );
    }

    fn smtp(port: u16) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Riposte <riposte@example.org>".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn email_with_text_html_and_a_message_id_from_the_key() {
        let sink = riposte_testkit::SmtpSink::start();
        let mailer = Mailer::new(&smtp(sink.port())).unwrap();
        let call = Call::new(
            "notify.email",
            json!({"to": ["soc@example.org", "Lead <lead@example.org>"],
                   "subject": "Ban 203.0.113.7\r\nBcc: victim@example.org",
                   "text": "Banned for 4h.", "html": "<p>Banned &lt;b&gt; for 4h.</p>"}),
        );
        let out = done(email(Some(&mailer), &call.step()).await);
        assert_eq!(
            out,
            json!({"sent": true, "to": ["soc@example.org", "Lead <lead@example.org>"]})
        );
        // A repeat after a crash carries the same Message-ID.
        done(email(Some(&mailer), &call.step()).await);
        let got = sink.messages();
        assert_eq!(got.len(), 2);
        let m = &got[0];
        assert_eq!(m.to, ["soc@example.org", "lead@example.org"]);
        assert_eq!(
            m.header("Subject").as_deref(),
            Some("Ban 203.0.113.7  Bcc: victim@example.org")
        );
        assert_eq!(m.header("Bcc"), None);
        assert_eq!(m.body("text/plain").as_deref(), Some("Banned for 4h."));
        assert_eq!(
            m.body("text/html").as_deref(),
            Some("<p>Banned &lt;b&gt; for 4h.</p>")
        );
        let id = format!("<{}@example.org>", key_digest(&call.key()));
        assert_eq!(m.header("Message-ID"), Some(id.clone()));
        assert_eq!(got[1].header("Message-ID"), Some(id));
        // Another step, another Message-ID.
        let other = Call::new(
            "notify.email",
            json!({"to": "soc@example.org", "subject": "s", "text": "t"}),
        );
        done(email(Some(&mailer), &other.step()).await);
        assert_ne!(
            sink.messages()[2].header("Message-ID"),
            got[0].header("Message-ID")
        );
    }

    #[tokio::test]
    async fn email_failures_are_clear() {
        let call = |to: Value| {
            Call::new(
                "notify.email",
                json!({"to": to, "subject": "s", "text": "t"}),
            )
        };
        assert_eq!(
            failed(email(None, &call(json!("soc@example.org")).step()).await),
            "no SMTP relay configured (notify.smtp)"
        );
        let sink = riposte_testkit::SmtpSink::start();
        let mailer = Mailer::new(&smtp(sink.port())).unwrap();
        assert_eq!(
            failed(
                email(
                    Some(&mailer),
                    &call(json!(["soc@example.org", "not an address"])).step()
                )
                .await
            ),
            "input to: \"not an address\" is not an email address"
        );
        let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.org")).collect();
        assert_eq!(
            failed(email(Some(&mailer), &call(json!(many)).step()).await),
            "input to: 51 recipients, more than the 50 one message may have"
        );
        sink.refuse_recipients();
        let err = failed(email(Some(&mailer), &call(json!("soc@example.org")).step()).await);
        assert!(
            err.starts_with(&format!("SMTP relay 127.0.0.1:{}: ", sink.port()))
                && err.contains("550"),
            "{err}"
        );
        assert!(sink.messages().is_empty());
    }
}
