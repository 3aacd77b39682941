//! Templates for rules and playbooks, in one Jinja-style language (minijinja).
//!
//! Rendering is strict: an undefined variable is an error, not an empty
//! string, so a typo in a playbook cannot silently ban "". Output is plain
//! text; every sink that needs escaping (JSON bodies, HTML) escapes itself,
//! and no template output ever reaches a shell.

use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// A template compiled once at load time and rendered many times: each
/// carries its own environment holding just itself, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    env: Arc<Environment<'static>>,
}

const NAME: &str = "t";

/// A template error with minijinja's explanation (line, what is undefined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

fn describe(err: &minijinja::Error) -> String {
    let mut msg = err.kind().to_string();
    if let Some(detail) = err.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    if let Some(line) = err.line() {
        msg.push_str(&format!(" (line {line})"));
    }
    msg
}

impl Template {
    /// Parses `source`; syntax errors are reported here, at load time.
    pub fn new(source: &str) -> Result<Self, TemplateError> {
        let mut env = environment();
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| TemplateError(describe(&e)))?;
        Ok(Self {
            source: source.to_owned(),
            env: Arc::new(env),
        })
    }

    /// True when the text has no template syntax and renders to itself.
    pub fn is_literal(&self) -> bool {
        !self.source.contains("{{") && !self.source.contains("{%")
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The top-level variable names the template reads, for validation
    /// against what a trigger provides.
    pub fn variables(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .compiled()
            .map(|t| t.undeclared_variables(false).into_iter().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn render<C: Serialize>(&self, ctx: C) -> Result<String, TemplateError> {
        self.compiled()?
            .render(ctx)
            .map_err(|e| TemplateError(describe(&e)))
    }

    fn compiled(&self) -> Result<minijinja::Template<'_, '_>, TemplateError> {
        self.env
            .get_template(NAME)
            .map_err(|e| TemplateError(describe(&e)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_values() {
        let t = Template::new("ban {{ alert.group['source.ip'] }} ({{ count }})").unwrap();
        let out = t
            .render(json!({"alert": {"group": {"source.ip": "203.0.113.7"}}, "count": 6}))
            .unwrap();
        assert_eq!(out, "ban 203.0.113.7 (6)");
        assert_eq!(t.variables(), vec!["alert".to_owned(), "count".to_owned()]);
    }

    #[test]
    fn undefined_is_an_error_not_empty() {
        let t = Template::new("{{ alert.nope }}").unwrap();
        let err = t.render(json!({"alert": {}})).unwrap_err();
        assert!(err.0.starts_with("undefined value"), "{err}");
    }

    #[test]
    fn syntax_errors_are_caught_at_load() {
        let err = Template::new("{{ alert.group ").unwrap_err();
        assert!(err.0.contains("syntax error"), "{err}");
    }

    #[test]
    fn html_is_not_escaped_in_plain_text() {
        let t = Template::new("{{ v }}").unwrap();
        assert_eq!(t.render(json!({"v": "<b>&"})).unwrap(), "<b>&");
    }
}
