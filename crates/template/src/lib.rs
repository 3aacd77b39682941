//! Templates and expressions for rules and playbooks, in one Jinja-style
//! language (minijinja).
//!
//! Rendering is strict: an undefined variable is an error, not an empty
//! string, so a typo in a playbook cannot silently ban "". Text templates
//! render plain text; [`Template::html`] ones escape for HTML. Sinks that
//! need another escaping (JSON bodies, URLs) get values rather than text
//! ([`Expr`], the `tojson` and `urlencode` filters), and no template output
//! ever reaches a shell. Every render is bounded by a fuel limit, so a
//! template looping over attacker-sized input cannot run away.

use std::collections::BTreeSet;
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

pub use minijinja::Value;

/// A template compiled once at load time and rendered many times: each
/// carries its own environment holding just itself, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    env: Arc<Environment<'static>>,
}

const NAME: &str = "t";
const HTML_NAME: &str = "t.html";

/// Instructions one render or evaluation may spend: far more than any
/// sensible template needs (a 10,000-item loop costs ~50,000), far less
/// than a runaway one.
const FUEL: u64 = 5_000_000;

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
    // Plain text unless the template is an HTML one (named `*.html`).
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_fuel(Some(FUEL));
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

/// The parts of a template that are code: inside `{{ }}` and `{% %}`.
fn code_regions(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let end = body.find(close).unwrap_or(body.len());
        out.push(&body[..end]);
        rest = &body[(end + close.len()).min(body.len())..];
    }
    out
}

/// `name['key']` and `name["key"]` where `name` is a variable (not an
/// attribute: no `.` before it), as the path `name.key`: minijinja's own
/// tracking stops at subscripts.
fn subscript_paths(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_')
            || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let name = &code[start..i];
        let mut j = i;
        let skip = |j: &mut usize| {
            while *j < bytes.len() && bytes[*j].is_ascii_whitespace() {
                *j += 1;
            }
        };
        skip(&mut j);
        if bytes.get(j) != Some(&b'[') {
            continue;
        }
        j += 1;
        skip(&mut j);
        let Some(&quote) = bytes.get(j).filter(|q| **q == b'\'' || **q == b'"') else {
            continue;
        };
        let key_start = j + 1;
        let Some(len) = code[key_start..].find(char::from(quote)) else {
            continue;
        };
        let mut k = key_start + len + 1;
        skip(&mut k);
        if bytes.get(k) == Some(&b']') {
            out.push(format!("{name}.{}", &code[key_start..key_start + len]));
        }
    }
    out
}

/// The variables a template or expression reads, as dotted paths as far as
/// attribute access goes (`steps.case.case_id`, `alert`).
fn paths(vars: std::collections::HashSet<String>) -> Vec<String> {
    let set: BTreeSet<String> = vars.into_iter().collect();
    set.into_iter().collect()
}

impl Template {
    /// Parses `source` as plain text; syntax errors are reported here, at
    /// load time.
    pub fn new(source: &str) -> Result<Self, TemplateError> {
        Self::compile(source, NAME)
    }

    /// Parses `source` as HTML: every value it prints is HTML-escaped
    /// (`|safe` opts out, for trusted text only).
    pub fn html(source: &str) -> Result<Self, TemplateError> {
        Self::compile(source, HTML_NAME)
    }

    fn compile(source: &str, name: &'static str) -> Result<Self, TemplateError> {
        let mut env = environment();
        env.add_template_owned(name, source.to_owned())
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
        self.compiled()
            .map(|t| paths(t.undeclared_variables(false)))
            .unwrap_or_default()
    }

    /// The variables it reads as dotted paths (`steps.case.case_id`), a
    /// subscript by a quoted name counting as an attribute
    /// (`steps['enrich-ip']` is `steps.enrich-ip`).
    pub fn variable_paths(&self) -> Vec<String> {
        self.compiled()
            .map(|t| {
                let mut vars = t.undeclared_variables(true);
                for code in code_regions(&self.source) {
                    vars.extend(subscript_paths(code));
                }
                paths(vars)
            })
            .unwrap_or_default()
    }

    pub fn render<C: Serialize>(&self, ctx: C) -> Result<String, TemplateError> {
        self.compiled()?
            .render(ctx)
            .map_err(|e| TemplateError(describe(&e)))
    }

    fn compiled(&self) -> Result<minijinja::Template<'_, '_>, TemplateError> {
        let name = if self.env.get_template(NAME).is_ok() {
            NAME
        } else {
            HTML_NAME
        };
        self.env
            .get_template(name)
            .map_err(|e| TemplateError(describe(&e)))
    }
}

/// An expression (`alert.severity == 'high'`, `steps.scan.hosts`),
/// compiled once; it evaluates to a value, not text, so lists stay lists
/// and numbers numbers.
#[derive(Clone)]
pub struct Expr {
    source: String,
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl Expr {
    /// Parses an expression; `{{ … }}` around it is accepted and removed.
    pub fn new(source: &str) -> Result<Self, TemplateError> {
        let inner = strip_braces(source).unwrap_or(source.trim());
        let env = Arc::new(environment());
        env.compile_expression(inner)
            .map_err(|e| TemplateError(describe(&e)))?;
        Ok(Self {
            source: inner.to_owned(),
            env,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn compiled(&self) -> Result<minijinja::Expression<'_, '_>, TemplateError> {
        self.env
            .compile_expression(&self.source)
            .map_err(|e| TemplateError(describe(&e)))
    }

    pub fn variables(&self) -> Vec<String> {
        self.compiled()
            .map(|e| paths(e.undeclared_variables(false)))
            .unwrap_or_default()
    }

    pub fn variable_paths(&self) -> Vec<String> {
        self.compiled()
            .map(|e| {
                let mut vars = e.undeclared_variables(true);
                vars.extend(subscript_paths(&self.source));
                paths(vars)
            })
            .unwrap_or_default()
    }

    /// Evaluates to a minijinja value.
    pub fn eval<C: Serialize>(&self, ctx: C) -> Result<Value, TemplateError> {
        self.compiled()?
            .eval(ctx)
            .map_err(|e| TemplateError(describe(&e)))
    }

    /// Evaluates to JSON: none becomes null; an undefined value is an
    /// error, as it is in text templates (a typo must not pass as null).
    pub fn eval_json<C: Serialize>(&self, ctx: C) -> Result<serde_json::Value, TemplateError> {
        let v = self.eval(ctx)?;
        if v.is_undefined() {
            return Err(TemplateError(format!(
                "undefined value: {} is not defined",
                self.source
            )));
        }
        if v.is_none() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::to_value(&v).map_err(|e| TemplateError(e.to_string()))
    }

    /// Truthiness, as Jinja's `if` tests it.
    pub fn is_true<C: Serialize>(&self, ctx: C) -> Result<bool, TemplateError> {
        Ok(self.eval(ctx)?.is_true())
    }
}

/// The expression inside `{{ … }}` when that is all the text holds.
pub fn strip_braces(text: &str) -> Option<&str> {
    let t = text.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    // `{{ a }} and {{ b }}` is text with two expressions, not one.
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
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
    fn quoted_subscripts_count_as_paths() {
        let t = Template::new(
            "steps['later'] {{ steps['enrich-ip'].asn }} {{ alert.group['source.ip'] }} {% if secrets[\"API\"] %}x{% endif %} {{ steps[name] }}",
        )
        .unwrap();
        assert_eq!(
            t.variable_paths(),
            vec![
                "alert.group".to_owned(),
                "name".to_owned(),
                "secrets".to_owned(),
                "secrets.API".to_owned(),
                "steps".to_owned(),
                "steps.enrich-ip".to_owned(),
            ]
        );
        let e = Expr::new("steps [ 'ask' ].approved and inputs['ip']").unwrap();
        assert_eq!(
            e.variable_paths(),
            vec![
                "inputs".to_owned(),
                "inputs.ip".to_owned(),
                "steps".to_owned(),
                "steps.ask".to_owned(),
            ]
        );
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
        assert!(Expr::new("a ==").is_err());
    }

    #[test]
    fn html_is_not_escaped_in_plain_text_but_is_in_html_templates() {
        let t = Template::new("{{ v }}").unwrap();
        assert_eq!(t.render(json!({"v": "<b>&"})).unwrap(), "<b>&");
        let h = Template::html("<p>{{ v }}</p>").unwrap();
        assert_eq!(
            h.render(json!({"v": "<script>x</script>&"})).unwrap(),
            "<p>&lt;script&gt;x&lt;&#x2f;script&gt;&amp;</p>"
        );
    }

    #[test]
    fn expressions_keep_their_types() {
        let e = Expr::new("{{ steps.scan.hosts }}").unwrap();
        let ctx = json!({"steps": {"scan": {"hosts": ["a", "b"]}}});
        assert_eq!(e.eval_json(&ctx).unwrap(), json!(["a", "b"]));
        let missing = Expr::new("steps.scan.nope").unwrap();
        assert_eq!(
            missing.eval_json(&ctx).unwrap_err().0,
            "undefined value: steps.scan.nope is not defined"
        );
        assert_eq!(e.variable_paths(), vec!["steps.scan.hosts".to_owned()]);
        assert!(
            Expr::new("n > 3 and kind == 'ban'")
                .unwrap()
                .is_true(json!({"n": 4, "kind": "ban"}))
                .unwrap()
        );
        assert_eq!(strip_braces("{{ a }} and {{ b }}"), None);
    }

    #[test]
    fn filters_for_sinks_escape_their_values() {
        let t = Template::new("https://x/?q={{ q|urlencode }}&j={{ q|tojson }}").unwrap();
        assert_eq!(
            t.render(json!({"q": "a b&c\""})).unwrap(),
            "https://x/?q=a%20b%26c%22&j=\"a b\\u0026c\\\"\""
        );
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let t = Template::new(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        )
        .unwrap();
        let err = t.render(json!({})).unwrap_err();
        assert!(err.0.contains("fuel"), "{err}");
    }
}
