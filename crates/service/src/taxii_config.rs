//! The `taxii:` section of riposte.yaml: which indicators `riposte serve`
//! shares over TAXII 2.1, and with whom.
//!
//! ```yaml
//! taxii:
//!   enabled: true
//!   title: Example CSIRT indicators
//!   contact: csirt@example.org
//!   listen: 0.0.0.0:9443          # optional: its own listener (authenticated,
//!                                 # so it may face partners); default: the API's
//!   collections:
//!     - id: 0f4ad2c8-7d3e-4d0a-9b1c-2a6f41d1c0de
//!       title: Botnet C2 addresses
//!       feeds: [feodo]              # default: every feed
//!       kinds: [ip, cidr]           # default: every kind
//!       max_tlp: green              # clear | green | amber | amber+strict
//!   clients:
//!     - name: partner-a
//!       token_env: TAXII_PARTNER_A  # or token_file: (mode 600), or token_sha256:
//!       collections: [0f4ad2c8-7d3e-4d0a-9b1c-2a6f41d1c0de]
//! ```
//!
//! Tokens are kept only as SHA-256 digests: a configuration can name a
//! client's token by its digest without holding the token at all. The
//! validated types are the TAXII server's (`riposte_server::TaxiiConfig`);
//! this file only reads them from the configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use riposte_model::yaml::{check_keys, take};
use riposte_model::{IndicatorKind, Problems, Tlp};
use riposte_server::{TaxiiClient, TaxiiCollection, TaxiiConfig};
use serde::Deserialize;
use serde_yaml_ng::Value;
use sha2::Digest;

use crate::config::{SecretSource, read_secret};

pub(crate) const TAXII_KEYS: [&str; 7] = [
    "enabled",
    "title",
    "description",
    "contact",
    "listen",
    "collections",
    "clients",
];

/// Tokens shorter than this are refused: they are all that stands between
/// the internet and the collections.
const MIN_TOKEN: usize = 16;

/// The TLPs a collection may be capped at.
const SHAREABLE_TLPS: &str = "clear, green, amber, amber+strict";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    feeds: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    max_tlp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    token_sha256: Option<String>,
    #[serde(default)]
    collections: Vec<String>,
}

/// Reads `taxii:` (absent or `enabled: false`: `None`, though a disabled
/// section is still checked). Every problem is pushed, each naming its item.
pub(crate) fn parse_taxii(
    section: Option<&Value>,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Option<TaxiiConfig> {
    let section = section?;
    let Value::Mapping(map) = section else {
        p.push(
            file,
            "taxii",
            format!("must be a mapping (keys: {})", TAXII_KEYS.join(", ")),
        );
        return None;
    };
    check_keys(map, &TAXII_KEYS, file, "taxii", p);
    let enabled = match map.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            p.push(file, "taxii.enabled", "must be true or false");
            false
        }
    };
    let text = |key: &str, p: &mut Problems| match map.get(key) {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            p.push(file, format!("taxii.{key}"), "must be a non-empty string");
            None
        }
    };
    let title = text("title", p).unwrap_or_else(|| "Riposte".to_owned());
    let description = text("description", p);
    let contact = text("contact", p);
    let listen = text("listen", p).and_then(|l| match l.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(e) => {
            p.push(
                file,
                "taxii.listen",
                format!("{l:?} is not an address:port ({e})"),
            );
            None
        }
    });

    let mut collections: Vec<TaxiiCollection> = Vec::new();
    // Every id declared, valid or not, so that a client naming a collection
    // with a mistake of its own is not reported twice.
    let mut declared: Vec<String> = Vec::new();
    for (i, item) in list(map.get("collections"), file, "taxii.collections", p)
        .iter()
        .enumerate()
    {
        let Some(raw) =
            take::<RawCollection>(item.clone(), file, &format!("taxii.collections[{i}]"), p)
        else {
            continue;
        };
        let loc = format!("taxii.collections[{}]", raw.id);
        if declared.contains(&raw.id) {
            p.push(file, &loc, format!("duplicate collection id {:?}", raw.id));
            continue;
        }
        declared.push(raw.id.clone());
        if let Some(c) = build_collection(raw, file, &loc, p) {
            collections.push(c);
        }
    }

    let mut clients: Vec<TaxiiClient> = Vec::new();
    for (i, item) in list(map.get("clients"), file, "taxii.clients", p)
        .iter()
        .enumerate()
    {
        let Some(raw) = take::<RawClient>(item.clone(), file, &format!("taxii.clients[{i}]"), p)
        else {
            continue;
        };
        let loc = format!("taxii.clients[{}]", raw.name);
        if clients.iter().any(|c| c.name == raw.name) {
            p.push(file, &loc, format!("duplicate client name {:?}", raw.name));
            continue;
        }
        if let Some(c) = build_client(raw, &declared, file, &loc, resolve, p) {
            if clients.iter().any(|o| o.token_sha256 == c.token_sha256) {
                p.push(
                    file,
                    &loc,
                    "has the same token as another client (each partner needs its own)",
                );
                continue;
            }
            clients.push(c);
        }
    }
    enabled.then_some(TaxiiConfig {
        title,
        description,
        contact,
        listen,
        collections,
        clients,
    })
}

fn list<'a>(v: Option<&'a Value>, file: &str, loc: &str, p: &mut Problems) -> &'a [Value] {
    match v {
        None => &[],
        Some(Value::Sequence(items)) => items,
        Some(_) => {
            p.push(file, loc, "must be a list");
            &[]
        }
    }
}

/// Collection ids appear in URLs: letters, digits, `-`, `_` and `.`
/// (a UUID is the usual choice).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
}

fn build_collection(
    raw: RawCollection,
    file: &str,
    loc: &str,
    p: &mut Problems,
) -> Option<TaxiiCollection> {
    let before = p.len();
    if !valid_id(&raw.id) {
        p.push(
            file,
            format!("{loc}.id"),
            format!(
                "{:?} is not a collection id (letters, digits, '-', '_' and '.'; a UUID is usual)",
                raw.id
            ),
        );
    }
    let max_tlp = match raw.max_tlp.as_deref() {
        None => Tlp::Clear,
        Some(t) => match t.parse::<Tlp>() {
            Ok(Tlp::Red) => {
                p.push(
                    file,
                    format!("{loc}.max_tlp"),
                    format!("TLP:RED is never shared (valid: {SHAREABLE_TLPS})"),
                );
                Tlp::Red
            }
            Ok(t) => t,
            Err(_) => {
                p.push(
                    file,
                    format!("{loc}.max_tlp"),
                    format!("unknown TLP {t:?} (valid: {SHAREABLE_TLPS})"),
                );
                Tlp::Red
            }
        },
    };
    let mut kinds = Vec::new();
    for k in &raw.kinds {
        match k.parse::<IndicatorKind>() {
            Ok(k) => kinds.push(k),
            Err(e) => p.push(file, format!("{loc}.kinds"), e.to_string()),
        }
    }
    for f in &raw.feeds {
        if f.is_empty() {
            p.push(file, format!("{loc}.feeds"), "a feed name cannot be empty");
        }
    }
    (p.len() == before).then_some(TaxiiCollection {
        id: raw.id,
        title: raw.title,
        description: raw.description,
        feeds: raw.feeds,
        kinds,
        max_tlp,
    })
}

fn build_client(
    raw: RawClient,
    collections: &[String],
    file: &str,
    loc: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Option<TaxiiClient> {
    let before = p.len();
    if raw.name.is_empty() || raw.name.contains(':') {
        p.push(
            file,
            format!("{loc}.name"),
            format!(
                "{:?} cannot be a client name (it is the HTTP Basic user: not empty, no ':')",
                raw.name
            ),
        );
    }
    for id in &raw.collections {
        if !collections.contains(id) {
            let known: Vec<&str> = collections.iter().map(String::as_str).collect();
            p.push(
                file,
                format!("{loc}.collections"),
                format!(
                    "unknown collection {id:?} (defined: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
    let plain = |token: String, key: &str, p: &mut Problems| {
        if token.len() < MIN_TOKEN {
            p.push(
                file,
                format!("{loc}.{key}"),
                format!(
                    "the token of client {:?} is shorter than {MIN_TOKEN} characters",
                    raw.name
                ),
            );
            return None;
        }
        Some(sha2::Sha256::digest(token.as_bytes()).into())
    };
    let digest: Option<[u8; 32]> = match (&raw.token_env, &raw.token_file, &raw.token_sha256) {
        (Some(var), None, None) => read_secret(&SecretSource::Env(var), file, loc, "token", p)
            .and_then(|t| plain(t, "token_env", p)),
        (None, Some(path), None) => {
            read_secret(&SecretSource::File(resolve(path)), file, loc, "token", p)
                .and_then(|t| plain(t, "token_file", p))
        }
        (None, None, Some(hexed)) => {
            let parsed = hex::decode(hexed.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            if parsed.is_none() {
                p.push(
                    file,
                    format!("{loc}.token_sha256"),
                    "must be 64 hex digits (sha256sum of the token)",
                );
            }
            parsed
        }
        _ => {
            p.push(
                file,
                loc,
                "give exactly one of token_env, token_file and token_sha256",
            );
            None
        }
    };
    let digest = digest?;
    (p.len() == before).then_some(TaxiiClient {
        name: raw.name,
        token_sha256: digest,
        collections: raw.collections,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Option<TaxiiConfig>, Vec<String>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut p = Problems::new();
        let c = parse_taxii(v.get("taxii"), "riposte.yaml", &|x| x.to_path_buf(), &mut p);
        if p.is_empty() {
            Ok(c)
        } else {
            Err(p.0.iter().map(ToString::to_string).collect())
        }
    }

    const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_valid_section_reads_whole() {
        let c = parse(&format!(
            "taxii:\n  title: T\n  collections:\n    - {{id: c1, title: One, kinds: [ip], max_tlp: amber+strict}}\n  clients:\n    - {{name: p, token_sha256: {DIGEST}, collections: [c1]}}\n"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.title, "T");
        assert_eq!(c.collections[0].max_tlp, Tlp::AmberStrict);
        assert_eq!(c.collections[0].kinds, [IndicatorKind::Ip]);
        assert_eq!(hex::encode(c.clients[0].token_sha256), DIGEST);
        assert_eq!(
            format!("{:?}", c.clients[0]),
            "TaxiiClient { name: \"p\", token_sha256: \"<redacted>\", collections: [\"c1\"] }"
        );
        let off = parse("taxii:\n  enabled: false\n").unwrap();
        assert_eq!(off, None);
    }

    #[test]
    fn every_mistake_is_reported_naming_its_item() {
        let errors = parse(&format!(
            "taxii:\n  collections:\n    - {{id: c1, title: One, max_tlp: red}}\n    - {{id: c2, title: Two, max_tlp: purple, kinds: [ipv9]}}\n    - {{id: c1, title: Again}}\n  clients:\n    - {{name: p, token_sha256: {DIGEST}, collections: [c1, nope]}}\n    - {{name: q, token_sha256: abc}}\n    - {{name: r, collections: [c1]}}\n"
        ))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "riposte.yaml: taxii.collections[c1].max_tlp: TLP:RED is never shared (valid: clear, green, amber, amber+strict)",
                "riposte.yaml: taxii.collections[c2].max_tlp: unknown TLP \"purple\" (valid: clear, green, amber, amber+strict)",
                "riposte.yaml: taxii.collections[c2].kinds: unknown indicator kind \"ipv9\" (valid: ip, cidr, domain, url, md5, sha1, sha256, email, ja3, ja3s, user-agent, filename)",
                "riposte.yaml: taxii.collections[c1]: duplicate collection id \"c1\"",
                "riposte.yaml: taxii.clients[p].collections: unknown collection \"nope\" (defined: c1, c2)",
                "riposte.yaml: taxii.clients[q].token_sha256: must be 64 hex digits (sha256sum of the token)",
                "riposte.yaml: taxii.clients[r]: give exactly one of token_env, token_file and token_sha256",
            ]
        );
    }
}
