//! The closed set of actions a step can call, each with its typed inputs.
//!
//! A spec says which inputs an action takes and of what type, so that
//! `riposte playbook validate` rejects an unknown input, a missing one or a
//! literal of the wrong type before a playbook runs; templated inputs are
//! checked again once rendered. Where an action's effect lands decides how
//! it runs: database actions run inside a transaction together with the
//! step's record (exactly once), outside actions with an idempotency key
//! after the step is marked running (at least once, deduplicated by the
//! receiver where it can), read-only ones freely.

use riposte_model::parse_duration;
use serde_json::{Value, json};

/// The type of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Text; numbers and booleans are turned into text.
    Str,
    /// HTML text: its template escapes what it prints.
    Html,
    Int,
    Bool,
    /// `30s`, `4h`, `7d`.
    Duration,
    /// One of the listed names.
    Enum(&'static [&'static str]),
    /// A list of texts (a single text is taken as a one-item list).
    StrList,
    /// A mapping of names to texts (headers, query parameters).
    StrMap,
    /// Any JSON value (a request body).
    Any,
}

impl Ty {
    fn describe(self) -> String {
        match self {
            Ty::Str | Ty::Html => "a text".into(),
            Ty::Int => "an integer".into(),
            Ty::Bool => "true or false".into(),
            Ty::Duration => "a duration (e.g. 30s, 4h, 7d)".into(),
            Ty::Enum(names) => format!("one of {}", names.join(", ")),
            Ty::StrList => "a list of texts".into(),
            Ty::StrMap => "a mapping of names to texts".into(),
            Ty::Any => "any value".into(),
        }
    }

    /// Checks (and normalises) a value of this type: numbers to text for
    /// text inputs, a lone text to a list for lists.
    pub fn coerce(self, v: Value) -> Result<Value, String> {
        let bad = |v: &Value| {
            Err(format!(
                "{} is not {}",
                short(&v.to_string()),
                self.describe()
            ))
        };
        match (self, v) {
            (Ty::Str | Ty::Html, Value::String(s)) => Ok(Value::String(s)),
            (Ty::Str | Ty::Html, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Ty::Str | Ty::Html, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (Ty::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
            (Ty::Int, Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(json!(s.trim().parse::<i64>().unwrap_or_default()))
            }
            (Ty::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (Ty::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (Ty::Duration, Value::String(s)) => match parse_duration(&s) {
                Ok(_) => Ok(Value::String(s)),
                Err(e) => Err(e),
            },
            // `duration: 4` has no unit: the duration error says so.
            (Ty::Duration, Value::Number(n)) => Ty::Duration.coerce(Value::String(n.to_string())),
            (Ty::Enum(names), Value::String(s)) => {
                if names.contains(&s.as_str()) {
                    Ok(Value::String(s))
                } else {
                    Err(format!("{s:?} is not one of {}", names.join(", ")))
                }
            }
            (Ty::StrList, Value::String(s)) => Ok(json!([s])),
            (Ty::StrList, Value::Array(items)) => items
                .into_iter()
                .map(|i| Ty::Str.coerce(i))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (Ty::StrMap, Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| Ok((k, Ty::Str.coerce(v)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()
                .map(Value::Object),
            (Ty::Any, v) => Ok(v),
            (_, v) => bad(&v),
        }
    }
}

fn short(text: &str) -> String {
    if text.len() > 60 {
        let mut end = 57;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &text[..end])
    } else {
        text.to_owned()
    }
}

/// One input of an action.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

/// Where an action's effect lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Riposte's own store (cases, decisions): done in one transaction
    /// with the step's record, so exactly once.
    Db,
    /// Outside Riposte (mail, tickets, HTTP, programs): recorded, not done,
    /// in simulate and shadow modes; in enforce mode the step is marked
    /// running first and the action carries an idempotency key.
    Outside,
    /// Reads only (enrichment): done in every mode.
    Read,
}

/// An action: its name, inputs, effect, and what it returns in simulate
/// mode (the shape of a real output, so later steps can read it).
#[derive(Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub effect: Effect,
    /// Inputs whose templates escape for HTML.
    pub html: &'static [&'static str],
    pub simulated: fn() -> Value,
}

impl ActionSpec {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks rendered inputs: unknown and missing ones, and each value's
    /// type; returns them normalised.
    pub fn check(&self, input: Value) -> Result<Value, Vec<(String, String)>> {
        let Value::Object(map) = input else {
            return Err(vec![(String::new(), "inputs must be a mapping".into())]);
        };
        let mut errors = Vec::new();
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            // An optional input that rendered to null is left out.
            if v.is_null() && self.field(&k).is_some_and(|f| !f.required) {
                continue;
            }
            match self.field(&k) {
                None => errors.push((
                    k.clone(),
                    format!("unknown input of {} (valid: {})", self.name, self.names()),
                )),
                Some(f) => match f.ty.coerce(v) {
                    Ok(v) => {
                        out.insert(k, v);
                    }
                    Err(e) => errors.push((k, e)),
                },
            }
        }
        for f in self.fields.iter().filter(|f| f.required) {
            if !out.contains_key(f.name) && !errors.iter().any(|(k, _)| k == f.name) {
                errors.push((f.name.to_owned(), format!("missing input of {}", self.name)));
            }
        }
        if errors.is_empty() {
            Ok(Value::Object(out))
        } else {
            // By input name, whatever order the map keeps.
            errors.sort();
            Err(errors)
        }
    }

    pub fn names(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Decision kinds and scopes, as `decision` takes them.
pub const DECISION_KINDS: &[&str] = &[
    "ban",
    "throttle",
    "captcha",
    "disable_account",
    "quarantine_host",
];
pub const SCOPES: &[&str] = &["ip", "range", "user", "domain", "country", "asn"];
pub const INDICATOR_KINDS: &[&str] = &[
    "ip",
    "cidr",
    "domain",
    "url",
    "md5",
    "sha1",
    "sha256",
    "email",
    "ja3",
    "ja3s",
    "user-agent",
    "filename",
];
pub const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Every action, in the order the documentation lists them.
pub static ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "case.attach",
        fields: &[req("key", Ty::Str), req("title", Ty::Str)],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null, "created": false, "alerts": 0}),
    },
    ActionSpec {
        name: "case.create",
        fields: &[
            req("title", Ty::Str),
            opt("severity", Ty::Enum(SEVERITIES)),
            opt("key", Ty::Str),
            opt("description", Ty::Str),
            opt("assign", Ty::Str),
        ],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null, "created": false}),
    },
    ActionSpec {
        name: "case.update",
        fields: &[
            opt("case", Ty::Str),
            opt("title", Ty::Str),
            opt("severity", Ty::Enum(SEVERITIES)),
            opt("status", Ty::Enum(&["open", "closed"])),
        ],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null}),
    },
    ActionSpec {
        name: "case.comment",
        fields: &[opt("case", Ty::Str), req("text", Ty::Str)],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null, "comments": 0}),
    },
    ActionSpec {
        name: "case.assign",
        fields: &[opt("case", Ty::Str), req("to", Ty::Str)],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null, "assignee": null}),
    },
    ActionSpec {
        name: "escalate",
        fields: &[
            opt("case", Ty::Str),
            opt("assign", Ty::Str),
            opt("severity", Ty::Enum(SEVERITIES)),
            opt("comment", Ty::Str),
        ],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"case_id": null, "assignee": null, "severity": null}),
    },
    ActionSpec {
        name: "decision",
        fields: &[
            req("kind", Ty::Enum(DECISION_KINDS)),
            req("scope", Ty::Enum(SCOPES)),
            req("value", Ty::Str),
            opt("duration", Ty::Duration),
            opt("reason", Ty::Str),
            opt("confidence", Ty::Int),
        ],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"decision_id": null, "value": null, "state": "simulated", "expires_at": null}),
    },
    ActionSpec {
        name: "decision.ban",
        fields: &[
            req("scope", Ty::Enum(&["ip", "range"])),
            req("value", Ty::Str),
            req("duration", Ty::Duration),
            opt("reason", Ty::Str),
        ],
        effect: Effect::Db,
        html: &[],
        simulated: || json!({"decision_id": null, "value": null, "state": "simulated", "expires_at": null}),
    },
    ActionSpec {
        name: "enrich.geoip",
        fields: &[req("ip", Ty::Str)],
        effect: Effect::Read,
        html: &[],
        simulated: || json!({"ip": null, "country_code": null, "country": null, "city": null, "asn": null, "as_org": null}),
    },
    ActionSpec {
        name: "enrich.intel",
        fields: &[
            req("value", Ty::Str),
            opt("kind", Ty::Enum(INDICATOR_KINDS)),
        ],
        effect: Effect::Read,
        html: &[],
        simulated: || {
            json!({"value": null, "kind": null, "found": false, "indicators": [],
                   "max_confidence": null, "fit_for_detection": false})
        },
    },
    ActionSpec {
        name: "enrich.rdns",
        fields: &[req("ip", Ty::Str)],
        effect: Effect::Read,
        html: &[],
        simulated: || json!({"ip": null, "hostname": null, "hostnames": [], "confirmed": false}),
    },
    ActionSpec {
        name: "notify.email",
        fields: &[
            req("to", Ty::StrList),
            req("subject", Ty::Str),
            req("text", Ty::Str),
            opt("html", Ty::Html),
        ],
        effect: Effect::Outside,
        html: &["html"],
        simulated: || json!({"sent": false, "to": []}),
    },
    ActionSpec {
        name: "notify.webhook",
        fields: &[
            req("url", Ty::Str),
            req("json", Ty::Any),
            opt("headers", Ty::StrMap),
            opt("secret", Ty::Str),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"status": 0}),
    },
    ActionSpec {
        name: "notify.slack",
        fields: &[
            req("url", Ty::Str),
            req("text", Ty::Str),
            opt("channel", Ty::Str),
            opt("username", Ty::Str),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"status": 0}),
    },
    ActionSpec {
        name: "http.request",
        fields: &[
            req("url", Ty::Str),
            opt("method", Ty::Enum(HTTP_METHODS)),
            opt("headers", Ty::StrMap),
            opt("query", Ty::StrMap),
            opt("json", Ty::Any),
            opt("body", Ty::Str),
            opt("expect", Ty::StrList),
            opt("max_response_bytes", Ty::Int),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"status": 0, "headers": {}, "json": null, "text": "", "truncated": false}),
    },
    ActionSpec {
        name: "ticket.create",
        fields: &[
            req("url", Ty::Str),
            req("project", Ty::Str),
            req("summary", Ty::Str),
            opt("description", Ty::Str),
            opt("issue_type", Ty::Str),
            opt("labels", Ty::StrList),
            opt("user", Ty::Str),
            opt("token", Ty::Str),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"key": "SIMULATED-0", "id": null, "url": null, "created": false}),
    },
    ActionSpec {
        name: "ticket.comment",
        fields: &[
            req("url", Ty::Str),
            req("issue", Ty::Str),
            req("body", Ty::Str),
            opt("user", Ty::Str),
            opt("token", Ty::Str),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"id": null, "created": false}),
    },
    ActionSpec {
        name: "exec",
        fields: &[
            req("argv", Ty::StrList),
            opt("stdin", Ty::Str),
            opt("max_output", Ty::Int),
            opt("env", Ty::StrMap),
        ],
        effect: Effect::Outside,
        html: &[],
        simulated: || json!({"exit_code": 0, "stdout": "", "stderr": "", "truncated": false}),
    },
];

/// The spec of action `name`.
pub fn action(name: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Every action name, for "valid:" lists.
pub fn action_names() -> String {
    ACTIONS
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_and_normalised() {
        let spec = action("decision").unwrap();
        assert_eq!(
            spec.check(json!({"kind": "ban", "scope": "ip", "value": 7, "duration": "4h"}))
                .unwrap(),
            json!({"kind": "ban", "scope": "ip", "value": "7", "duration": "4h"})
        );
        let errs = spec
            .check(json!({"kind": "nuke", "value": "x", "duration": "soon", "colour": 1}))
            .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|(k, m)| format!("{k}: {m}")).collect();
        assert_eq!(
            msgs,
            [
                "colour: unknown input of decision (valid: kind, scope, value, duration, reason, confidence)",
                "duration: invalid duration \"soon\" (expected e.g. 60s, 15m, 4h, 1h30m, 7d)",
                "kind: \"nuke\" is not one of ban, throttle, captcha, disable_account, quarantine_host",
                "scope: missing input of decision",
            ]
        );
        assert_eq!(
            Ty::StrList.coerce(json!("soc@example.org")).unwrap(),
            json!(["soc@example.org"])
        );
        assert_eq!(
            Ty::Int.coerce(json!([1])).unwrap_err(),
            "[1] is not an integer"
        );
    }
}
