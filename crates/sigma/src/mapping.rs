//! Logsource and field mapping, kept as data (`data/mapping.yml`, embedded)
//! so that users can map their own event sources without code.
//!
//! A mapping file (`version: 1`) has:
//! - `logsources`: entries keyed by Sigma's `product`/`category`/`service`;
//!   each says which events a rule with exactly that logsource sees
//!   (`when`: any-of a list of field equalities, all of one item must hold)
//!   and how Sigma field names map onto event fields (`fields`: a Sigma
//!   name to one event field or a list, of which the first present is read);
//! - `placeholders`: values for the `expand` modifier's `%name%`.
//!
//! A user file given to [`Mapping::extend_with`] replaces the entries with
//! the same key and adds the others; `replace: true` drops the built-in
//! entries first.

use std::collections::BTreeMap;

use riposte_model::{Event, FieldValue, Problems};
use serde::Deserialize;

/// The built-in mapping.
pub const DEFAULT_MAPPING: &str = include_str!("../data/mapping.yml");

/// A value a logsource condition compares a field with: an integer, a
/// string, or a string ending in `*` (a prefix).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CondValue {
    Int(i64),
    Str(String),
}

/// Sigma field name → event field names.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct FieldMap(pub BTreeMap<String, OneOrMany>);

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// One logsource entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsourceEntry {
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    /// Any-of; each item is a conjunction of field equalities.
    pub when: Vec<BTreeMap<String, CondValue>>,
    #[serde(default)]
    pub fields: FieldMap,
}

impl LogsourceEntry {
    pub fn key(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        (
            self.product.as_deref(),
            self.category.as_deref(),
            self.service.as_deref(),
        )
    }

    /// The event field names a Sigma field name maps to.
    pub fn event_fields(&self, sigma: &str) -> Vec<String> {
        self.fields
            .0
            .get(sigma)
            .map_or_else(|| vec![sigma.to_owned()], OneOrMany::to_vec)
    }

    /// Whether an event is one this logsource describes.
    pub fn matches(&self, ev: &Event) -> bool {
        self.when
            .iter()
            .any(|conj| conj.iter().all(|(field, want)| cond_holds(ev, field, want)))
    }
}

pub(crate) fn cond_holds(ev: &Event, field: &str, want: &CondValue) -> bool {
    match want {
        CondValue::Int(n) => match ev.fields.get(field) {
            Some(FieldValue::Int(i)) => i == n,
            Some(other) => other.as_str().is_some_and(|s| s.parse::<i64>() == Ok(*n)),
            None => false,
        },
        CondValue::Str(s) => {
            let Some(v) = ev.get_str(field) else {
                return false;
            };
            match s.strip_suffix('*') {
                Some(prefix) => v.starts_with(prefix),
                None => v == s,
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    version: u32,
    #[serde(default)]
    replace: bool,
    #[serde(default)]
    logsources: Vec<LogsourceEntry>,
    #[serde(default)]
    placeholders: BTreeMap<String, Vec<String>>,
}

/// Logsource entries and placeholders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    pub logsources: Vec<LogsourceEntry>,
    pub placeholders: BTreeMap<String, Vec<String>>,
}

impl Mapping {
    /// The built-in mapping (`data/mapping.yml`).
    pub fn builtin() -> Mapping {
        let mut m = Mapping::default();
        // The embedded file is tested to parse (see the tests below).
        let _ = m.extend_with("builtin mapping.yml", DEFAULT_MAPPING);
        m
    }

    /// The built-in mapping, read over by the user's file when there is one.
    pub fn builtin_with(file: Option<&std::path::Path>) -> Result<Mapping, Problems> {
        let mut m = Mapping::builtin();
        if let Some(file) = file {
            let name = file.display().to_string();
            match std::fs::read_to_string(file) {
                Ok(text) => m.extend_with(&name, &text)?,
                Err(e) => {
                    let mut p = Problems::new();
                    p.push(&name, "", format!("cannot read: {e}"));
                    return Err(p);
                }
            }
        }
        Ok(m)
    }

    /// Reads a user mapping file over this one: entries with the same
    /// product/category/service replace the existing ones, others are
    /// added, placeholders are replaced by name; `replace: true` starts
    /// from nothing. Every problem is reported with the file.
    pub fn extend_with(&mut self, file: &str, text: &str) -> Result<(), Problems> {
        let mut problems = Problems::new();
        let parsed: MappingFile = match serde_yaml_ng::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(file, "", format!("not a valid mapping file: {e}"));
                return Err(problems);
            }
        };
        if parsed.version != 1 {
            problems.push(
                file,
                "version",
                format!(
                    "unsupported mapping version {} (this Riposte reads version 1)",
                    parsed.version
                ),
            );
        }
        for (i, e) in parsed.logsources.iter().enumerate() {
            if e.product.is_none() && e.category.is_none() && e.service.is_none() {
                problems.push(
                    file,
                    format!("logsources[{i}]"),
                    "names none of product, category, service",
                );
            }
            if e.when.is_empty() || e.when.iter().any(BTreeMap::is_empty) {
                problems.push(
                    file,
                    format!("logsources[{i}].when"),
                    "needs at least one non-empty condition",
                );
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if parsed.replace {
            *self = Mapping::default();
        }
        for entry in parsed.logsources {
            match self.logsources.iter_mut().find(|e| e.key() == entry.key()) {
                Some(slot) => *slot = entry,
                None => self.logsources.push(entry),
            }
        }
        self.placeholders.extend(parsed.placeholders);
        Ok(())
    }

    /// The entry for a rule's logsource: the one whose product, category
    /// and service all equal the rule's (absent equals absent).
    pub fn find(
        &self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Option<usize> {
        let norm = |s: Option<&str>| s.map(|s| s.trim().to_ascii_lowercase());
        let want = (norm(product), norm(category), norm(service));
        self.logsources.iter().position(|e| {
            (
                norm(e.product.as_deref()),
                norm(e.category.as_deref()),
                norm(e.service.as_deref()),
            ) == want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_mapping_parses() {
        let mut m = Mapping::default();
        m.extend_with("mapping.yml", DEFAULT_MAPPING).unwrap();
        assert!(
            m.find(Some("windows"), Some("process_creation"), None)
                .is_some()
        );
        assert!(m.find(Some("windows"), None, Some("security")).is_some());
        assert_eq!(m, Mapping::builtin());
    }

    #[test]
    fn user_file_replaces_and_extends() {
        let mut m = Mapping::builtin();
        let n = m.logsources.len();
        m.extend_with(
            "mine.yml",
            "version: 1\nlogsources:\n  - product: windows\n    category: process_creation\n    when: [{Channel: Mine, EventID: 7}]\n  - product: acme\n    service: vpn\n    when: [{event.dataset: acme.vpn}]\n",
        )
        .unwrap();
        assert_eq!(m.logsources.len(), n + 1);
        let i = m
            .find(Some("windows"), Some("process_creation"), None)
            .unwrap();
        assert_eq!(m.logsources[i].when.len(), 1);
    }

    #[test]
    fn bad_mapping_files_name_every_problem() {
        let mut m = Mapping::default();
        let err = m
            .extend_with("bad.yml", "version: 2\nlogsources:\n  - when: []\n")
            .unwrap_err();
        let text: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "bad.yml: version: unsupported mapping version 2 (this Riposte reads version 1)",
                "bad.yml: logsources[0]: names none of product, category, service",
                "bad.yml: logsources[0].when: needs at least one non-empty condition",
            ]
        );
        let err = m
            .extend_with("bad.yml", "version: 1\nlogsourcez: []\n")
            .unwrap_err();
        assert!(
            err.0[0].message.contains("unknown field `logsourcez`"),
            "{err:?}"
        );
    }
}
