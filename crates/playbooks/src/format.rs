//! The playbook file format (`version: 1`) and its validation.

use std::collections::HashSet;
use std::path::Path;

use riposte_model::yaml::{check_keys, item_name, parse_document, take};
use riposte_model::{Alert, Confidence, Problems, Severity};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::Action;

/// Whether a playbook's side effects happen: shared with active response
/// (rules and the responder have a mode too; the most cautious wins).
pub use riposte_model::Mode;

/// Which alerts start the playbook. Every condition given must hold.
#[derive(Clone, Debug, Default)]
pub struct AlertTrigger {
    /// Rule ids; empty means any rule.
    pub rules: Vec<String>,
    pub min_severity: Option<Severity>,
    pub min_confidence: Option<Confidence>,
}

impl AlertTrigger {
    pub fn matches(&self, alert: &Alert) -> bool {
        (self.rules.is_empty() || self.rules.contains(&alert.rule_id))
            && self.min_severity.is_none_or(|s| alert.severity >= s)
            && self.min_confidence.is_none_or(|c| alert.confidence >= c)
    }
}

/// One validated step.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    pub action: Action,
}

/// A validated playbook.
#[derive(Clone, Debug)]
pub struct Playbook {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Bumped by authors when the procedure changes; recorded in every run.
    pub revision: u32,
    pub mode: Mode,
    pub trigger: AlertTrigger,
    pub steps: Vec<Step>,
    pub file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertTrigger {
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    min_confidence: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    alert: RawAlertTrigger,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    action: String,
    #[serde(default)]
    with: Value,
}

const TOP_KEYS: [&str; 8] = [
    "version",
    "id",
    "name",
    "description",
    "revision",
    "mode",
    "trigger",
    "steps",
];

/// Reads playbook files (or directories of them), reporting every problem.
/// With `known_rules`, triggers naming an unknown rule are errors too.
pub fn load_playbooks(
    paths: &[impl AsRef<Path>],
    known_rules: Option<&[&str]>,
) -> Result<Vec<Playbook>, Problems> {
    let mut problems = Problems::new();
    let mut out: Vec<Playbook> = Vec::new();
    for file in riposte_model::yaml::yaml_files(paths, &mut problems) {
        let name = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse_playbook(&name, &text) {
                Ok(pb) => {
                    if out.iter().any(|p| p.id == pb.id) {
                        problems.push(&name, "id", format!("duplicate playbook id {:?}", pb.id));
                    }
                    out.push(pb);
                }
                Err(p) => problems.extend(p),
            },
            Err(e) => problems.push(&name, "", format!("cannot read: {e}")),
        }
    }
    if let Some(known) = known_rules {
        for pb in &out {
            for rule in &pb.trigger.rules {
                if !known.contains(&rule.as_str()) {
                    problems.push(
                        &pb.file,
                        "trigger.alert.rules",
                        format!("unknown rule {rule:?} (loaded rules: {})", known.join(", ")),
                    );
                }
            }
        }
    }
    problems.into_result(out)
}

/// Parses and validates one playbook; `file` names it in messages.
pub fn parse_playbook(file: &str, text: &str) -> Result<Playbook, Problems> {
    let mut problems = Problems::new();
    let Some(doc) = parse_document(file, text, "playbook", &mut problems) else {
        return Err(problems);
    };
    check_keys(&doc, &TOP_KEYS, file, "", &mut problems);
    let mut required_str = |key: &str| match doc.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            problems.push(file, key, "must be a non-empty string");
            None
        }
        None => {
            problems.push(file, key, "missing");
            None
        }
    };
    let id = required_str("id");
    let name = required_str("name");
    let description = doc
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let revision = match doc.get("revision") {
        None => Some(1),
        Some(v) => take::<u32>(v.clone(), file, "revision", &mut problems),
    };
    let mode = match doc.get("mode") {
        None => Some(Mode::Enforce),
        Some(v) => take::<Mode>(v.clone(), file, "mode", &mut problems),
    };
    let trigger = match doc.get("trigger") {
        Some(v) => take::<RawTrigger>(v.clone(), file, "trigger", &mut problems)
            .and_then(|t| compile_trigger(t.alert, file, &mut problems)),
        None => {
            problems.push(
                file,
                "trigger",
                "missing; a playbook needs a trigger (trigger: { alert: … })",
            );
            None
        }
    };
    let mut steps = Vec::new();
    match doc.get("steps") {
        Some(Value::Sequence(items)) if !items.is_empty() => {
            let mut seen = HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let loc = format!("steps[{}]", item_name(item, i));
                let Some(raw) = take::<RawStep>(item.clone(), file, &loc, &mut problems) else {
                    continue;
                };
                if !seen.insert(raw.id.clone()) {
                    problems.push(file, &loc, format!("duplicate step id {:?}", raw.id));
                }
                if let Some(action) =
                    Action::parse(&raw.action, raw.with, file, &loc, &mut problems)
                {
                    steps.push(Step { id: raw.id, action });
                }
            }
        }
        Some(_) => problems.push(file, "steps", "must be a non-empty list of steps"),
        None => problems.push(file, "steps", "missing"),
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    match (id, name, revision, mode, trigger) {
        (Some(id), Some(name), Some(revision), Some(mode), Some(trigger)) => Ok(Playbook {
            id,
            name,
            description,
            revision,
            mode,
            trigger,
            steps,
            file: file.to_owned(),
        }),
        _ => Err(problems),
    }
}

fn compile_trigger(
    raw: RawAlertTrigger,
    file: &str,
    problems: &mut Problems,
) -> Option<AlertTrigger> {
    let before = problems.len();
    let min_severity = raw.min_severity.and_then(|s| {
        s.parse::<Severity>()
            .map_err(|e| problems.push(file, "trigger.alert.min_severity", e.to_string()))
            .ok()
    });
    let min_confidence = raw.min_confidence.and_then(|c| {
        Confidence::new(c)
            .map_err(|e| problems.push(file, "trigger.alert.min_confidence", e.to_string()))
            .ok()
    });
    (problems.len() == before).then_some(AlertTrigger {
        rules: raw.rules,
        min_severity,
        min_confidence,
    })
}
