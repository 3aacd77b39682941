//! Loading user-written YAML so that every mistake is reported, not just the
//! first: a document is parsed into a tree, then each item is deserialized on
//! its own and its errors are collected with the file and item named.

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::Problems;

/// Parses a YAML document and checks its `version` key against the one
/// version this build reads. `what` names the format in messages.
pub fn parse_document(
    file: &str,
    text: &str,
    what: &str,
    problems: &mut Problems,
) -> Option<serde_yaml_ng::Mapping> {
    let doc: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(file, "", format!("not valid YAML: {e}"));
            return None;
        }
    };
    let Value::Mapping(map) = doc else {
        problems.push(file, "", format!("a {what} file must be a YAML mapping"));
        return None;
    };
    match map.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(other) => problems.push(
            file,
            "version",
            format!(
                "unsupported {what} version {} (this Riposte reads version 1)",
                display_value(other)
            ),
        ),
        None => problems.push(
            file,
            "version",
            format!("missing; {what} files start with `version: 1`"),
        ),
    }
    Some(map)
}

/// Deserializes one item, recording its error under `location` instead of
/// stopping.
pub fn take<T: DeserializeOwned>(
    value: Value,
    file: &str,
    location: &str,
    problems: &mut Problems,
) -> Option<T> {
    match serde_yaml_ng::from_value(value) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(file, location, e.to_string());
            None
        }
    }
}

/// A scalar's plain text (`4`, `4h`, `true`); other values as YAML.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => display_value(other),
    }
}

/// A scalar's text for messages.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        _ => serde_yaml_ng::to_string(v)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// Reads the `id` of an item for error locations, falling back to its index.
pub fn item_name(value: &Value, index: usize) -> String {
    match value.get("id") {
        Some(Value::String(id)) => id.clone(),
        _ => format!("#{}", index + 1),
    }
}

/// Rejects keys of a mapping that are not in `allowed`, naming the valid ones.
pub fn check_keys(
    map: &serde_yaml_ng::Mapping,
    allowed: &[&str],
    file: &str,
    location: &str,
    problems: &mut Problems,
) {
    for key in map.keys() {
        let name = key.as_str().unwrap_or("<non-string key>");
        if !allowed.contains(&name) {
            let at = if location.is_empty() {
                name.to_owned()
            } else {
                format!("{location}.{name}")
            };
            problems.push(
                file,
                at,
                format!("unknown key (valid: {})", allowed.join(", ")),
            );
        }
    }
}

/// Expands a list of files and directories into the YAML files to load:
/// directories contribute their `*.yaml`/`*.yml` entries, sorted, so load
/// order (and first-match behaviour) is stable.
pub fn yaml_files(
    paths: &[impl AsRef<std::path::Path>],
    problems: &mut Problems,
) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<_> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file()
                                && matches!(
                                    p.extension().and_then(|e| e.to_str()),
                                    Some("yaml" | "yml")
                                )
                        })
                        .collect();
                    files.sort();
                    out.extend(files);
                }
                Err(e) => problems.push(
                    &path.display().to_string(),
                    "",
                    format!("cannot read directory: {e}"),
                ),
            }
        } else {
            out.push(path.to_path_buf());
        }
    }
    out
}
