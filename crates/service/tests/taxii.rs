#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
//! The TAXII 2.1 server and the intel REST routes, served on a real
//! loopback socket and read with a real HTTP client, as a partner's TAXII
//! client would. The collections come from a `taxii:` section parsed by the
//! real configuration parser.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{TimeDelta, TimeZone, Utc};
use riposte_model::{Confidence, Indicator, IndicatorKind as K, Sighting, Timestamp, Tlp};
use riposte_server::{TaxiiState, app, taxii_router};
use serde_json::{Value, json};

mod common;

const PARTNER_A: &str = "partner-a-token-0123456789";
const PARTNER_B: &str = "partner-b-token-0123456789";
const TAXII: &str = "application/taxii+json;version=2.1";
const ROOT: &str = "/taxii2/riposte";

/// Two partners: A reads the green botnet collection and the amber
/// network collection, B only the clear one. Tokens by SHA-256 digest.
const CONFIG: &str = r#"version: 1
taxii:
  title: Example CSIRT
  description: Indicators for partners
  contact: csirt@example.org
  collections:
    - id: botnet-green
      title: Botnet, TLP:GREEN and below
      description: From the botnet feed
      feeds: [botnet]
      max_tlp: green
    - id: networks-amber
      title: Addresses and networks
      kinds: [ip, cidr]
      max_tlp: amber
    - id: public
      title: Public
  clients:
    - name: partner-a
      token_sha256: 96230a498e030540eed30eb645dd629085bd0afd38e43d86bcac32d8ab335f7b
      collections: [botnet-green, networks-amber]
    - name: partner-b
      token_sha256: c80d909df874666d4e799fad8ac492e69da07d105379d46e76a66b626018e760
      collections: [public]
"#;

fn at(h: u32, m: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0).unwrap()
}

fn ind(kind: K, value: &str, feed: &str, tlp: Tlp) -> Indicator {
    let mut i = Indicator::new(kind, value, feed);
    i.tlp = tlp;
    i
}

struct Server {
    url: String,
    state: riposte_server::AppState,
    http: reqwest::Client,
}

/// The store holds, by import time:
/// - 09:00 botnet: 203.0.113.1 (clear), 203.0.113.2 (green),
///   198.51.100.0/24 (amber), 203.0.113.66 (red);
/// - 09:30 botnet: c2.example (green), 203.0.113.3 (context only),
///   203.0.113.4 (expired at 09:59);
/// - 09:45 botnet: http://evil.example/x (clear); other: 192.0.2.9 (green).
///
/// The clock stands at 10:00.
async fn server() -> Server {
    server_limited(false).await
}

/// The server, with `serve`'s limit on failed authentications when
/// `limit` (every request here comes from 127.0.0.1, so the other tests,
/// which fail on purpose, go without).
async fn server_limited(limit: bool) -> Server {
    let (state, _clock) = common::state(1000).await;
    let config = riposte_service::Config::parse("riposte.yaml", CONFIG, Path::new("/srv"))
        .unwrap()
        .taxii
        .unwrap();
    let mut clear = ind(K::Ip, "203.0.113.1", "botnet", Tlp::Clear);
    clear.description = Some("Emotet C2".into());
    clear.tags = vec!["emotet".into()];
    clear.confidence = Confidence::new(90).unwrap();
    clear.first_seen = Some(at(8, 0));
    let mut context = ind(K::Ip, "203.0.113.3", "botnet", Tlp::Clear);
    context.to_ids = false;
    let mut expired = ind(K::Ip, "203.0.113.4", "botnet", Tlp::Clear);
    expired.valid_until = Some(at(9, 59));
    let imports = [
        (
            at(9, 0),
            vec![
                clear,
                ind(K::Ip, "203.0.113.2", "botnet", Tlp::Green),
                ind(K::Cidr, "198.51.100.0/24", "botnet", Tlp::Amber),
                ind(K::Ip, "203.0.113.66", "botnet", Tlp::Red),
            ],
        ),
        (
            at(9, 30),
            vec![
                ind(K::Domain, "c2.example", "botnet", Tlp::Green),
                context,
                expired,
            ],
        ),
        (
            at(9, 45),
            vec![
                ind(K::Url, "http://evil.example/x", "botnet", Tlp::Clear),
                ind(K::Ip, "192.0.2.9", "other", Tlp::Green),
            ],
        ),
    ];
    for (when, batch) in imports {
        let mut tx = state.store.begin().await.unwrap();
        tx.upsert_indicators(&batch, when).await.unwrap();
        tx.commit().await.unwrap();
    }
    let taxii = taxii_router(TaxiiState {
        config: Arc::new(config),
        store: state.store.clone(),
        clock: state.clock.clone(),
    });
    let taxii = if limit {
        riposte_server::limit_failures(taxii, state.guard.clone(), state.clock.clone())
    } else {
        taxii
    };
    let router = app(state.clone()).merge(taxii);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    Server {
        url,
        state,
        http: reqwest::Client::new(),
    }
}

/// Status, the headers that matter, and the JSON body.
struct Answer {
    status: u16,
    content_type: String,
    first: Option<String>,
    last: Option<String>,
    www_authenticate: Vec<String>,
    body: Value,
}

impl Server {
    async fn get_with(&self, path: &str, auth: Option<&str>, accept: Option<&str>) -> Answer {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let resp = req.send().await.unwrap();
        let h = resp.headers().clone();
        let one = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
        Answer {
            status: resp.status().as_u16(),
            content_type: one("content-type").unwrap_or_default(),
            first: one("x-taxii-date-added-first"),
            last: one("x-taxii-date-added-last"),
            www_authenticate: h
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }

    /// As partner A, accepting TAXII 2.1.
    async fn get(&self, path: &str) -> Answer {
        self.get_with(path, Some(&bearer(PARTNER_A)), Some(TAXII))
            .await
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(user: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    )
}

fn id_of(kind: K, value: &str, feed: &str) -> String {
    Indicator::new(kind, value, feed).stix_id()
}

fn ids(body: &Value) -> Vec<String> {
    body["objects"]
        .as_array()
        .map(|objects| {
            objects
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The botnet-green collection, in date-added order: no amber, no red, no
/// context-only, no expired, no other feed.
fn botnet_green_ids() -> Vec<String> {
    vec![
        id_of(K::Ip, "203.0.113.1", "botnet"),
        id_of(K::Ip, "203.0.113.2", "botnet"),
        id_of(K::Domain, "c2.example", "botnet"),
        id_of(K::Url, "http://evil.example/x", "botnet"),
    ]
}

fn error(status: u16, title: &str, description: &str) -> Value {
    json!({"title": title, "description": description, "http_status": status.to_string()})
}

#[tokio::test]
async fn discovery_api_root_and_collections_per_client() {
    let s = server().await;
    let d = s.get("/taxii2/").await;
    assert_eq!((d.status, d.content_type.as_str()), (200, TAXII));
    assert_eq!(
        d.body,
        json!({
            "title": "Example CSIRT",
            "description": "Indicators for partners",
            "contact": "csirt@example.org",
            "default": "/taxii2/riposte/",
            "api_roots": ["/taxii2/riposte/"],
        })
    );
    let r = s.get(&format!("{ROOT}/")).await;
    assert_eq!(
        (r.status, r.content_type.as_str(), r.body),
        (
            200,
            TAXII,
            json!({
                "title": "Example CSIRT",
                "description": "Indicators for partners",
                "versions": [TAXII],
                "max_content_length": 10_485_760,
            })
        )
    );
    let a = s.get(&format!("{ROOT}/collections/")).await;
    assert_eq!(
        a.body,
        json!({"collections": [
            {
                "id": "botnet-green",
                "title": "Botnet, TLP:GREEN and below",
                "description": "From the botnet feed",
                "can_read": true,
                "can_write": false,
                "media_types": ["application/stix+json;version=2.1"],
            },
            {
                "id": "networks-amber",
                "title": "Addresses and networks",
                "can_read": true,
                "can_write": false,
                "media_types": ["application/stix+json;version=2.1"],
            },
        ]})
    );
    // Partner B, with HTTP Basic, sees only its own.
    let b = s
        .get_with(
            &format!("{ROOT}/collections/"),
            Some(&basic("partner-b", PARTNER_B)),
            Some(TAXII),
        )
        .await;
    assert_eq!(b.status, 200);
    let listed: Vec<&str> = b.body["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["public"]);
    let one = s.get(&format!("{ROOT}/collections/networks-amber/")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, a.body["collections"][1]);
}

#[tokio::test]
async fn ten_wrong_taxii_credentials_lock_the_address_out_for_a_minute() {
    let s = server_limited(true).await;
    // Asking without credentials is not a guess: not counted.
    for _ in 0..12 {
        assert_eq!(s.get_with("/taxii2/", None, Some(TAXII)).await.status, 401);
    }
    assert_eq!(s.get("/taxii2/").await.status, 200);
    for _ in 0..10 {
        let wrong = bearer("partner-a-token-012345678X");
        assert_eq!(
            s.get_with("/taxii2/", Some(&wrong), Some(TAXII))
                .await
                .status,
            401
        );
    }
    // Now the right token waits too, and so does the API from there.
    let a = s.get("/taxii2/").await;
    assert_eq!(a.status, 429);
    assert_eq!(
        a.body["error"],
        "too many failed authentications from this address; try again in 60 s"
    );
    let api = s
        .http
        .get(format!("{}/api/v1/status", s.url))
        .bearer_auth(riposte_testkit::identity::VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
}

#[tokio::test]
async fn credentials_access_and_negotiation_errors() {
    let s = server().await;
    let unauthorized = error(
        401,
        "Authentication required",
        "send Authorization: Bearer <token>, or HTTP Basic with the client name and token",
    );
    let coll = format!("{ROOT}/collections/botnet-green/objects/");
    for auth in [
        None,
        Some(bearer("partner-a-token-012345678X")),
        Some(bearer("")),
        // The right token under another client's name.
        Some(basic("partner-b", PARTNER_A)),
        Some(basic("partner-a", "wrong-token-0123456789")),
        Some(format!("Token {PARTNER_A}")),
    ] {
        for path in ["/taxii2/", coll.as_str()] {
            let a = s.get_with(path, auth.as_deref(), Some(TAXII)).await;
            assert_eq!(
                (a.status, a.content_type.as_str(), &a.body),
                (401, TAXII, &unauthorized),
                "{auth:?} {path}"
            );
            assert_eq!(
                a.www_authenticate,
                [
                    "Basic realm=\"riposte-taxii\"",
                    "Bearer realm=\"riposte-taxii\""
                ]
            );
        }
    }
    // The right name and token over Basic.
    let ok = s
        .get_with(&coll, Some(&basic("partner-a", PARTNER_A)), Some(TAXII))
        .await;
    assert_eq!(ok.status, 200);

    // Partner B may not read A's collections; an unknown one is not found.
    for path in [
        format!("{ROOT}/collections/botnet-green/"),
        format!("{ROOT}/collections/botnet-green/objects/"),
        format!("{ROOT}/collections/botnet-green/manifest/"),
    ] {
        let b = s
            .get_with(&path, Some(&bearer(PARTNER_B)), Some(TAXII))
            .await;
        assert_eq!(
            (b.status, b.content_type.as_str(), b.body),
            (
                403,
                TAXII,
                error(
                    403,
                    "Forbidden",
                    "client \"partner-b\" may not read collection \"botnet-green\""
                )
            ),
            "{path}"
        );
    }
    for path in ["/taxii2/other-root/", "/taxii2/riposte/status/x/"] {
        let a = s.get(path).await;
        assert_eq!(
            (a.status, a.content_type.as_str(), a.body),
            (
                404,
                TAXII,
                error(
                    404,
                    "Not found",
                    "this server has one API root, /taxii2/riposte/"
                )
            ),
            "{path}"
        );
        let anonymous = s.get_with(path, None, Some(TAXII)).await;
        assert_eq!(anonymous.status, 401, "{path}");
    }
    let missing = s.get(&format!("{ROOT}/collections/nope/objects/")).await;
    assert_eq!(
        (missing.status, missing.body),
        (
            404,
            error(404, "Collection not found", "no collection \"nope\"")
        )
    );

    // Accept: TAXII 2.1, unversioned, or a wildcard; anything else is 406.
    for accept in [
        None,
        Some("application/taxii+json"),
        Some("*/*"),
        Some("application/taxii+json;version=2.1, text/html;q=0.5"),
    ] {
        let a = s.get_with(&coll, Some(&bearer(PARTNER_A)), accept).await;
        assert_eq!(a.status, 200, "{accept:?}");
    }
    for accept in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/html",
    ] {
        let a = s
            .get_with(&coll, Some(&bearer(PARTNER_A)), Some(accept))
            .await;
        assert_eq!(
            (a.status, a.content_type.as_str(), a.body),
            (
                406,
                TAXII,
                error(
                    406,
                    "Not acceptable",
                    "this server answers application/taxii+json;version=2.1 only"
                )
            ),
            "{accept}"
        );
    }
    // Malformed filters are TAXII 400s.
    for (query, description) in [
        ("limit=0", "limit: \"0\" is not a positive integer"),
        (
            "added_after=yesterday",
            "added_after: \"yesterday\" is not a timestamp (premature end of input)",
        ),
        (
            "next=garbage",
            "\"garbage\" is not a next token of this server",
        ),
    ] {
        let a = s.get(&format!("{coll}?{query}")).await;
        assert_eq!(
            (a.status, a.body),
            (400, error(400, "Bad request", description)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn objects_respect_the_tlp_ceiling_and_come_whole() {
    let s = server().await;
    let green = s
        .get(&format!("{ROOT}/collections/botnet-green/objects/"))
        .await;
    assert_eq!((green.status, green.content_type.as_str()), (200, TAXII));
    assert_eq!(ids(&green.body), botnet_green_ids());
    assert_eq!(green.body["more"], false);
    assert_eq!(green.body.get("next"), None);
    assert_eq!(
        (green.first.as_deref(), green.last.as_deref()),
        (
            Some("2026-03-14T09:00:00.000Z"),
            Some("2026-03-14T09:45:00.000Z")
        )
    );
    // The first object, whole: the STIX exporter's, version = date added.
    assert_eq!(
        green.body["objects"][0],
        json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id_of(K::Ip, "203.0.113.1", "botnet"),
            "created": "2026-03-14T08:00:00.000Z",
            "modified": "2026-03-14T09:00:00.000Z",
            "name": "Emotet C2",
            "pattern": "[ipv4-addr:value = '203.0.113.1']",
            "pattern_type": "stix",
            "valid_from": "2026-03-14T08:00:00.000Z",
            "confidence": 90,
            "indicator_types": ["malicious-activity"],
            "object_marking_refs": ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"],
            "labels": ["emotet"],
            "x_riposte_feed": "botnet",
            "x_riposte_to_ids": true,
        })
    );
    // Ids are the exporter's and stable across requests.
    let again = s
        .get(&format!("{ROOT}/collections/botnet-green/objects/"))
        .await;
    assert_eq!(again.body, green.body);

    // The amber collection: amber included, red never; kinds and feeds as
    // configured (any feed, addresses and networks only).
    let amber = s
        .get(&format!("{ROOT}/collections/networks-amber/objects/"))
        .await;
    assert_eq!(
        ids(&amber.body),
        [
            id_of(K::Cidr, "198.51.100.0/24", "botnet"),
            id_of(K::Ip, "203.0.113.1", "botnet"),
            id_of(K::Ip, "203.0.113.2", "botnet"),
            id_of(K::Ip, "192.0.2.9", "other"),
        ]
    );
    let markings: Vec<&str> = amber.body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object_marking_refs"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        markings,
        [
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        ]
    );

    // One object by id; the red one, and the amber one in the green
    // collection, do not exist there.
    let c2 = id_of(K::Domain, "c2.example", "botnet");
    let one = s
        .get(&format!("{ROOT}/collections/botnet-green/objects/{c2}/"))
        .await;
    assert_eq!(ids(&one.body), std::slice::from_ref(&c2));
    assert_eq!(one.body["more"], false);
    assert_eq!(
        (one.first.as_deref(), one.last.as_deref()),
        (
            Some("2026-03-14T09:30:00.000Z"),
            Some("2026-03-14T09:30:00.000Z")
        )
    );
    let versions = s
        .get(&format!(
            "{ROOT}/collections/botnet-green/objects/{c2}/versions/"
        ))
        .await;
    assert_eq!(
        versions.body,
        json!({"more": false, "versions": ["2026-03-14T09:30:00.000Z"]})
    );
    for (coll, id) in [
        ("botnet-green", id_of(K::Ip, "203.0.113.66", "botnet")),
        ("networks-amber", id_of(K::Ip, "203.0.113.66", "botnet")),
        ("botnet-green", id_of(K::Cidr, "198.51.100.0/24", "botnet")),
        ("botnet-green", id_of(K::Ip, "203.0.113.3", "botnet")),
        ("botnet-green", id_of(K::Ip, "203.0.113.4", "botnet")),
    ] {
        let a = s
            .get(&format!("{ROOT}/collections/{coll}/objects/{id}/"))
            .await;
        assert_eq!(
            (a.status, a.body),
            (
                404,
                error(
                    404,
                    "Object not found",
                    &format!("no object {id:?} in this collection")
                )
            )
        );
    }
}

#[tokio::test]
async fn paging_walks_next_once_each_in_date_added_order() {
    let s = server().await;
    let base = format!("{ROOT}/collections/botnet-green/objects/?limit=2");
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(n) => format!("{base}&next={n}"),
            None => base.clone(),
        };
        let a = s.get(&path).await;
        assert_eq!(a.status, 200);
        seen.extend(ids(&a.body));
        pages.push((a.first.clone(), a.last.clone(), a.body["more"].clone()));
        if a.body["more"] == false {
            assert_eq!(a.body.get("next"), None);
            break;
        }
        next = Some(a.body["next"].as_str().unwrap().to_owned());
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(seen, botnet_green_ids());
    assert_eq!(
        pages,
        [
            (
                Some("2026-03-14T09:00:00.000Z".to_owned()),
                Some("2026-03-14T09:00:00.000Z".to_owned()),
                json!(true)
            ),
            (
                Some("2026-03-14T09:30:00.000Z".to_owned()),
                Some("2026-03-14T09:45:00.000Z".to_owned()),
                json!(false)
            ),
        ]
    );

    // The manifest pages the same way and lists the same objects.
    let objects = s
        .get(&format!("{ROOT}/collections/botnet-green/objects/"))
        .await;
    let manifest = s
        .get(&format!("{ROOT}/collections/botnet-green/manifest/"))
        .await;
    assert_eq!(
        (manifest.status, manifest.content_type.as_str()),
        (200, TAXII)
    );
    assert_eq!(
        (&manifest.first, &manifest.last),
        (&objects.first, &objects.last)
    );
    let expected: Vec<Value> = objects.body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            json!({
                "id": o["id"],
                "date_added": o["modified"],
                "version": o["modified"],
                "media_type": "application/stix+json;version=2.1",
            })
        })
        .collect();
    assert_eq!(manifest.body, json!({"more": false, "objects": expected}));
    let m1 = s
        .get(&format!(
            "{ROOT}/collections/botnet-green/manifest/?limit=3"
        ))
        .await;
    assert_eq!(m1.body["objects"].as_array().unwrap().len(), 3);
    assert_eq!(m1.body["more"], true);
    let m2 = s
        .get(&format!(
            "{ROOT}/collections/botnet-green/manifest/?limit=3&next={}",
            m1.body["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(m2.body["objects"], json!([expected[3]]));

    // A limit above the cap is served as the cap.
    let big = s
        .get(&format!(
            "{ROOT}/collections/botnet-green/objects/?limit=100000"
        ))
        .await;
    assert_eq!(ids(&big.body), botnet_green_ids());
}

#[tokio::test]
async fn filters_added_after_id_type_and_version() {
    let s = server().await;
    let coll = format!("{ROOT}/collections/botnet-green/objects/");
    // Strictly after: the 09:00 import is left out.
    let a = s
        .get(&format!("{coll}?added_after=2026-03-14T09:00:00.000Z"))
        .await;
    assert_eq!(ids(&a.body), botnet_green_ids()[2..]);
    assert_eq!(
        (a.first.as_deref(), a.last.as_deref()),
        (
            Some("2026-03-14T09:30:00.000Z"),
            Some("2026-03-14T09:45:00.000Z")
        )
    );
    let a = s
        .get(&format!("{coll}?added_after=2026-03-14T10:30:00%2B01:00"))
        .await;
    // 09:30 UTC: the 09:30 import is left out too.
    assert_eq!(ids(&a.body), botnet_green_ids()[3..]);
    // Nothing newer: an envelope without objects, and no date headers.
    let none = s
        .get(&format!("{coll}?added_after=2026-03-14T09:45:00Z"))
        .await;
    assert_eq!(
        (none.status, none.body, none.first, none.last),
        (200, json!({"more": false}), None, None)
    );
    // match[id]: a list; ids outside the collection are simply absent.
    let wanted = format!(
        "{},{}",
        id_of(K::Url, "http://evil.example/x", "botnet"),
        id_of(K::Ip, "203.0.113.66", "botnet")
    );
    let by_id = s.get(&format!("{coll}?match[id]={wanted}")).await;
    assert_eq!(
        ids(&by_id.body),
        [id_of(K::Url, "http://evil.example/x", "botnet")]
    );
    // match[type]: only indicators here.
    let t = s.get(&format!("{coll}?match[type]=malware,report")).await;
    assert_eq!(t.body, json!({"more": false}));
    let t = s.get(&format!("{coll}?match[type]=indicator")).await;
    assert_eq!(ids(&t.body), botnet_green_ids());
    // match[version]: first/last/all are the one version; a timestamp
    // picks the objects of that version.
    let v = s.get(&format!("{coll}?match[version]=all")).await;
    assert_eq!(ids(&v.body), botnet_green_ids());
    let v = s
        .get(&format!("{coll}?match[version]=2026-03-14T09:30:00.000Z"))
        .await;
    assert_eq!(ids(&v.body), [id_of(K::Domain, "c2.example", "botnet")]);
    let v = s.get(&format!("{coll}?match[spec_version]=2.0")).await;
    assert_eq!(v.body, json!({"more": false}));
}

#[tokio::test]
async fn a_changed_indicator_is_added_again_and_red_stays_out() {
    let s = server().await;
    // A later import changes one indicator and raises another to red.
    let mut changed = ind(K::Ip, "203.0.113.2", "botnet", Tlp::Green);
    changed.confidence = Confidence::new(95).unwrap();
    let now_red = ind(K::Domain, "c2.example", "botnet", Tlp::Red);
    let mut tx = s.state.store.begin().await.unwrap();
    tx.upsert_indicators(&[changed, now_red], at(9, 50))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let a = s
        .get(&format!(
            "{ROOT}/collections/botnet-green/objects/?added_after=2026-03-14T09:45:00.000Z"
        ))
        .await;
    assert_eq!(ids(&a.body), [id_of(K::Ip, "203.0.113.2", "botnet")]);
    assert_eq!(a.body["objects"][0]["modified"], "2026-03-14T09:50:00.000Z");
    assert_eq!(a.body["objects"][0]["confidence"], 95);
    let all = s
        .get(&format!("{ROOT}/collections/botnet-green/objects/"))
        .await;
    assert_eq!(
        ids(&all.body),
        [
            id_of(K::Ip, "203.0.113.1", "botnet"),
            id_of(K::Url, "http://evil.example/x", "botnet"),
            id_of(K::Ip, "203.0.113.2", "botnet"),
        ]
    );
}

#[tokio::test]
async fn configuration_mistakes_name_the_item() {
    let bad = CONFIG
        .replace("max_tlp: amber", "max_tlp: red")
        .replace("collections: [public]", "collections: [public, secret]");
    let problems = riposte_service::Config::parse("riposte.yaml", &bad, Path::new("/srv"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "2 problems:\n  \
         riposte.yaml: taxii.collections[networks-amber].max_tlp: TLP:RED is never shared (valid: clear, green, amber, amber+strict)\n  \
         riposte.yaml: taxii.clients[partner-b].collections: unknown collection \"secret\" (defined: botnet-green, networks-amber, public)"
    );
}

#[tokio::test]
async fn intel_rest_routes_lookup_stats_and_page_sightings() {
    let s = server().await;
    let get = |path: String| {
        let http = s.http.clone();
        let url = format!("{}{path}", s.url);
        async move {
            let resp = http
                .get(url)
                .bearer_auth(riposte_testkit::identity::VIEWER)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    // An address inside the amber network: the network's indicator.
    let (status, body) = get("/api/v1/intel/lookup?value=198.51.100.7".into()).await;
    assert_eq!(status, 200);
    assert_eq!(body["kind"], "ip");
    assert_eq!(body["value"], "198.51.100.7");
    assert_eq!(
        body["found"],
        json!([{
            "kind": "cidr",
            "value": "198.51.100.0/24",
            "feed": "botnet",
            "confidence": 50,
            "tlp": "amber",
            "pap": "clear",
            "to_ids": true,
            "expired": false,
        }])
    );
    let expected = riposte_intel::lookup::lookup(s.state.store.as_ref(), None, "203.0.113.4")
        .await
        .unwrap();
    let (_, body) = get("/api/v1/intel/lookup?value=203.0.113.4".into()).await;
    assert_eq!(
        body["found"].as_array().unwrap().len(),
        expected.found.len()
    );
    assert_eq!(body["found"][0]["expired"], true);
    let (status, body) = get("/api/v1/intel/lookup?value=nothing.example&kind=domain".into()).await;
    assert_eq!((status, body["found"].clone()), (200, json!([])));
    let (status, body) = get("/api/v1/intel/lookup?value=300.1.2.3&kind=ip".into()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = get("/api/v1/intel/lookup".into()).await;
    assert_eq!((status, body), (400, json!({"error": "value is required"})));

    // Sightings, newest first, three pages of two then one.
    let sightings: Vec<Sighting> = (0..5)
        .map(|i| Sighting {
            kind: K::Ip,
            value: format!("203.0.113.{}", i + 1).into(),
            source: "eve".into(),
            field: "destination.ip".into(),
            count: i + 1,
            first_seen: at(9, 0),
            last_seen: at(9, 0) + TimeDelta::minutes(i as i64),
        })
        .collect();
    let mut tx = s.state.store.begin().await.unwrap();
    tx.record_sightings(&sightings).await.unwrap();
    tx.commit().await.unwrap();
    let mut values = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = next
            .as_ref()
            .map_or("limit=2".to_owned(), |n| format!("limit=2&next={n}"));
        let (status, body) = get(format!("/api/v1/intel/sightings?{q}")).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for s in body["sightings"].as_array().unwrap() {
            values.push(s["value"].as_str().unwrap().to_owned());
        }
        match body["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        values,
        [
            "203.0.113.5",
            "203.0.113.4",
            "203.0.113.3",
            "203.0.113.2",
            "203.0.113.1"
        ]
    );

    let (status, stats) = get("/api/v1/intel/stats".into()).await;
    assert_eq!(status, 200);
    assert_eq!(stats["indicators"], 9);
    assert_eq!(
        stats["counts"],
        json!([
            {"feed": "botnet", "kind": "cidr", "indicators": 1, "to_ids": 1},
            {"feed": "botnet", "kind": "domain", "indicators": 1, "to_ids": 1},
            {"feed": "botnet", "kind": "ip", "indicators": 5, "to_ids": 4},
            {"feed": "botnet", "kind": "url", "indicators": 1, "to_ids": 1},
            {"feed": "other", "kind": "ip", "indicators": 1, "to_ids": 1},
        ])
    );
    assert_eq!(stats["feeds"], json!({}));
    assert_eq!(stats["recent_sightings"].as_array().unwrap().len(), 5);
    assert_eq!(stats["recent_sightings"][0]["value"], "203.0.113.5");
}
