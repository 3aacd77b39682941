//! A read-only TAXII 2.1 server: the indicator store shared with partners
//! as STIX 2.1 `indicator` objects, in collections configured under
//! `taxii:` (see [`TaxiiConfig`]).
//!
//! - `GET /taxii2/`: discovery; one API root, [`API_ROOT`].
//! - `GET /taxii2/riposte/`: the API root.
//! - `GET …/collections/`, `…/collections/{id}/`: the collections this
//!   client may read (`can_read: true`, `can_write: false`).
//! - `GET …/collections/{id}/objects/`, `…/manifest/`,
//!   `…/objects/{object-id}/`, `…/objects/{object-id}/versions/`: see
//!   [`objects`].
//!
//! Every request authenticates, with `Authorization: Bearer <token>` or
//! HTTP Basic (`<client name>:<token>`); tokens are compared by SHA-256
//! digest, every client's, in constant time. A collection exists for a
//! client only if the client is granted it: an unknown id is 404, a known
//! one not granted is 403. Errors are TAXII error messages
//! (`{"title", "description", "http_status"}`), and every answer is
//! `application/taxii+json;version=2.1`; a client that accepts neither that
//! nor a wildcard gets 406.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use riposte_model::Clock;
use riposte_store::Store;
use serde_json::{Value, json};

mod config;
mod objects;

pub use config::{TaxiiClient, TaxiiCollection, TaxiiConfig};

/// The one API root's name (`/taxii2/riposte/`).
pub const API_ROOT: &str = "riposte";
/// The TAXII media type every answer carries.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the objects.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// The API root's `max_content_length`: the REST API's body limit (TAXII
/// here is read-only, so nothing is ever posted to it).
const MAX_CONTENT_LENGTH: usize = crate::api::MAX_BODY_BYTES;

/// What the TAXII handlers share.
#[derive(Clone, Debug)]
pub struct TaxiiState {
    pub config: Arc<TaxiiConfig>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

/// The TAXII routes, to be merged into the API's router or served on a
/// listener of their own (`taxii.listen`).
pub fn taxii_router(state: TaxiiState) -> Router {
    let root = format!("/taxii2/{API_ROOT}");
    Router::new()
        .route("/taxii2/", get(discovery))
        .route(&format!("{root}/"), get(api_root))
        .route(&format!("{root}/collections/"), get(collections))
        .route(&format!("{root}/collections/{{id}}/"), get(collection))
        .route(
            &format!("{root}/collections/{{id}}/objects/"),
            get(objects::objects),
        )
        .route(
            &format!("{root}/collections/{{id}}/manifest/"),
            get(objects::manifest),
        )
        .route(
            &format!("{root}/collections/{{id}}/objects/{{object_id}}/"),
            get(objects::object),
        )
        .route(
            &format!("{root}/collections/{{id}}/objects/{{object_id}}/versions/"),
            get(objects::versions),
        )
        .route("/taxii2/{*rest}", get(unknown))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            crate::api::MAX_CONCURRENT_REQUESTS,
        ))
        .with_state(state)
}

/// A TAXII error message with its status.
#[derive(Debug)]
pub(crate) struct TaxiiError {
    status: StatusCode,
    title: &'static str,
    description: String,
}

impl TaxiiError {
    pub(crate) fn new(
        status: StatusCode,
        title: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            title,
            description: description.into(),
        }
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", description)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "send Authorization: Bearer <token>, or HTTP Basic with the client name and token",
        )
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut resp = taxii_response(self.status, &body, HeaderMap::new());
        if self.status == StatusCode::UNAUTHORIZED {
            let h = resp.headers_mut();
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"riposte-taxii\""),
            );
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"riposte-taxii\""),
            );
        }
        resp
    }
}

impl From<riposte_store::StoreError> for TaxiiError {
    fn from(e: riposte_store::StoreError) -> Self {
        // Logged in full; the client learns nothing about the store.
        tracing::error!(error = %e, "TAXII request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "the server could not answer; try again later",
        )
    }
}

/// A JSON body as `application/taxii+json;version=2.1`.
pub(crate) fn taxii_response(status: StatusCode, body: &Value, headers: HeaderMap) -> Response {
    let mut resp = (status, headers, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    resp
}

impl TaxiiState {
    /// The client these credentials belong to, and a check that it can
    /// read TAXII answers at all.
    pub(crate) fn client(&self, headers: &HeaderMap) -> Result<&TaxiiClient, TaxiiError> {
        let client = self
            .authenticate(headers)
            .ok_or_else(TaxiiError::unauthorized)?;
        if !accepts_taxii(headers) {
            return Err(TaxiiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "Not acceptable",
                format!("this server answers {TAXII_MEDIA_TYPE} only"),
            ));
        }
        Ok(client)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Option<&TaxiiClient> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, rest) = value.split_once(' ')?;
        let rest = rest.trim();
        let (user, token) = if scheme.eq_ignore_ascii_case("bearer") {
            (None, rest.to_owned())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, pass) = decoded.split_once(':')?;
            (Some(user.to_owned()), pass.to_owned())
        } else {
            return None;
        };
        let digest = crate::secret::digest(token.as_bytes());
        // Every client's digest is compared, each in constant time, so the
        // timing tells nothing about which one (or how much of it) matched.
        let mut found = None;
        for c in &self.config.clients {
            if crate::secret::digests_equal(&digest, &c.token_sha256) {
                found = Some(c);
            }
        }
        let found = found?;
        match user {
            Some(u) if u != found.name => None,
            _ => Some(found),
        }
    }

    /// The collection `id`, if this client may read it.
    pub(crate) fn collection(
        &self,
        client: &TaxiiClient,
        id: &str,
    ) -> Result<&TaxiiCollection, TaxiiError> {
        let c = self
            .config
            .collections
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                TaxiiError::new(
                    StatusCode::NOT_FOUND,
                    "Collection not found",
                    format!("no collection {id:?}"),
                )
            })?;
        if !client.collections.iter().any(|g| g == id) {
            return Err(TaxiiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("client {:?} may not read collection {id:?}", client.name),
            ));
        }
        Ok(c)
    }
}

/// Whether the `Accept` header allows a TAXII 2.1 answer: absent, a
/// wildcard, or `application/taxii+json` without a version or with 2.1.
fn accepts_taxii(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut version = None;
            let mut refused = false;
            for param in parts {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "version" => version = Some(v.to_owned()),
                    "q" => refused = v.parse::<f32>().is_ok_and(|q| q <= 0.0),
                    _ => {}
                }
            }
            !refused
                && match media.as_str() {
                    "*/*" | "application/*" => true,
                    "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
                    _ => false,
                }
        })
}

async fn discovery(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    s.client(&headers)?;
    let c = &s.config;
    let root = format!("/taxii2/{API_ROOT}/");
    let mut body = json!({
        "title": c.title,
        "default": root,
        "api_roots": [root],
    });
    if let Some(d) = &c.description {
        body["description"] = json!(d);
    }
    if let Some(contact) = &c.contact {
        body["contact"] = json!(contact);
    }
    Ok(taxii_response(StatusCode::OK, &body, HeaderMap::new()))
}

async fn api_root(State(s): State<TaxiiState>, headers: HeaderMap) -> Result<Response, TaxiiError> {
    s.client(&headers)?;
    let mut body = json!({
        "title": s.config.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": MAX_CONTENT_LENGTH,
    });
    if let Some(d) = &s.config.description {
        body["description"] = json!(d);
    }
    Ok(taxii_response(StatusCode::OK, &body, HeaderMap::new()))
}

fn collection_resource(c: &TaxiiCollection) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    v
}

/// The collections this client may read, in configuration order; `{}`
/// when it may read none.
async fn collections(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    let client = s.client(&headers)?;
    let readable: Vec<Value> = s
        .config
        .collections
        .iter()
        .filter(|c| client.collections.contains(&c.id))
        .map(collection_resource)
        .collect();
    let body = if readable.is_empty() {
        json!({})
    } else {
        json!({ "collections": readable })
    };
    Ok(taxii_response(StatusCode::OK, &body, HeaderMap::new()))
}

async fn collection(
    State(s): State<TaxiiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    let client = s.client(&headers)?;
    let c = s.collection(client, &id)?;
    Ok(taxii_response(
        StatusCode::OK,
        &collection_resource(c),
        HeaderMap::new(),
    ))
}

/// Any other path under `/taxii2/`: a TAXII 404 (after authentication, so
/// that the server's layout is shown to clients only).
async fn unknown(State(s): State<TaxiiState>, headers: HeaderMap) -> Result<Response, TaxiiError> {
    s.client(&headers)?;
    Err(TaxiiError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("this server has one API root, /taxii2/{API_ROOT}/"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
        );
        accepts_taxii(&h)
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepts_taxii(&HeaderMap::new()));
        assert!(accept("application/taxii+json;version=2.1"));
        assert!(accept("application/taxii+json; version=\"2.1\""));
        assert!(accept("application/taxii+json"));
        assert!(accept("text/html, */*;q=0.8"));
        assert!(!accept("application/taxii+json;version=2.0"));
        assert!(!accept("application/json"));
        assert!(!accept("application/taxii+json;version=2.1;q=0"));
    }
}
