//! Steps: what a playbook does, as a tree (actions, conditions, loops,
//! parallel branches, approvals, waits, calls of other playbooks, stops),
//! parsed from YAML and validated with every problem reported.

use std::collections::HashSet;

use chrono::TimeDelta;
use riposte_model::yaml::{item_name, scalar_text};
use riposte_model::{Problems, parse_duration};
use riposte_template::{Expr, Template};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::spec::{self, ActionSpec, Effect};
use crate::value::ValueTemplate;

/// One validated step.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    /// `if:`: the step runs only when it holds (else it is skipped).
    pub when: Option<Expr>,
    pub kind: StepKind,
    pub retry: Option<Retry>,
    /// Bounds one attempt of an action.
    pub timeout: Option<std::time::Duration>,
    pub on_error: OnError,
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum StepKind {
    Action {
        spec: &'static ActionSpec,
        with: ValueTemplate,
    },
    /// The steps once per item of a list, in order.
    ForEach {
        items: Expr,
        var: String,
        steps: Vec<Step>,
        max_items: usize,
    },
    /// Named branches run side by side; the step is done when all are.
    Parallel { branches: Vec<(String, Vec<Step>)> },
    /// Waits for a person's go-ahead, or takes `default_approve` at the
    /// deadline.
    Approval {
        prompt: Template,
        approvers: Vec<String>,
        timeout: TimeDelta,
        default_approve: bool,
    },
    /// Waits this long (from when the step is first reached).
    Sleep { duration: TimeDelta },
    /// Runs another playbook's steps here, with `inputs`.
    Call {
        playbook: String,
        inputs: ValueTemplate,
    },
    /// Ends the run here.
    Stop { failed: bool, reason: Template },
}

impl StepKind {
    /// What the step is, as run records and the documentation name it.
    pub fn label(&self) -> &'static str {
        match self {
            StepKind::Action { spec, .. } => spec.name,
            StepKind::ForEach { .. } => "for_each",
            StepKind::Parallel { .. } => "parallel",
            StepKind::Approval { .. } => "wait_for.approval",
            StepKind::Sleep { .. } => "wait_for.duration",
            StepKind::Call { .. } => "call",
            StepKind::Stop { .. } => "stop",
        }
    }
}

/// Attempts of an action: the first plus retries, waiting `backoff`,
/// doubled after each failure up to `max_backoff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: TimeDelta,
    pub max_backoff: TimeDelta,
}

impl Retry {
    /// The wait after the `attempt`-th failed attempt (1-based).
    pub fn delay(&self, attempt: u32) -> TimeDelta {
        let factor = 1i32 << attempt.saturating_sub(1).min(20);
        (self.backoff * factor).min(self.max_backoff)
    }
}

/// What happens when a step fails (after its retries).
#[derive(Clone, Debug, Default)]
pub enum OnError {
    /// The run fails (the playbook's own `on_error` steps run first).
    #[default]
    Fail,
    /// Recorded as failed; the run goes on.
    Continue,
    /// These steps run (with `error` set); then the run goes on.
    Steps(Vec<Step>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    #[serde(default, rename = "if")]
    when: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    with: Option<Value>,
    #[serde(default)]
    for_each: Option<String>,
    #[serde(default, rename = "as")]
    var: Option<String>,
    #[serde(default)]
    max_items: Option<usize>,
    #[serde(default)]
    steps: Option<Value>,
    #[serde(default)]
    parallel: Option<Value>,
    #[serde(default)]
    wait_for: Option<Value>,
    #[serde(default)]
    call: Option<RawCall>,
    #[serde(default)]
    stop: Option<RawStop>,
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    on_error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    playbook: String,
    #[serde(default)]
    inputs: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStop {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: u32,
    #[serde(default)]
    backoff: Option<String>,
    #[serde(default)]
    max_backoff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    prompt: String,
    #[serde(default)]
    approvers: Vec<String>,
    timeout: String,
    /// `approve` or `reject` when nobody answers in time.
    #[serde(default)]
    default: Option<String>,
}

/// Items a `for_each` takes at most, unless it says otherwise: a list from
/// an alert is attacker-sized.
pub const DEFAULT_MAX_ITEMS: usize = 100;
/// Nesting of steps inside steps (loops, branches, handlers).
const MAX_DEPTH: usize = 8;

/// Parses step lists, collecting problems and every step id seen.
pub(crate) struct StepParser<'a> {
    pub file: &'a str,
    pub problems: &'a mut Problems,
    pub ids: HashSet<String>,
}

impl StepParser<'_> {
    fn push(&mut self, loc: &str, msg: impl Into<String>) {
        self.problems.push(self.file, loc, msg);
    }

    /// A list of steps at `loc` (e.g. `steps`, `steps[loop].steps`).
    pub fn list(&mut self, v: Option<&Value>, loc: &str, depth: usize) -> Option<Vec<Step>> {
        let items = match v {
            Some(Value::Sequence(items)) if !items.is_empty() => items,
            Some(_) => {
                self.push(loc, "must be a non-empty list of steps");
                return None;
            }
            None => {
                self.push(loc, "missing");
                return None;
            }
        };
        if depth > MAX_DEPTH {
            self.push(loc, format!("steps nest deeper than {MAX_DEPTH} levels"));
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut stopped: Option<String> = None;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{loc}[{}]", item_name(item, i));
            if let Some(stop) = &stopped {
                self.push(
                    &at,
                    format!("unreachable: it follows step {stop:?}, which always stops the run"),
                );
                ok = false;
            }
            let (item, notify) = match split_escalate_notify(item) {
                Ok(pair) => pair,
                Err(e) => {
                    self.push(&format!("{at}.with.notify"), e);
                    ok = false;
                    continue;
                }
            };
            match self.step(&item, &at, depth) {
                Some(step) => {
                    if always_stops(&step) {
                        stopped = Some(step.id.clone());
                    }
                    out.push(step);
                }
                None => ok = false,
            }
            if let Some(n) = notify {
                match self.step(&n, &format!("{at}.with.notify"), depth) {
                    Some(step) => out.push(step),
                    None => ok = false,
                }
            }
        }
        ok.then_some(out)
    }

    fn step(&mut self, item: &Value, loc: &str, depth: usize) -> Option<Step> {
        let raw: RawStep = match serde_yaml_ng::from_value(item.clone()) {
            Ok(r) => r,
            Err(e) => {
                self.push(loc, e.to_string());
                return None;
            }
        };
        let before = self.problems.len();
        if !valid_id(&raw.id) {
            self.push(
                &format!("{loc}.id"),
                format!(
                    "{:?} is not a step id (a letter, then letters, digits, '_' or '-')",
                    raw.id
                ),
            );
        }
        if !self.ids.insert(raw.id.clone()) {
            self.push(loc, format!("duplicate step id {:?}", raw.id));
        }
        let when = raw.when.as_deref().and_then(|src| {
            Expr::new(src)
                .map_err(|e| self.push(&format!("{loc}.if"), e.to_string()))
                .ok()
        });
        let kinds: Vec<&str> = [
            ("action", raw.action.is_some()),
            ("for_each", raw.for_each.is_some()),
            ("parallel", raw.parallel.is_some()),
            ("wait_for", raw.wait_for.is_some()),
            ("call", raw.call.is_some()),
            ("stop", raw.stop.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        if kinds.len() != 1 {
            let what = if kinds.is_empty() {
                "has none".to_owned()
            } else {
                format!("has {}", kinds.join(" and "))
            };
            self.push(
                loc,
                format!(
                    "a step needs exactly one of action, for_each, parallel, wait_for, call, stop; it {what}"
                ),
            );
            return None;
        }
        if raw.with.is_some() && raw.action.is_none() {
            self.push(&format!("{loc}.with"), "only an action step takes `with`");
        }
        if raw.steps.is_some() && raw.for_each.is_none() {
            self.push(
                &format!("{loc}.steps"),
                "only a for_each step takes `steps`",
            );
        }
        if (raw.var.is_some() || raw.max_items.is_some()) && raw.for_each.is_none() {
            self.push(loc, "`as` and `max_items` belong to for_each steps");
        }
        if (raw.retry.is_some() || raw.timeout.is_some()) && raw.action.is_none() {
            self.push(loc, "`retry` and `timeout` belong to action steps");
        }
        let kind = if let Some(name) = &raw.action {
            self.action(name, raw.with.as_ref(), loc)
        } else if let Some(items) = &raw.for_each {
            let items = Expr::new(items)
                .map_err(|e| self.push(&format!("{loc}.for_each"), e.to_string()))
                .ok();
            let var = raw.var.clone().unwrap_or_else(|| "item".to_owned());
            if !valid_var(&var) {
                self.push(
                    &format!("{loc}.as"),
                    format!("{var:?} is not a variable name"),
                );
            }
            let steps = self.list(raw.steps.as_ref(), &format!("{loc}.steps"), depth + 1);
            Some(StepKind::ForEach {
                items: items?,
                var,
                steps: steps?,
                max_items: raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS),
            })
        } else if let Some(par) = &raw.parallel {
            self.parallel(par, loc, depth)
        } else if let Some(wait) = &raw.wait_for {
            self.wait(wait, loc)
        } else if let Some(call) = &raw.call {
            let mut errors = Vec::new();
            let inputs = match &call.inputs {
                None => Some(ValueTemplate::Map(Vec::new())),
                Some(v) => {
                    ValueTemplate::compile(v, &[], &format!("{loc}.call.inputs"), &mut errors)
                }
            };
            for (at, e) in errors {
                self.push(&at, e);
            }
            Some(StepKind::Call {
                playbook: call.playbook.clone(),
                inputs: inputs?,
            })
        } else if let Some(stop) = &raw.stop {
            let failed = match stop.status.as_deref() {
                None | Some("succeeded") => false,
                Some("failed") => true,
                Some(other) => {
                    self.push(
                        &format!("{loc}.stop.status"),
                        format!("{other:?} is not a final status (valid: succeeded, failed)"),
                    );
                    false
                }
            };
            let reason = Template::new(stop.reason.as_deref().unwrap_or("stopped"))
                .map_err(|e| self.push(&format!("{loc}.stop.reason"), e.to_string()))
                .ok();
            Some(StepKind::Stop {
                failed,
                reason: reason?,
            })
        } else {
            None
        };
        let retry = raw.retry.as_ref().and_then(|r| self.retry(r, loc));
        let timeout = raw.timeout.as_deref().and_then(|t| {
            parse_duration(t)
                .map_err(|e| self.push(&format!("{loc}.timeout"), e))
                .ok()
                .and_then(|d| d.to_std().ok())
        });
        let on_error = match &raw.on_error {
            None => OnError::Fail,
            Some(Value::String(s)) if s == "fail" => OnError::Fail,
            Some(Value::String(s)) if s == "continue" => OnError::Continue,
            Some(v @ Value::Sequence(_)) => self
                .list(Some(v), &format!("{loc}.on_error"), depth + 1)
                .map(OnError::Steps)
                .unwrap_or_default(),
            Some(_) => {
                self.push(
                    &format!("{loc}.on_error"),
                    "must be fail, continue, or a list of steps",
                );
                OnError::Fail
            }
        };
        if self.problems.len() > before {
            return None;
        }
        Some(Step {
            id: raw.id,
            when,
            kind: kind?,
            retry,
            timeout,
            on_error,
        })
    }

    fn action(&mut self, name: &str, with: Option<&Value>, loc: &str) -> Option<StepKind> {
        let Some(spec) = spec::action(name) else {
            self.push(
                &format!("{loc}.action"),
                format!("unknown action {name:?} (valid: {})", spec::action_names()),
            );
            return None;
        };
        let with_loc = format!("{loc}.with");
        let empty = Value::Mapping(Default::default());
        let with = with.unwrap_or(&empty);
        if !matches!(with, Value::Mapping(_)) {
            self.push(
                &with_loc,
                format!("must be a mapping of {}'s inputs", spec.name),
            );
            return None;
        }
        let mut errors = Vec::new();
        let compiled = ValueTemplate::compile(with, spec.html, &with_loc, &mut errors);
        for (at, e) in errors {
            self.push(&at, e);
        }
        let compiled = compiled?;
        // Names and required inputs now; types of literal inputs now, of
        // templated ones once rendered.
        let mut ok = true;
        for key in compiled.keys() {
            if spec.field(key).is_none() {
                self.push(
                    &format!("{with_loc}.{key}"),
                    format!("unknown input of {} (valid: {})", spec.name, spec.names()),
                );
                ok = false;
            }
        }
        for f in spec.fields {
            match compiled.get(f.name) {
                None if f.required => {
                    self.push(
                        &format!("{with_loc}.{}", f.name),
                        format!("missing input of {}", spec.name),
                    );
                    ok = false;
                }
                Some(t) => {
                    if let Some(v) = t.literal()
                        && let Err(e) = f.ty.coerce(v)
                    {
                        self.push(&format!("{with_loc}.{}", f.name), e);
                        ok = false;
                    }
                }
                None => {}
            }
        }
        if spec.name == "exec"
            && let Some(argv) = compiled.get("argv")
        {
            // One program, its arguments as separate items: never a shell
            // line built from text.
            if let ValueTemplate::Literal(serde_json::Value::String(_)) | ValueTemplate::Text(_) =
                argv
            {
                self.push(
                    &format!("{with_loc}.argv"),
                    "must be a list: the program, then each argument (no shell runs it)",
                );
                ok = false;
            }
        }
        ok.then_some(StepKind::Action {
            spec,
            with: compiled,
        })
    }

    fn parallel(&mut self, v: &Value, loc: &str, depth: usize) -> Option<StepKind> {
        let Value::Mapping(m) = v else {
            self.push(
                &format!("{loc}.parallel"),
                "must map branch names to lists of steps",
            );
            return None;
        };
        if m.len() < 2 {
            self.push(&format!("{loc}.parallel"), "needs at least two branches");
        }
        let mut branches = Vec::new();
        let mut ok = true;
        for (name, steps) in m {
            let name = scalar_text(name);
            if !valid_id(&name) {
                self.push(
                    &format!("{loc}.parallel"),
                    format!("{name:?} is not a branch name"),
                );
                ok = false;
            }
            match self.list(Some(steps), &format!("{loc}.parallel.{name}"), depth + 1) {
                Some(s) => branches.push((name, s)),
                None => ok = false,
            }
        }
        ok.then_some(StepKind::Parallel { branches })
    }

    fn wait(&mut self, v: &Value, loc: &str) -> Option<StepKind> {
        let at = format!("{loc}.wait_for");
        let Value::Mapping(m) = v else {
            self.push(&at, "must be {approval: …} or {duration: …}");
            return None;
        };
        if m.len() != 1 {
            self.push(&at, "must be {approval: …} or {duration: …}");
            return None;
        }
        if let Some(d) = m.get("duration") {
            let text = scalar_text(d);
            return parse_duration(&text)
                .map_err(|e| self.push(&format!("{at}.duration"), e))
                .ok()
                .map(|duration| StepKind::Sleep { duration });
        }
        let Some(a) = m.get("approval") else {
            self.push(&at, "must be {approval: …} or {duration: …}");
            return None;
        };
        let raw: RawApproval = match serde_yaml_ng::from_value(a.clone()) {
            Ok(r) => r,
            Err(e) => {
                self.push(&format!("{at}.approval"), e.to_string());
                return None;
            }
        };
        let prompt = Template::new(&raw.prompt)
            .map_err(|e| self.push(&format!("{at}.approval.prompt"), e.to_string()))
            .ok();
        let timeout = parse_duration(&raw.timeout)
            .map_err(|e| self.push(&format!("{at}.approval.timeout"), e))
            .ok();
        let default_approve = match raw.default.as_deref() {
            None | Some("reject") => Some(false),
            Some("approve") => Some(true),
            Some(other) => {
                self.push(
                    &format!("{at}.approval.default"),
                    format!("{other:?} is not approve or reject"),
                );
                None
            }
        };
        let mut approvers_ok = true;
        for (i, entry) in raw.approvers.iter().enumerate() {
            let problem = match entry.strip_prefix("role:") {
                Some(role) => match role.parse::<riposte_model::Role>() {
                    Ok(riposte_model::Role::Service) => {
                        Some("role:service cannot answer approvals".to_owned())
                    }
                    Ok(_) => None,
                    Err(e) => Some(e.to_string()),
                },
                // The command line's identity, `local:<os user>`.
                None => {
                    riposte_model::validate_user_name(entry.strip_prefix("local:").unwrap_or(entry))
                        .err()
                        .map(|e| format!("{e} (expected a user name, role:ROLE or local:OS_USER)"))
                }
            };
            if let Some(problem) = problem {
                self.push(&format!("{at}.approval.approvers[{i}]"), problem);
                approvers_ok = false;
            }
        }
        if !approvers_ok {
            return None;
        }
        Some(StepKind::Approval {
            prompt: prompt?,
            approvers: raw.approvers,
            timeout: timeout?,
            default_approve: default_approve?,
        })
    }

    fn retry(&mut self, r: &RawRetry, loc: &str) -> Option<Retry> {
        let at = format!("{loc}.retry");
        if !(1..=20).contains(&r.attempts) {
            self.push(
                &format!("{at}.attempts"),
                format!(
                    "{} must be 1-20 (attempts in all, the first included)",
                    r.attempts
                ),
            );
        }
        let mut dur = |key: &str, text: Option<&str>, default: TimeDelta| match text {
            None => Some(default),
            Some(t) => parse_duration(t)
                .map_err(|e| self.push(&format!("{at}.{key}"), e))
                .ok(),
        };
        let backoff = dur("backoff", r.backoff.as_deref(), TimeDelta::seconds(10));
        let max_backoff = dur("max_backoff", r.max_backoff.as_deref(), TimeDelta::hours(1));
        Some(Retry {
            attempts: r.attempts.clamp(1, 20),
            backoff: backoff?,
            max_backoff: max_backoff?,
        })
    }
}

/// `escalate` with `notify: {to, subject, text}`: the escalation (a
/// database step, exactly once) and, right after it, a `notify.email` step
/// `<id>-notify` with the same `if` (an outside step, with its own
/// idempotency key): two steps, so each keeps its own guarantee.
fn split_escalate_notify(item: &Value) -> Result<(Value, Option<Value>), String> {
    let is_escalate = item.get("action").and_then(Value::as_str) == Some("escalate");
    let Some(notify) = item
        .get("with")
        .and_then(|w| w.get("notify"))
        .filter(|_| is_escalate)
    else {
        return Ok((item.clone(), None));
    };
    let Value::Mapping(n) = notify else {
        return Err("must be {to, subject, text}".into());
    };
    for k in n.keys() {
        let k = scalar_text(k);
        if !["to", "subject", "text"].contains(&k.as_str()) {
            return Err(format!("unknown key {k:?} (valid: to, subject, text)"));
        }
    }
    let to = n.get("to").ok_or("missing `to`: who is told")?;
    let id = item.get("id").map(scalar_text).unwrap_or_default();
    let mut base = item.clone();
    if let Some(Value::Mapping(w)) = base.get_mut("with") {
        w.remove("notify");
    }
    let text = |key: &str, default: String| {
        n.get(key)
            .cloned()
            .unwrap_or_else(|| Value::String(default))
    };
    let mut with = serde_yaml_ng::Mapping::new();
    with.insert("to".into(), to.clone());
    with.insert(
        "subject".into(),
        text(
            "subject",
            format!("Case {{{{ steps['{id}'].case_id }}}} escalated"),
        ),
    );
    with.insert(
        "text".into(),
        text(
            "text",
            format!(
                "Case {{{{ steps['{id}'].case_id }}}} was escalated: assigned to {{{{ steps['{id}'].assignee }}}}, severity {{{{ steps['{id}'].severity }}}}."
            ),
        ),
    );
    let mut step = serde_yaml_ng::Mapping::new();
    step.insert("id".into(), Value::String(format!("{id}-notify")));
    if let Some(cond) = item.get("if") {
        step.insert("if".into(), cond.clone());
    }
    step.insert("action".into(), "notify.email".into());
    step.insert("with".into(), Value::Mapping(with));
    Ok((base, Some(Value::Mapping(step))))
}

/// A step that stops the run whenever it is reached: an unconditional
/// `stop`, or a `parallel` one of whose branches always reaches one (a
/// `for_each` may run zero times, so never).
fn always_stops(step: &Step) -> bool {
    step.when.is_none()
        && match &step.kind {
            StepKind::Stop { .. } => true,
            StepKind::Parallel { branches } => branches
                .iter()
                .any(|(_, steps)| steps.iter().any(always_stops)),
            _ => false,
        }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() <= 64
}

fn valid_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every step, depth first (for checks across the whole tree).
pub fn walk<'a>(steps: &'a [Step], f: &mut dyn FnMut(&'a Step)) {
    for s in steps {
        f(s);
        match &s.kind {
            StepKind::ForEach { steps, .. } => walk(steps, f),
            StepKind::Parallel { branches } => {
                for (_, b) in branches {
                    walk(b, f);
                }
            }
            _ => {}
        }
        if let OnError::Steps(h) = &s.on_error {
            walk(h, f);
        }
    }
}

/// Whether any step's action has outside effects.
pub fn has_outside_effects(steps: &[Step]) -> bool {
    let mut found = false;
    walk(steps, &mut |s| {
        if let StepKind::Action { spec, .. } = &s.kind {
            found |= spec.effect == Effect::Outside;
        }
    });
    found
}
