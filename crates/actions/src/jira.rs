//! `ticket.create` and `ticket.comment` through Jira's REST API v2 (Jira
//! Cloud, Server and Data Center).
//!
//! Jira has no idempotency keys, so each action leaves a mark it can
//! find again. `ticket.create` labels the issue `riposte-<digest of the
//! step's key>` and, before creating, searches for that label: a step
//! performed again after a crash returns the issue the first attempt made
//! (`created: false`) instead of opening a second one. `ticket.comment`
//! stores the key as a comment property (`riposte.idempotency`) and looks
//! through the issue's latest comments for it first. Both are best effort
//! against Jira's search index, which can lag a new issue by seconds.
//!
//! Credentials: `user` + `token` is HTTP basic auth (Jira Cloud API
//! tokens, Server passwords); `token` alone is a bearer token (Data
//! Center personal access tokens). Neither ever appears in a message.

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use riposte_playbooks::{ActionResult, StepCall};
use serde_json::{Value, json};

use crate::http::{Http, describe, excerpt, read_bounded, shown};
use crate::{Input, key_digest, truncate};

/// Jira's limit on a summary.
const MAX_SUMMARY: usize = 255;
/// Jira's default limit on a text field (description, comment) is 32,767
/// characters; stay under it in bytes.
const MAX_TEXT: usize = 32_000;
const MAX_LABEL: usize = 255;
const COMMENT_PROPERTY: &str = "riposte.idempotency";
/// How many of an issue's latest comments are searched for a repeat.
const COMMENTS_SEARCHED: u32 = 100;

enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

/// One Jira server, as a step's inputs name it.
struct Jira<'a> {
    http: &'a Http,
    base: Url,
    auth: Auth,
    timeout: std::time::Duration,
    /// `Jira at https://jira.example.org`, for messages.
    what: String,
}

impl<'a> Jira<'a> {
    fn new(http: &'a Http, call: &StepCall<'_>) -> Result<Self, String> {
        let input = Input::of(call);
        let mut base = http.url("url", input.req("url")?)?;
        base.set_query(None);
        base.set_fragment(None);
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        let auth = match (
            input.str("user").filter(|s| !s.is_empty()),
            input.str("token").filter(|s| !s.is_empty()),
        ) {
            (Some(u), Some(t)) => Auth::Basic(u.to_owned(), t.to_owned()),
            (None, Some(t)) => Auth::Bearer(t.to_owned()),
            (Some(_), None) => return Err("input user: given without a token".into()),
            (None, None) => Auth::None,
        };
        let what = format!("Jira at {}", shown(&base).trim_end_matches('/'));
        Ok(Self {
            http,
            base,
            auth,
            timeout: http.timeout(call),
            what,
        })
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        u.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        u
    }

    /// One request; the answer's status and JSON body (null if none). A
    /// status outside 2xx is returned, not an error: callers decide.
    async fn send(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value, String), String> {
        let mut req = self
            .http
            .request_builder(method, url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if !query.is_empty() {
            req = req.query(query);
        }
        req = match &self.auth {
            Auth::None => req,
            Auth::Basic(u, t) => req.basic_auth(u, Some(t)),
            Auth::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(b) = body {
            req = req.json(b);
        }
        let mut resp = self.http.send(req, &self.what, self.timeout).await?;
        let status = resp.status();
        let (bytes, _) = read_bounded(&mut resp, self.http.max_response_bytes)
            .await
            .map_err(|e| {
                format!(
                    "{}: reading the answer: {}",
                    self.what,
                    describe(e, self.timeout)
                )
            })?;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, json, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// A failure message for a status outside 2xx, with Jira's own words
    /// (`{"errorMessages": [...], "errors": {"field": "message"}}`).
    fn refused(&self, status: StatusCode, json: &Value, text: &str) -> String {
        let mut parts: Vec<String> = json["errorMessages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if let Some(errors) = json["errors"].as_object() {
            parts.extend(errors.iter().map(|(field, msg)| {
                format!(
                    "{field}: {}",
                    msg.as_str().map_or_else(|| msg.to_string(), str::to_owned)
                )
            }));
        }
        let detail = if parts.is_empty() {
            excerpt(text)
        } else {
            let joined = parts.join("; ");
            format!(": {}", truncate(&joined, 1000).0)
        };
        let hint = if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            " (check the user and token)"
        } else {
            ""
        };
        format!("{} answered {status}{detail}{hint}", self.what)
    }

    fn browse(&self, key: &str) -> String {
        self.endpoint(&format!("/browse/{key}")).to_string()
    }

    /// The issue labelled `label`, if one exists. Jira Cloud answers the
    /// v2 search with 410 Gone since its `search/jql` replaced it.
    async fn find_labelled(&self, label: &str) -> Result<Option<(String, String)>, String> {
        let jql = format!("labels = \"{label}\"");
        let query = [
            ("jql", jql.as_str()),
            ("fields", "key"),
            ("maxResults", "1"),
        ];
        let mut answer = self
            .send(
                Method::GET,
                self.endpoint("/rest/api/2/search"),
                &query,
                None,
            )
            .await?;
        if matches!(answer.0, StatusCode::NOT_FOUND | StatusCode::GONE) {
            answer = self
                .send(
                    Method::GET,
                    self.endpoint("/rest/api/2/search/jql"),
                    &query,
                    None,
                )
                .await?;
        }
        let (status, json, text) = answer;
        if !status.is_success() {
            return Err(format!(
                "searching for an issue made before: {}",
                self.refused(status, &json, &text)
            ));
        }
        Ok(json["issues"].get(0).and_then(|i| {
            let key = i["key"].as_str()?.to_owned();
            let id = i["id"]
                .as_str()
                .map_or_else(|| i["id"].to_string(), str::to_owned);
            Some((key, id))
        }))
    }
}

/// A Jira label from text: labels cannot hold spaces.
fn label(text: &str) -> String {
    let l: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    truncate(&l, MAX_LABEL).0.to_owned()
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn bounded_text(text: &str) -> String {
    match truncate(text, MAX_TEXT) {
        (t, false) => t.to_owned(),
        (t, true) => format!("{t}\n[cut by Riposte]"),
    }
}

/// `ticket.create`: `{key, id, url, created}`.
pub(crate) async fn create(http: &Http, call: &StepCall<'_>) -> Result<ActionResult, String> {
    let jira = Jira::new(http, call)?;
    let input = Input::of(call);
    let mark = format!("riposte-{}", key_digest(&call.idempotency_key));
    if let Some((key, id)) = jira.find_labelled(&mark).await? {
        let url = jira.browse(&key);
        return Ok(ActionResult {
            done: true,
            output: json!({"key": key, "id": id, "url": url, "created": false}),
            message: Some(format!(
                "{key} was created by an earlier attempt of this step"
            )),
        });
    }
    let mut labels: Vec<String> = input
        .list("labels")
        .iter()
        .map(|l| label(l))
        .filter(|l| !l.is_empty())
        .collect();
    labels.push(mark);
    labels.dedup();
    let summary = one_line(input.req("summary")?);
    let mut fields = json!({
        "project": {"key": input.req("project")?},
        "summary": truncate(&summary, MAX_SUMMARY).0,
        "issuetype": {"name": input.str("issue_type").unwrap_or("Task")},
        "labels": labels,
    });
    if let Some(d) = input.str("description") {
        fields["description"] = json!(bounded_text(d));
    }
    let (status, json, text) = jira
        .send(
            Method::POST,
            jira.endpoint("/rest/api/2/issue"),
            &[],
            Some(&json!({"fields": fields})),
        )
        .await?;
    if !status.is_success() {
        return Err(jira.refused(status, &json, &text));
    }
    let Some(key) = json["key"].as_str() else {
        return Err(format!(
            "{} answered {status} without an issue key{}",
            jira.what,
            excerpt(&text)
        ));
    };
    let id = json["id"]
        .as_str()
        .map_or_else(|| json["id"].to_string(), str::to_owned);
    Ok(ActionResult::done(json!({
        "key": key, "id": id, "url": jira.browse(key), "created": true,
    })))
}

/// An issue key (`SOC-12`) or id (`10012`): it goes into a URL path.
fn check_issue(issue: &str) -> Result<(), String> {
    let is_id = !issue.is_empty() && issue.bytes().all(|b| b.is_ascii_digit());
    let is_key = issue.split_once('-').is_some_and(|(project, n)| {
        project.starts_with(|c: char| c.is_ascii_alphabetic())
            && project
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    });
    if is_id || is_key {
        Ok(())
    } else {
        Err(format!(
            "input issue: {issue:?} is not an issue key (SOC-12) or id"
        ))
    }
}

/// `ticket.comment`: `{id, created}`.
pub(crate) async fn comment(http: &Http, call: &StepCall<'_>) -> Result<ActionResult, String> {
    let input = Input::of(call);
    let issue = input.req("issue")?.trim();
    check_issue(issue)?;
    let jira = Jira::new(http, call)?;
    let url = jira.endpoint(&format!("/rest/api/2/issue/{issue}/comment"));
    let max = COMMENTS_SEARCHED.to_string();
    let (status, json, text) = jira
        .send(
            Method::GET,
            url.clone(),
            &[
                ("orderBy", "-created"),
                ("maxResults", &max),
                ("expand", "properties"),
            ],
            None,
        )
        .await?;
    if !status.is_success() {
        return Err(jira.refused(status, &json, &text));
    }
    let earlier = json["comments"].as_array().into_iter().flatten().find(|c| {
        c["properties"].as_array().into_iter().flatten().any(|p| {
            p["key"] == COMMENT_PROPERTY && p["value"]["key"] == call.idempotency_key.as_str()
        })
    });
    if let Some(c) = earlier {
        let id = c["id"]
            .as_str()
            .map_or_else(|| c["id"].to_string(), str::to_owned);
        return Ok(ActionResult {
            done: true,
            output: json!({"id": id, "created": false}),
            message: Some(format!(
                "comment {id} was added by an earlier attempt of this step"
            )),
        });
    }
    let body = json!({
        "body": bounded_text(input.req("body")?),
        "properties": [{"key": COMMENT_PROPERTY, "value": {"key": call.idempotency_key}}],
    });
    let (status, json, text) = jira.send(Method::POST, url, &[], Some(&body)).await?;
    if !status.is_success() {
        return Err(jira.refused(status, &json, &text));
    }
    let id = json["id"]
        .as_str()
        .map_or_else(|| json["id"].to_string(), str::to_owned);
    Ok(ActionResult::done(json!({"id": id, "created": true})))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode as S};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use serde_json::json;

    use super::*;
    use crate::HttpConfig;
    use crate::testutil::{Call, done, failed, local_http};

    /// A Jira speaking the documented v2 shapes, keeping issues and
    /// comments in memory.
    #[derive(Default)]
    struct FakeJira {
        issues: Vec<Value>,
        comments: Vec<(String, Value)>,
        creates: usize,
        posts: usize,
        /// Answer the v2 search with 410, as Jira Cloud does now.
        cloud: bool,
        /// The Authorization header every request must carry.
        auth: Option<String>,
        base: String,
    }

    type St = Arc<Mutex<FakeJira>>;

    fn authorized(st: &FakeJira, h: &HeaderMap) -> Option<Response> {
        let want = st.auth.as_deref()?;
        if h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want) {
            None
        } else {
            Some(
                (
                    S::UNAUTHORIZED,
                    Json(json!({"errorMessages": ["You are not authenticated."], "errors": {}})),
                )
                    .into_response(),
            )
        }
    }

    async fn search(
        State(st): State<St>,
        h: HeaderMap,
        Query(q): Query<Vec<(String, String)>>,
        uri: axum::http::Uri,
    ) -> Response {
        let st = st.lock().unwrap();
        if let Some(r) = authorized(&st, &h) {
            return r;
        }
        if st.cloud && uri.path() == "/rest/api/2/search" {
            return (
                S::GONE,
                Json(
                    json!({"errorMessages": ["The requested API has been removed."], "errors": {}}),
                ),
            )
                .into_response();
        }
        let jql = q
            .iter()
            .find(|(k, _)| k == "jql")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let label = jql
            .strip_prefix("labels = \"")
            .and_then(|r| r.strip_suffix('"'))
            .expect("a label query");
        let found: Vec<Value> = st
            .issues
            .iter()
            .filter(|i| {
                i["fields"]["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l == label)
            })
            .map(|i| json!({"id": i["id"], "key": i["key"], "self": i["self"]}))
            .collect();
        Json(json!({"startAt": 0, "maxResults": 1, "total": found.len(), "issues": found}))
            .into_response()
    }

    async fn create_issue(State(st): State<St>, h: HeaderMap, Json(body): Json<Value>) -> Response {
        let mut st = st.lock().unwrap();
        if let Some(r) = authorized(&st, &h) {
            return r;
        }
        st.creates += 1;
        let f = &body["fields"];
        if f["summary"].as_str().unwrap_or("").is_empty() {
            return (
                S::BAD_REQUEST,
                Json(json!({"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}})),
            )
                .into_response();
        }
        if f["project"]["key"] != "SOC" {
            return (
                S::BAD_REQUEST,
                Json(json!({"errorMessages": [], "errors": {"project": "valid project is required"}})),
            )
                .into_response();
        }
        let n = st.issues.len() + 1;
        let (id, key) = ((10000 + n).to_string(), format!("SOC-{n}"));
        let this = format!("{}/rest/api/2/issue/{id}", st.base);
        st.issues
            .push(json!({"id": id, "key": key, "self": this, "fields": f}));
        (
            S::CREATED,
            Json(json!({"id": id, "key": key, "self": this})),
        )
            .into_response()
    }

    async fn comments(
        State(st): State<St>,
        h: HeaderMap,
        Path(issue): Path<String>,
        Query(q): Query<Vec<(String, String)>>,
    ) -> Response {
        let st = st.lock().unwrap();
        if let Some(r) = authorized(&st, &h) {
            return r;
        }
        if !st.issues.iter().any(|i| i["key"] == issue.as_str()) {
            return (S::NOT_FOUND, Json(json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}))).into_response();
        }
        let expand = q.iter().any(|(k, v)| k == "expand" && v == "properties");
        let list: Vec<Value> = st
            .comments
            .iter()
            .rev()
            .filter(|(i, _)| *i == issue)
            .map(|(_, c)| {
                let mut c = c.clone();
                if !expand {
                    c.as_object_mut().unwrap().remove("properties");
                }
                c
            })
            .collect();
        Json(json!({"startAt": 0, "maxResults": 100, "total": list.len(), "comments": list}))
            .into_response()
    }

    async fn add_comment(
        State(st): State<St>,
        h: HeaderMap,
        Path(issue): Path<String>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut st = st.lock().unwrap();
        if let Some(r) = authorized(&st, &h) {
            return r;
        }
        st.posts += 1;
        let id = (20000 + st.comments.len()).to_string();
        let c = json!({"id": id, "body": body["body"], "properties": body["properties"]});
        st.comments.push((issue, c));
        (S::CREATED, Json(json!({"id": id, "body": body["body"]}))).into_response()
    }

    async fn jira(fake: FakeJira) -> (String, St) {
        let st: St = Arc::new(Mutex::new(fake));
        let router = axum::Router::new()
            .route("/jira/rest/api/2/search", get(search))
            .route("/jira/rest/api/2/search/jql", get(search))
            .route("/jira/rest/api/2/issue", axum::routing::post(create_issue))
            .route(
                "/jira/rest/api/2/issue/{issue}/comment",
                get(comments).post(add_comment),
            )
            .with_state(st.clone());
        // Jira under a context path, as Server installs often are.
        let base = format!("{}/jira", local_http(router).await);
        st.lock().unwrap().base = base.clone();
        (base, st)
    }

    fn http() -> Http {
        Http::new(&HttpConfig {
            allow_private: true,
            ..HttpConfig::default()
        })
        .unwrap()
    }

    fn create_call(base: &str) -> Call {
        Call::new(
            "ticket.create",
            json!({"url": format!("{base}/"), "project": "SOC",
                   "summary": "SSH brute force from 203.0.113.7\nsecond line",
                   "description": "42 failed logins", "labels": ["ssh", "rule ssh bruteforce"],
                   "user": "alice", "token": "t0ken"}),
        )
    }

    #[tokio::test]
    async fn creates_an_issue_and_a_retry_returns_it_instead_of_a_second() {
        let (base, st) = jira(FakeJira {
            auth: Some("Basic YWxpY2U6dDBrZW4=".into()),
            ..FakeJira::default()
        })
        .await;
        let call = create_call(&base);
        let out = done(create(&http(), &call.step()).await);
        assert_eq!(
            out,
            json!({"key": "SOC-1", "id": "10001", "url": format!("{base}/browse/SOC-1"), "created": true})
        );
        {
            let st = st.lock().unwrap();
            let f = &st.issues[0]["fields"];
            assert_eq!(f["summary"], "SSH brute force from 203.0.113.7 second line");
            assert_eq!(f["description"], "42 failed logins");
            assert_eq!(f["issuetype"], json!({"name": "Task"}));
            assert_eq!(f["project"], json!({"key": "SOC"}));
            let mark = format!("riposte-{}", key_digest(&call.key()));
            assert_eq!(f["labels"], json!(["ssh", "rule_ssh_bruteforce", mark]));
        }
        // The run crashed after Jira created the issue and before the step
        // was recorded: the step is performed again, with the same key.
        let again = create(&http(), &call.step()).await.unwrap();
        assert_eq!(
            again.output,
            json!({"key": "SOC-1", "id": "10001", "url": format!("{base}/browse/SOC-1"), "created": false})
        );
        assert_eq!(
            again.message.as_deref(),
            Some("SOC-1 was created by an earlier attempt of this step")
        );
        assert_eq!(st.lock().unwrap().creates, 1);
        assert_eq!(st.lock().unwrap().issues.len(), 1);
        // Another step (another key) creates its own.
        let other = create_call(&base);
        assert_eq!(done(create(&http(), &other.step()).await)["key"], "SOC-2");
    }

    #[tokio::test]
    async fn jira_cloud_search_is_used_when_v2_search_is_gone() {
        let (base, st) = jira(FakeJira {
            cloud: true,
            ..FakeJira::default()
        })
        .await;
        let call = Call::new(
            "ticket.create",
            json!({"url": base, "project": "SOC", "summary": "x", "issue_type": "Incident"}),
        );
        assert_eq!(done(create(&http(), &call.step()).await)["created"], true);
        assert_eq!(done(create(&http(), &call.step()).await)["created"], false);
        assert_eq!(st.lock().unwrap().creates, 1);
        assert_eq!(
            st.lock().unwrap().issues[0]["fields"]["issuetype"]["name"],
            "Incident"
        );
    }

    #[tokio::test]
    async fn jira_errors_are_quoted_and_credentials_are_not() {
        let (base, _st) = jira(FakeJira {
            auth: Some("Basic YWxpY2U6dDBrZW4=".into()),
            ..FakeJira::default()
        })
        .await;
        let call = Call::new(
            "ticket.create",
            json!({"url": base, "project": "SOC", "summary": " ", "user": "alice", "token": "t0ken"}),
        );
        assert_eq!(
            failed(create(&http(), &call.step()).await),
            format!(
                "Jira at {base} answered 400 Bad Request: summary: You must specify a summary of the issue."
            )
        );
        let call = Call::new(
            "ticket.create",
            json!({"url": base, "project": "SOC", "summary": "x", "user": "alice", "token": "wr0ng-t0ken"}),
        );
        let err = failed(create(&http(), &call.step()).await);
        assert_eq!(
            err,
            format!(
                "searching for an issue made before: Jira at {base} answered 401 Unauthorized: You are not authenticated. (check the user and token)"
            )
        );
        assert!(!err.contains("wr0ng"));
        let call = Call::new(
            "ticket.create",
            json!({"url": base, "project": "SOC", "summary": "x", "user": "alice"}),
        );
        assert_eq!(
            failed(create(&http(), &call.step()).await),
            "input user: given without a token"
        );
    }

    #[tokio::test]
    async fn comments_once_per_step() {
        let (base, st) = jira(FakeJira::default()).await;
        done(
            create(
                &http(),
                &Call::new(
                    "ticket.create",
                    json!({"url": base, "project": "SOC", "summary": "x"}),
                )
                .step(),
            )
            .await,
        );
        let call = Call::new(
            "ticket.comment",
            json!({"url": base, "issue": "SOC-1", "body": "Banned 203.0.113.7 for 4h."}),
        );
        assert_eq!(
            done(comment(&http(), &call.step()).await),
            json!({"id": "20000", "created": true})
        );
        let again = comment(&http(), &call.step()).await.unwrap();
        assert_eq!(again.output, json!({"id": "20000", "created": false}));
        let other = Call::new(
            "ticket.comment",
            json!({"url": base, "issue": "SOC-1", "body": "Unbanned."}),
        );
        assert_eq!(
            done(comment(&http(), &other.step()).await),
            json!({"id": "20001", "created": true})
        );
        {
            let st = st.lock().unwrap();
            assert_eq!(st.posts, 2);
            assert_eq!(st.comments[0].1["body"], "Banned 203.0.113.7 for 4h.");
            assert_eq!(
                st.comments[0].1["properties"],
                json!([{"key": "riposte.idempotency", "value": {"key": call.key()}}])
            );
        }
        let missing = Call::new(
            "ticket.comment",
            json!({"url": base, "issue": "SOC-99", "body": "x"}),
        );
        assert_eq!(
            failed(comment(&http(), &missing.step()).await),
            format!(
                "Jira at {base} answered 404 Not Found: Issue does not exist or you do not have permission to see it."
            )
        );
        for bad in ["../../admin", "SOC-1/../x", "SOC-", "-1", "SOC-1?x=1"] {
            let c = Call::new(
                "ticket.comment",
                json!({"url": base, "issue": bad, "body": "x"}),
            );
            assert_eq!(
                failed(comment(&http(), &c.step()).await),
                format!("input issue: {bad:?} is not an issue key (SOC-12) or id")
            );
        }
    }
}
