//! Declarative playbook tests (`riposte playbook test FILE --case CASES`):
//! a trigger and mocked action results in, the steps, action inputs,
//! decisions and outcome expected out. Nothing is performed; time moves to
//! each wait's deadline, so retries, timers and approval timeouts run in an
//! instant.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use riposte_model::{Alert, AlertId, PlaybookRun, RunStatus, RunTrigger, Timestamp, TriggerKind};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::mock::{MockAnswer, MockResult, MockRuntime};
use crate::{Mode, Playbook, PlaybookSet, run};

/// A cases file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub version: u32,
    /// The playbook under test (default: the only one given).
    #[serde(default)]
    pub playbook: Option<String>,
    pub cases: Vec<TestCase>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    pub trigger: TestTrigger,
    /// Overrides the playbook's mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Results of actions by step id or path (default: each action's
    /// simulate-mode output).
    #[serde(default)]
    pub mocks: BTreeMap<String, MockResult>,
    /// Answers to approvals by step id or path (default: nobody answers,
    /// and the step takes its default at the deadline).
    #[serde(default)]
    pub approvals: BTreeMap<String, MockAnswer>,
    pub expect: Expect,
}

/// What starts the run; exactly one key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTrigger {
    /// Alert fields; missing ones get defaults (rule: the trigger's first).
    #[serde(default)]
    pub alert: Option<Map<String, Value>>,
    #[serde(default)]
    pub case: Option<Map<String, Value>>,
    /// The run's inputs.
    #[serde(default)]
    pub manual: Option<Map<String, Value>>,
    /// The webhook's body.
    #[serde(default)]
    pub webhook: Option<Value>,
    #[serde(default)]
    pub schedule: Option<Value>,
}

/// What the case expects; every key given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// False: the trigger must not start the playbook.
    #[serde(default)]
    pub triggered: Option<bool>,
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// The run's message (why it failed or stopped), exactly.
    #[serde(default)]
    pub message: Option<String>,
    /// Step path → status, for the steps named.
    #[serde(default)]
    pub steps: BTreeMap<String, String>,
    /// The step paths whose actions were performed, in order, exactly.
    #[serde(default)]
    pub performed: Option<Vec<String>>,
    /// Step path → inputs it was given (the keys named must match).
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Step path → output recorded (the keys named must match).
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// The decisions asked for (`decision`/`decision.ban` performed), in
    /// order, each by the keys named.
    #[serde(default)]
    pub decisions: Option<Vec<Value>>,
}

/// How a case went.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    /// Empty when it passed.
    pub failures: Vec<String>,
    pub run: Option<PlaybookRun>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Rounds of resuming a waiting run before giving up.
const MAX_ROUNDS: usize = 200;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn alert_from(pb: &Playbook, fields: &Map<String, Value>, at: Timestamp) -> Result<Alert, String> {
    let rule = pb
        .trigger
        .alert
        .as_ref()
        .and_then(|a| a.rules.first().cloned())
        .unwrap_or_else(|| "test-rule".to_owned());
    let mut v = json!({
        "id": AlertId::new(), "rule_id": rule, "rule_title": "test rule", "severity": "medium",
        "confidence": 80, "created_at": at, "first_seen": at, "last_seen": at, "group": {},
        "summary": "", "count": 1, "observables": [], "evidence": [],
    });
    for (k, val) in fields {
        v[k] = val.clone();
    }
    serde_json::from_value(v).map_err(|e| format!("trigger.alert: {e}"))
}

/// `actual` holds every key of `want` with the same value (recursively for
/// objects; lists and scalars compare whole).
fn subset(want: &Value, actual: &Value) -> bool {
    match (want, actual) {
        (Value::Object(w), Value::Object(a)) => w
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|x| subset(v, x))),
        (w, a) => w == a,
    }
}

/// Reads a cases file; the error names the file.
pub fn parse_case_file(file: &str, text: &str) -> Result<CaseFile, String> {
    let f: CaseFile = serde_yaml_ng::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    if f.version != 1 {
        return Err(format!(
            "{file}: version {} (this Riposte reads 1)",
            f.version
        ));
    }
    Ok(f)
}

/// Runs every case against `playbook` (calls resolve in `set`).
pub async fn run_cases(set: &PlaybookSet, file: &CaseFile) -> Result<Vec<CaseResult>, String> {
    let id = match &file.playbook {
        Some(id) => id.clone(),
        None if set.len() == 1 => set.iter().next().map(|p| p.id.clone()).unwrap_or_default(),
        None => return Err("the cases file must name its `playbook:` (several are loaded)".into()),
    };
    let pb = set
        .get(&id)
        .ok_or_else(|| format!("no playbook {id:?} among the files given"))?;
    let mut out = Vec::new();
    for case in &file.cases {
        out.push(run_case(set, &pb, case).await);
    }
    Ok(out)
}

async fn run_case(set: &PlaybookSet, pb: &std::sync::Arc<Playbook>, case: &TestCase) -> CaseResult {
    let mut failures = Vec::new();
    let now = t0();
    let t = &case.trigger;
    let given = [
        t.alert.is_some(),
        t.case.is_some(),
        t.manual.is_some(),
        t.webhook.is_some(),
        t.schedule.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return CaseResult {
            name: case.name.clone(),
            failures: vec![
                "trigger: give exactly one of alert, case, manual, webhook, schedule".into(),
            ],
            run: None,
        };
    }
    let (kind, data, alert) = if let Some(fields) = &t.alert {
        match alert_from(pb, fields, now) {
            Ok(a) => (
                TriggerKind::Alert,
                serde_json::to_value(&a).unwrap_or(Value::Null),
                Some(a),
            ),
            Err(e) => {
                return CaseResult {
                    name: case.name.clone(),
                    failures: vec![e],
                    run: None,
                };
            }
        }
    } else if let Some(c) = &t.case {
        (TriggerKind::Case, Value::Object(c.clone()), None)
    } else if let Some(inputs) = &t.manual {
        match pb.check_inputs(inputs) {
            Ok(i) => (TriggerKind::Manual, Value::Object(i), None),
            Err(e) => {
                return CaseResult {
                    name: case.name.clone(),
                    failures: vec![format!("trigger.manual: {}", e.join("; "))],
                    run: None,
                };
            }
        }
    } else if let Some(body) = &t.webhook {
        (TriggerKind::Webhook, body.clone(), None)
    } else {
        (
            TriggerKind::Schedule,
            t.schedule.clone().unwrap_or(Value::Null),
            None,
        )
    };
    let triggered = match (&alert, kind) {
        (Some(a), _) => pb.trigger.alert.as_ref().is_some_and(|t| t.matches(a)),
        (None, TriggerKind::Case) => pb.trigger.case.is_some(),
        (None, TriggerKind::Manual) => pb.trigger.manual,
        (None, TriggerKind::Webhook) => pb.trigger.webhook.is_some(),
        (None, _) => pb.trigger.schedule.is_some(),
    };
    let want_triggered = case.expect.triggered.unwrap_or(true);
    if triggered != want_triggered {
        failures.push(format!(
            "expected the trigger {}to start the playbook, and it {}",
            if want_triggered { "" } else { "not " },
            if triggered { "did" } else { "did not" }
        ));
    }
    if !triggered {
        return CaseResult {
            name: case.name.clone(),
            failures,
            run: None,
        };
    }
    // Secrets the playbooks read get stand-in values (never the real ones).
    let secrets = set
        .iter()
        .flat_map(|p| p.secrets.iter())
        .map(|n| (n.clone(), format!("test-secret-{n}")))
        .collect();
    let rt = MockRuntime::new(set.clone(), now)
        .with_results(case.mocks.clone())
        .with_answers(case.approvals.clone())
        .with_secrets(crate::Secrets::new(secrets));
    let mode = case.mode.unwrap_or(pb.mode);
    let trigger = RunTrigger {
        kind,
        data,
        by: None,
    };
    let mut r = PlaybookRun::pending(&pb.id, pb.revision, mode, trigger, alert.map(|a| a.id), now);
    for _ in 0..MAX_ROUNDS {
        r = run(pb.clone(), r, &rt).await;
        if r.status != RunStatus::Waiting {
            break;
        }
        // Answered approvals resume at once; otherwise time moves to the
        // next deadline (a retry, a timer, an approval's timeout).
        let answered = rt.approvals().iter().any(|a| {
            a.status != riposte_model::ApprovalStatus::Pending
                && r.step(&a.step)
                    .is_some_and(|s| s.status == riposte_model::StepStatus::Waiting)
        });
        if !answered {
            match r.next_at {
                Some(at) => rt.set_now(at.max(rt_now(&rt))),
                None => break,
            }
        }
    }
    check(&case.expect, &r, &rt, &mut failures);
    CaseResult {
        name: case.name.clone(),
        failures,
        run: Some(r),
    }
}

fn rt_now(rt: &MockRuntime) -> Timestamp {
    use crate::Runtime;
    rt.now()
}

fn check(expect: &Expect, r: &PlaybookRun, rt: &MockRuntime, failures: &mut Vec<String>) {
    if let Some(s) = expect.status
        && s != r.status
    {
        failures.push(format!(
            "status: expected {s}, got {}{}",
            r.status,
            r.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    if let Some(m) = &expect.message
        && r.message.as_deref() != Some(m.as_str())
    {
        failures.push(format!(
            "message: expected {m:?}, got {:?}",
            r.message.as_deref().unwrap_or("")
        ));
    }
    for (path, status) in &expect.steps {
        match r.step(path) {
            None => failures.push(format!("step {path}: expected {status}, but it never ran")),
            Some(s) if s.status.as_str() != status => failures.push(format!(
                "step {path}: expected {status}, got {}{}",
                s.status,
                s.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    let calls = rt.calls();
    if let Some(want) = &expect.performed {
        let mut got: Vec<String> = Vec::new();
        for c in &calls {
            if got.last() != Some(&c.path) {
                got.push(c.path.clone());
            }
        }
        if &got != want {
            failures.push(format!("performed: expected {want:?}, got {got:?}"));
        }
    }
    for (path, want) in &expect.inputs {
        let got = r.step(path).map(|s| s.input.clone()).unwrap_or(Value::Null);
        if !subset(want, &got) {
            failures.push(format!("inputs of {path}: expected {want}, got {got}"));
        }
    }
    for (path, want) in &expect.outputs {
        let got = r
            .step(path)
            .map(|s| s.output.clone())
            .unwrap_or(Value::Null);
        if !subset(want, &got) {
            failures.push(format!("output of {path}: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &expect.decisions {
        let got: Vec<Value> = calls
            .iter()
            .filter(|c| c.action == "decision" || c.action == "decision.ban")
            .map(|c| {
                let mut v = c.input.clone();
                if c.action == "decision.ban" {
                    v["kind"] = json!("ban");
                }
                v
            })
            .collect();
        let ok = want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| subset(w, g));
        if !ok {
            failures.push(format!(
                "decisions: expected {}, got {}",
                Value::Array(want.clone()),
                Value::Array(got)
            ));
        }
    }
}
