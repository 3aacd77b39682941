//! The closed set of playbook actions, their typed inputs, and the host
//! interface that performs them.

use async_trait::async_trait;
use chrono::TimeDelta;
use riposte_model::{Problems, Scope, parse_duration};
use riposte_template::Template;
use serde::Deserialize;
use serde_json::Value;

/// Variables a step template may read.
pub(crate) const TEMPLATE_VARS: [&str; 3] = ["alert", "playbook", "steps"];

/// Every action name a step may use.
pub const ACTIONS: [&str; 2] = ["case.attach", "decision.ban"];

/// A validated action with its inputs; text inputs are templates rendered
/// per run.
#[derive(Clone, Debug)]
pub enum Action {
    /// Attach the alert to the open case with this key, opening one if none.
    CaseAttach { key: Template, title: Template },
    /// Ban an address or range for a time.
    DecisionBan {
        scope: Scope,
        value: Template,
        duration: TimeDelta,
        reason: Option<Template>,
    },
}

/// An action with its inputs rendered, as handed to the host.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionCall {
    CaseAttach {
        key: String,
        title: String,
    },
    DecisionBan {
        scope: Scope,
        value: String,
        duration: TimeDelta,
        reason: String,
    },
}

impl ActionCall {
    /// The rendered inputs, as recorded in the run.
    pub fn input_json(&self) -> Value {
        match self {
            ActionCall::CaseAttach { key, title } => {
                serde_json::json!({"key": key, "title": title})
            }
            ActionCall::DecisionBan {
                scope,
                value,
                duration,
                reason,
            } => serde_json::json!({
                "scope": scope, "value": value,
                "duration": riposte_model::format_duration(*duration), "reason": reason,
            }),
        }
    }
}

/// What an action did.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    /// False when the action deliberately did nothing (a refused ban, an
    /// existing decision); the step is then recorded as skipped.
    pub done: bool,
    pub output: Value,
    pub message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ActionError(pub String);

/// Performs actions for a run. The engine implements it inside the batch's
/// store transaction; tests implement it in memory.
#[async_trait]
pub trait ActionHost: Send {
    async fn perform(
        &mut self,
        ctx: &crate::RunContext<'_>,
        step: &str,
        call: ActionCall,
    ) -> Result<ActionResult, ActionError>;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseAttachInputs {
    key: String,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBanInputs {
    scope: String,
    value: String,
    /// Any scalar, so `duration: 4` is reported as a bad duration rather
    /// than hiding the step's other mistakes behind a type error.
    duration: serde_yaml_ng::Value,
    #[serde(default)]
    reason: Option<String>,
}

impl Action {
    /// Validates `with:` inputs for `name`, recording every problem.
    pub(crate) fn parse(
        name: &str,
        with: serde_yaml_ng::Value,
        file: &str,
        loc: &str,
        problems: &mut Problems,
    ) -> Option<Action> {
        let with_loc = format!("{loc}.with");
        let template = |field: &str, src: &str, problems: &mut Problems| {
            let at = format!("{with_loc}.{field}");
            let t = Template::new(src)
                .map_err(|e| problems.push(file, &at, e.to_string()))
                .ok()?;
            let undefined: Vec<String> = t
                .variables()
                .into_iter()
                .filter(|v| !TEMPLATE_VARS.contains(&v.as_str()))
                .collect();
            for var in &undefined {
                problems.push(
                    file,
                    &at,
                    format!(
                        "undefined variable {var:?} (available: {})",
                        TEMPLATE_VARS.join(", ")
                    ),
                );
            }
            undefined.is_empty().then_some(t)
        };
        match name {
            "case.attach" => {
                let inputs: CaseAttachInputs = serde_yaml_ng::from_value(with)
                    .map_err(|e| problems.push(file, &with_loc, e.to_string()))
                    .ok()?;
                let key = template("key", &inputs.key, problems);
                let title = template("title", &inputs.title, problems);
                Some(Action::CaseAttach {
                    key: key?,
                    title: title?,
                })
            }
            "decision.ban" => {
                let inputs: DecisionBanInputs = serde_yaml_ng::from_value(with)
                    .map_err(|e| problems.push(file, &with_loc, e.to_string()))
                    .ok()?;
                let value = template("value", &inputs.value, problems);
                let reason = inputs
                    .reason
                    .as_deref()
                    .map(|r| template("reason", r, problems));
                let scope = match inputs.scope.parse::<Scope>() {
                    Ok(s @ (Scope::Ip | Scope::Range)) => Some(s),
                    Ok(other) => {
                        problems.push(
                            file,
                            format!("{with_loc}.scope"),
                            format!("decision.ban takes scope ip or range, not {other}"),
                        );
                        None
                    }
                    Err(e) => {
                        problems.push(file, format!("{with_loc}.scope"), e.to_string());
                        None
                    }
                };
                let duration = parse_duration(&riposte_model::yaml::scalar_text(&inputs.duration))
                    .map_err(|e| problems.push(file, format!("{with_loc}.duration"), e))
                    .ok();
                Some(Action::DecisionBan {
                    scope: scope?,
                    value: value?,
                    duration: duration?,
                    reason: match reason {
                        Some(r) => Some(r?),
                        None => None,
                    },
                })
            }
            other => {
                problems.push(
                    file,
                    format!("{loc}.action"),
                    format!("unknown action {other:?} (valid: {})", ACTIONS.join(", ")),
                );
                None
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::CaseAttach { .. } => "case.attach",
            Action::DecisionBan { .. } => "decision.ban",
        }
    }

    /// Renders the inputs against the run's template context.
    pub(crate) fn render(&self, ctx: &Value) -> Result<ActionCall, String> {
        let r = |name: &str, t: &Template| t.render(ctx).map_err(|e| format!("input {name}: {e}"));
        Ok(match self {
            Action::CaseAttach { key, title } => ActionCall::CaseAttach {
                key: r("key", key)?,
                title: r("title", title)?,
            },
            Action::DecisionBan {
                scope,
                value,
                duration,
                reason,
            } => ActionCall::DecisionBan {
                scope: *scope,
                value: r("value", value)?,
                duration: *duration,
                reason: match reason {
                    Some(t) => r("reason", t)?,
                    None => ctx["alert"]["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                },
            },
        })
    }
}
