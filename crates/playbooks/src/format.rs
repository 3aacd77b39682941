//! The playbook file format (`version: 1`) and its validation.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use riposte_model::yaml::{check_keys, parse_document, scalar_text, take};
use riposte_model::{Alert, Confidence, Problems, Severity, parse_duration};
use riposte_template::Expr;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::step::{OnError, Step, StepKind, StepParser};

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
    /// `where:` an expression over `alert` (its fields, group, observables).
    pub filter: Option<Expr>,
}

impl AlertTrigger {
    pub fn matches(&self, alert: &Alert) -> bool {
        (self.rules.is_empty() || self.rules.contains(&alert.rule_id))
            && self.min_severity.is_none_or(|s| alert.severity >= s)
            && self.min_confidence.is_none_or(|c| alert.confidence >= c)
            && self.filter.as_ref().is_none_or(|f| {
                let ctx = serde_json::json!({ "alert": alert });
                f.is_true(&ctx).unwrap_or_else(|e| {
                    tracing::warn!(rule = %alert.rule_id, error = %e, "trigger filter failed; not triggered");
                    false
                })
            })
    }
}

/// What happened to a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEvent {
    Created,
    Updated,
}

/// Which case changes start the playbook.
#[derive(Clone, Debug)]
pub struct CaseTrigger {
    pub on: Vec<CaseEvent>,
    pub min_severity: Option<Severity>,
    /// An `updated` case starts the playbook at most once per this time
    /// (a busy case is updated by every alert attached to it).
    pub cooldown: chrono::TimeDelta,
}

impl CaseTrigger {
    /// Whether this change of `case` starts the playbook (the cooldown is
    /// the caller's to keep).
    pub fn matches(&self, case: &riposte_model::Case, created: bool) -> bool {
        let event = if created {
            CaseEvent::Created
        } else {
            CaseEvent::Updated
        };
        self.on.contains(&event) && self.min_severity.is_none_or(|s| case.severity >= s)
    }
}

/// `schedule: { cron: "0 7 * * *" }`: five fields, UTC.
#[derive(Clone, Debug)]
pub struct ScheduleTrigger {
    pub cron: String,
    pub parsed: croner::Cron,
}

/// What may start a playbook; at least one.
#[derive(Clone, Debug, Default)]
pub struct Triggers {
    pub alert: Option<AlertTrigger>,
    pub case: Option<CaseTrigger>,
    pub schedule: Option<ScheduleTrigger>,
    /// `webhook: { secret: NAME }`: `POST /api/v1/playbooks/ID/webhook` with
    /// `Authorization: Bearer <the secret's value>`.
    pub webhook: Option<String>,
    /// `manual: true`: `riposte playbook run` and `POST …/runs`.
    pub manual: bool,
}

/// An input a manual or webhook run passes, or a `call` step.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    pub ty: InputType,
    pub required: bool,
    pub default: Option<serde_json::Value>,
    pub description: Option<String>,
}

/// The types an input may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    String,
    Int,
    Bool,
    Ip,
    List,
    Object,
}

impl InputType {
    /// Checks a supplied value.
    pub fn check(self, v: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value as J;
        let ok = match (self, v) {
            (InputType::String, J::String(_)) => true,
            (InputType::Int, J::Number(n)) => n.is_i64() || n.is_u64(),
            (InputType::Bool, J::Bool(_)) => true,
            (InputType::Ip, J::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
            (InputType::List, J::Array(_)) => true,
            (InputType::Object, J::Object(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{v} is not of type {self:?}").to_lowercase())
        }
    }
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
    pub trigger: Triggers,
    pub inputs: BTreeMap<String, InputSpec>,
    /// `vars:`: constants templates read as `vars.NAME`.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Runs of this playbook executing at once, at most (waiting ones do
    /// not count).
    pub concurrency: Option<u32>,
    /// A run still unfinished this long after it started fails.
    pub timeout: Option<chrono::TimeDelta>,
    pub steps: Vec<Step>,
    /// Run when the run fails, with `error` set.
    pub on_error: Vec<Step>,
    pub file: String,
    /// Secret names its templates read (`secrets.NAME`), checked against
    /// the configuration's secrets.
    pub secrets: BTreeSet<String>,
    /// Playbooks its `call` steps name.
    pub calls: BTreeSet<String>,
}

impl Playbook {
    /// A webhook run's inputs: the body's top-level keys this playbook
    /// declares as inputs, checked and given their defaults like a manual
    /// run's; the body's other keys (a foreign system's payload) are left
    /// to `trigger.data`.
    pub fn webhook_inputs(
        &self,
        body: &serde_json::Value,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Vec<String>> {
        let given: serde_json::Map<String, serde_json::Value> = body
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| self.inputs.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        self.check_inputs(&given)
    }

    /// Validates and fills a manual or webhook run's inputs: unknown and
    /// missing ones and wrong types are errors; defaults are applied.
    pub fn check_inputs(
        &self,
        given: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Vec<String>> {
        let mut errors = Vec::new();
        let mut out = serde_json::Map::new();
        for (k, v) in given {
            match self.inputs.get(k) {
                None => errors.push(format!(
                    "unknown input {k:?} (declared: {})",
                    self.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
                Some(spec) => match spec.ty.check(v) {
                    Ok(()) => {
                        out.insert(k.clone(), v.clone());
                    }
                    Err(e) => errors.push(format!("input {k}: {e}")),
                },
            }
        }
        for (k, spec) in &self.inputs {
            if out.contains_key(k) || given.contains_key(k) {
                continue;
            }
            match (&spec.default, spec.required) {
                (Some(d), _) => {
                    out.insert(k.clone(), d.clone());
                }
                (None, true) => errors.push(format!("input {k} is required")),
                (None, false) => {
                    out.insert(k.clone(), serde_json::Value::Null);
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            errors.sort();
            Err(errors)
        }
    }
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
    #[serde(default, rename = "where")]
    filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaseTrigger {
    #[serde(default)]
    on: Option<Vec<CaseEvent>>,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    cooldown: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    #[serde(default)]
    alert: Option<RawAlertTrigger>,
    #[serde(default)]
    case: Option<RawCaseTrigger>,
    #[serde(default)]
    schedule: Option<RawSchedule>,
    #[serde(default)]
    webhook: Option<RawWebhook>,
    #[serde(default)]
    manual: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    #[serde(rename = "type")]
    ty: InputType,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<serde_json::Value>,
    #[serde(default)]
    description: Option<String>,
}

const TOP_KEYS: [&str; 13] = [
    "version",
    "id",
    "name",
    "description",
    "revision",
    "mode",
    "trigger",
    "inputs",
    "vars",
    "concurrency",
    "timeout",
    "steps",
    "on_error",
];

/// Reads playbook files (or directories of them), reporting every problem.
/// With `known_rules`, triggers naming an unknown rule are errors too;
/// `call` steps must name a loaded playbook, without cycles.
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
            for rule in pb.trigger.alert.iter().flat_map(|a| &a.rules) {
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
    check_calls(&out, &mut problems);
    problems.into_result(out)
}

/// `call` steps name loaded playbooks, pass only inputs they declare, and
/// never call back into themselves.
fn check_calls(playbooks: &[Playbook], problems: &mut Problems) {
    let ids: Vec<&str> = playbooks.iter().map(|p| p.id.as_str()).collect();
    for pb in playbooks {
        crate::step::walk(&pb.steps, &mut |s| {
            if let StepKind::Call { playbook, inputs } = &s.kind {
                let loc = format!("steps[{}].call.playbook", s.id);
                match playbooks.iter().find(|p| &p.id == playbook) {
                    None => problems.push(
                        &pb.file,
                        &loc,
                        format!("unknown playbook {playbook:?} (loaded: {})", ids.join(", ")),
                    ),
                    Some(callee) => {
                        for k in inputs.keys() {
                            if !callee.inputs.contains_key(k) {
                                problems.push(
                                    &pb.file,
                                    format!("steps[{}].call.inputs.{k}", s.id),
                                    format!("{playbook} declares no input {k:?}"),
                                );
                            }
                        }
                    }
                }
            }
        });
        // A cycle: following calls from this playbook comes back to it.
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = pb.calls.iter().map(String::as_str).collect();
        while let Some(next) = stack.pop() {
            if next == pb.id {
                problems.push(
                    &pb.file,
                    "steps",
                    format!(
                        "playbook {:?} calls itself (directly or through others)",
                        pb.id
                    ),
                );
                break;
            }
            if seen.insert(next)
                && let Some(p) = playbooks.iter().find(|p| p.id == next)
            {
                stack.extend(p.calls.iter().map(String::as_str));
            }
        }
    }
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
            .and_then(|t| compile_triggers(t, file, &mut problems)),
        None => {
            problems.push(
                file,
                "trigger",
                "missing; a playbook needs a trigger (alert, case, schedule, webhook or manual)",
            );
            None
        }
    };
    let mut inputs = BTreeMap::new();
    match doc.get("inputs") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (k, v) in m {
                let k = scalar_text(k);
                let loc = format!("inputs.{k}");
                if let Some(raw) = take::<RawInput>(v.clone(), file, &loc, &mut problems) {
                    if let Some(d) = &raw.default
                        && let Err(e) = raw.ty.check(d)
                    {
                        problems.push(file, format!("{loc}.default"), e);
                    }
                    inputs.insert(
                        k,
                        InputSpec {
                            ty: raw.ty,
                            required: raw.required,
                            default: raw.default,
                            description: raw.description,
                        },
                    );
                }
            }
        }
        Some(_) => problems.push(file, "inputs", "must map input names to {type, …}"),
    }
    let vars = match doc.get("vars") {
        None => serde_json::Map::new(),
        Some(v @ Value::Mapping(_)) => match serde_json::to_value(v) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                problems.push(file, "vars", "must be a mapping of names to values");
                serde_json::Map::new()
            }
        },
        Some(_) => {
            problems.push(file, "vars", "must be a mapping of names to values");
            serde_json::Map::new()
        }
    };
    let concurrency = match doc.get("concurrency") {
        None => None,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n > 0 => Some(n),
            _ => {
                problems.push(file, "concurrency", "must be a positive integer");
                None
            }
        },
    };
    let timeout = doc.get("timeout").and_then(|v| {
        parse_duration(&scalar_text(v))
            .map_err(|e| problems.push(file, "timeout", e))
            .ok()
    });
    let mut parser = StepParser {
        file,
        problems: &mut problems,
        ids: HashSet::new(),
    };
    let steps = parser.list(doc.get("steps"), "steps", 0);
    let on_error = match doc.get("on_error") {
        None => Some(Vec::new()),
        some => parser.list(some, "on_error", 0),
    };
    let mut secrets = BTreeSet::new();
    let mut calls = BTreeSet::new();
    if let (Some(steps), Some(on_error), Some(trigger)) = (&steps, &on_error, &trigger) {
        let mut refs = RefCheck {
            file,
            problems: &mut problems,
            base: base_names(trigger),
            inputs: inputs.keys().cloned().collect(),
            vars: vars.keys().cloned().collect(),
            secrets: &mut secrets,
            calls: &mut calls,
        };
        refs.list(steps, "steps", &[], &[]);
        refs.list(on_error, "on_error", &[], &["error"]);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    match (id, name, revision, mode, trigger, steps, on_error) {
        (
            Some(id),
            Some(name),
            Some(revision),
            Some(mode),
            Some(trigger),
            Some(steps),
            Some(on_error),
        ) => Ok(Playbook {
            id,
            name,
            description,
            revision,
            mode,
            trigger,
            inputs,
            vars,
            concurrency,
            timeout,
            steps,
            on_error,
            file: file.to_owned(),
            secrets,
            calls,
        }),
        _ => Err(problems),
    }
}

/// Names every template may read, given the playbook's triggers.
fn base_names(t: &Triggers) -> Vec<&'static str> {
    let mut names = vec![
        "trigger", "inputs", "vars", "steps", "playbook", "run", "secrets",
    ];
    if t.alert.is_some() {
        names.push("alert");
    }
    if t.case.is_some() {
        names.push("case");
    }
    names
}

/// Checks what each step's templates read: known top-level names, and
/// `steps.ID` only for steps that ran before it in its own list or an
/// enclosing one.
struct RefCheck<'a> {
    file: &'a str,
    problems: &'a mut Problems,
    base: Vec<&'static str>,
    inputs: BTreeSet<String>,
    vars: BTreeSet<String>,
    secrets: &'a mut BTreeSet<String>,
    calls: &'a mut BTreeSet<String>,
}

impl RefCheck<'_> {
    fn list(&mut self, steps: &[Step], loc: &str, visible: &[String], extra: &[&str]) {
        let mut seen: Vec<String> = visible.to_vec();
        for s in steps {
            let at = format!("{loc}[{}]", s.id);
            self.step(s, &at, &seen, extra);
            seen.push(s.id.clone());
        }
    }

    fn step(&mut self, s: &Step, at: &str, visible: &[String], extra: &[&str]) {
        let mut paths = Vec::new();
        if let Some(w) = &s.when {
            paths.extend(w.variable_paths());
        }
        match &s.kind {
            StepKind::Action { with, .. } => with.variable_paths(&mut paths),
            StepKind::ForEach {
                items, var, steps, ..
            } => {
                paths.extend(items.variable_paths());
                let mut inner: Vec<&str> = extra.to_vec();
                inner.push(var);
                inner.push("loop");
                self.list(steps, &format!("{at}.steps"), visible, &inner);
            }
            StepKind::Parallel { branches } => {
                for (name, b) in branches {
                    self.list(b, &format!("{at}.parallel.{name}"), visible, extra);
                }
            }
            StepKind::Approval { prompt, .. } => paths.extend(prompt.variable_paths()),
            StepKind::Sleep { .. } => {}
            StepKind::Call { playbook, inputs } => {
                self.calls.insert(playbook.clone());
                inputs.variable_paths(&mut paths);
            }
            StepKind::Stop { reason, .. } => paths.extend(reason.variable_paths()),
        }
        if let OnError::Steps(h) = &s.on_error {
            let mut inner: Vec<&str> = extra.to_vec();
            inner.push("error");
            self.list(h, &format!("{at}.on_error"), visible, &inner);
        }
        for p in paths {
            self.path(&p, at, visible, extra);
        }
    }

    fn path(&mut self, path: &str, at: &str, visible: &[String], extra: &[&str]) {
        let mut parts = path.split('.');
        let top = parts.next().unwrap_or_default();
        let second = parts.next();
        if !self.base.contains(&top) && !extra.contains(&top) {
            let mut names: Vec<&str> = self.base.clone();
            names.extend(extra);
            self.problems.push(
                self.file,
                at,
                format!(
                    "undefined variable {top:?} (available: {})",
                    names.join(", ")
                ),
            );
            return;
        }
        let Some(name) = second else { return };
        match top {
            "steps" if !visible.iter().any(|v| v == name) => self.problems.push(
                self.file,
                at,
                format!(
                    "steps.{name} is not a step that runs before this one (earlier steps: {})",
                    if visible.is_empty() {
                        "none".to_owned()
                    } else {
                        visible.join(", ")
                    }
                ),
            ),
            "inputs" if !self.inputs.contains(name) => self.problems.push(
                self.file,
                at,
                format!("inputs.{name} is not a declared input"),
            ),
            "vars" if !self.vars.contains(name) => {
                self.problems
                    .push(self.file, at, format!("vars.{name} is not in vars"))
            }
            "secrets" => {
                self.secrets.insert(name.to_owned());
            }
            _ => {}
        }
    }
}

fn compile_triggers(raw: RawTrigger, file: &str, problems: &mut Problems) -> Option<Triggers> {
    let before = problems.len();
    let severity = |s: Option<String>, at: &str, problems: &mut Problems| {
        s.and_then(|s| {
            s.parse::<Severity>()
                .map_err(|e| problems.push(file, at, e.to_string()))
                .ok()
        })
    };
    let alert = raw.alert.map(|a| {
        let min_confidence = a.min_confidence.and_then(|c| {
            Confidence::new(c)
                .map_err(|e| problems.push(file, "trigger.alert.min_confidence", e.to_string()))
                .ok()
        });
        let filter = a.filter.and_then(|f| {
            let e = Expr::new(&f)
                .map_err(|e| problems.push(file, "trigger.alert.where", e.to_string()))
                .ok()?;
            for v in e.variables() {
                if v != "alert" {
                    problems.push(
                        file,
                        "trigger.alert.where",
                        format!("undefined variable {v:?} (available: alert)"),
                    );
                }
            }
            Some(e)
        });
        AlertTrigger {
            rules: a.rules,
            min_severity: severity(a.min_severity, "trigger.alert.min_severity", problems),
            min_confidence,
            filter,
        }
    });
    let case = raw.case.map(|c| CaseTrigger {
        on: c
            .on
            .unwrap_or_else(|| vec![CaseEvent::Created, CaseEvent::Updated]),
        min_severity: severity(c.min_severity, "trigger.case.min_severity", problems),
        cooldown: c
            .cooldown
            .and_then(|t| {
                parse_duration(&t)
                    .map_err(|e| problems.push(file, "trigger.case.cooldown", e))
                    .ok()
            })
            .unwrap_or_else(|| chrono::TimeDelta::minutes(10)),
    });
    let schedule = raw.schedule.and_then(|s| {
        s.cron
            .parse::<croner::Cron>()
            .map_err(|e| {
                problems.push(
                    file,
                    "trigger.schedule.cron",
                    format!("{:?} is not a cron expression: {e}", s.cron),
                )
            })
            .ok()
            .map(|parsed| ScheduleTrigger {
                cron: s.cron,
                parsed,
            })
    });
    let t = Triggers {
        alert,
        case,
        schedule,
        webhook: raw.webhook.map(|w| w.secret),
        manual: raw.manual.unwrap_or(false),
    };
    if t.alert.is_none()
        && t.case.is_none()
        && t.schedule.is_none()
        && t.webhook.is_none()
        && !t.manual
    {
        problems.push(
            file,
            "trigger",
            "names no trigger (valid: alert, case, schedule, webhook, manual)",
        );
    }
    (problems.len() == before).then_some(t)
}

/// The loaded playbooks, shared by the pipeline and the executor.
#[derive(Clone, Debug, Default)]
pub struct PlaybookSet {
    list: Vec<std::sync::Arc<Playbook>>,
}

impl PlaybookSet {
    pub fn new(playbooks: Vec<Playbook>) -> Self {
        Self {
            list: playbooks.into_iter().map(std::sync::Arc::new).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<std::sync::Arc<Playbook>> {
        self.list.iter().find(|p| p.id == id).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &std::sync::Arc<Playbook>> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The playbooks an alert starts.
    pub fn for_alert<'a>(
        &'a self,
        alert: &'a Alert,
    ) -> impl Iterator<Item = &'a std::sync::Arc<Playbook>> + 'a {
        self.list
            .iter()
            .filter(|p| p.trigger.alert.as_ref().is_some_and(|t| t.matches(alert)))
    }
}
