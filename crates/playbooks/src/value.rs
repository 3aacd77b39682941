//! Step inputs as value templates: a YAML tree whose strings are templates.
//!
//! A string that is one `{{ expression }}` and nothing else evaluates to
//! the expression's value, so `{{ steps.scan.hosts }}` stays a list and
//! `{{ alert.count }}` a number; any other string renders to text. Inputs
//! therefore reach actions as JSON values, never as text spliced into a
//! JSON document, a URL or a command line: each sink escapes for itself.

use riposte_template::{Expr, Template, strip_braces};
use serde_json::Value;

/// A compiled input tree.
#[derive(Clone, Debug)]
pub enum ValueTemplate {
    Literal(Value),
    Text(Template),
    Expr(Expr),
    List(Vec<ValueTemplate>),
    Map(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    /// Compiles a YAML value. `html`: keys whose text templates escape for
    /// HTML (an email's `html` body). Errors are `(location, message)`.
    pub fn compile(
        v: &serde_yaml_ng::Value,
        html: &[&str],
        loc: &str,
        errors: &mut Vec<(String, String)>,
    ) -> Option<Self> {
        use serde_yaml_ng::Value as Y;
        Some(match v {
            Y::Null => Self::Literal(Value::Null),
            Y::Bool(b) => Self::Literal(Value::Bool(*b)),
            Y::Number(n) => Self::Literal(serde_json::to_value(n).unwrap_or(Value::Null)),
            Y::String(s) => return Self::text(s, false, loc, errors),
            Y::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match Self::compile(item, html, &format!("{loc}[{i}]"), errors) {
                        Some(t) => out.push(t),
                        None => ok = false,
                    }
                }
                ok.then_some(Self::List(out))?
            }
            Y::Mapping(m) => {
                let mut out = Vec::with_capacity(m.len());
                let mut ok = true;
                for (k, item) in m {
                    let key = riposte_model::yaml::scalar_text(k);
                    let at = format!("{loc}.{key}");
                    let compiled = match item {
                        Y::String(s) if html.contains(&key.as_str()) => {
                            Self::text(s, true, &at, errors)
                        }
                        other => Self::compile(other, &[], &at, errors),
                    };
                    match compiled {
                        Some(t) => out.push((key, t)),
                        None => ok = false,
                    }
                }
                ok.then_some(Self::Map(out))?
            }
            Y::Tagged(t) => return Self::compile(&t.value, html, loc, errors),
        })
    }

    fn text(s: &str, html: bool, loc: &str, errors: &mut Vec<(String, String)>) -> Option<Self> {
        if !html && let Some(inner) = strip_braces(s) {
            return match Expr::new(inner) {
                Ok(e) => Some(Self::Expr(e)),
                Err(e) => {
                    errors.push((loc.to_owned(), e.to_string()));
                    None
                }
            };
        }
        let t = if html {
            Template::html(s)
        } else {
            Template::new(s)
        };
        match t {
            Ok(t) if t.is_literal() => Some(Self::Literal(Value::String(s.to_owned()))),
            Ok(t) => Some(Self::Text(t)),
            Err(e) => {
                errors.push((loc.to_owned(), e.to_string()));
                None
            }
        }
    }

    /// Renders against `ctx`; the error names where in the tree it arose.
    pub fn render(&self, ctx: &Value) -> Result<Value, String> {
        self.render_at(ctx, "")
    }

    fn render_at(&self, ctx: &Value, at: &str) -> Result<Value, String> {
        let err = |e: riposte_template::TemplateError| {
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        };
        Ok(match self {
            Self::Literal(v) => v.clone(),
            Self::Text(t) => Value::String(t.render(ctx).map_err(err)?),
            Self::Expr(e) => e.eval_json(ctx).map_err(err)?,
            Self::List(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.render_at(ctx, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Map(entries) => {
                let mut m = serde_json::Map::with_capacity(entries.len());
                for (k, t) in entries {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    m.insert(k.clone(), t.render_at(ctx, &here)?);
                }
                Value::Object(m)
            }
        })
    }

    /// The value when it holds no template.
    pub fn literal(&self) -> Option<Value> {
        match self {
            Self::Literal(v) => Some(v.clone()),
            Self::Text(_) | Self::Expr(_) => None,
            Self::List(items) => items
                .iter()
                .map(Self::literal)
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Self::Map(entries) => entries
                .iter()
                .map(|(k, t)| Some((k.clone(), t.literal()?)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object),
        }
    }

    /// The entry `key` of a map.
    pub fn get(&self, key: &str) -> Option<&ValueTemplate> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, t)| t),
            _ => None,
        }
    }

    /// The keys of a map (empty for anything else).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Self::Map(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Every variable path its templates read, for validation.
    pub fn variable_paths(&self, out: &mut Vec<String>) {
        match self {
            Self::Literal(_) => {}
            Self::Text(t) => out.extend(t.variable_paths()),
            Self::Expr(e) => out.extend(e.variable_paths()),
            Self::List(items) => items.iter().for_each(|t| t.variable_paths(out)),
            Self::Map(entries) => entries.iter().for_each(|(_, t)| t.variable_paths(out)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(yaml: &str, html: &[&str]) -> ValueTemplate {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let t = ValueTemplate::compile(&v, html, "with", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        t.unwrap()
    }

    #[test]
    fn single_expressions_keep_types_and_text_renders() {
        let t = compile(
            "{hosts: '{{ steps.scan.hosts }}', n: '{{ alert.count }}', msg: 'ban {{ alert.ip }}', d: 4h, on: true}",
            &[],
        );
        let ctx = json!({"steps": {"scan": {"hosts": ["a", "b"]}}, "alert": {"count": 6, "ip": "203.0.113.7"}});
        assert_eq!(
            t.render(&ctx).unwrap(),
            json!({"hosts": ["a", "b"], "n": 6, "msg": "ban 203.0.113.7", "d": "4h", "on": true})
        );
        let mut vars = Vec::new();
        t.variable_paths(&mut vars);
        vars.sort();
        assert_eq!(vars, ["alert.count", "alert.ip", "steps.scan.hosts"]);
        assert_eq!(t.literal(), None);
        assert_eq!(
            t.get("d").and_then(ValueTemplate::literal),
            Some(json!("4h"))
        );
    }

    #[test]
    fn html_keys_escape_and_errors_name_the_place() {
        let t = compile(
            "{html: '<p>{{ user }}</p>', text: '{{ user }} said'}",
            &["html"],
        );
        assert_eq!(
            t.render(&json!({"user": "<img src=x>"})).unwrap(),
            json!({"html": "<p>&lt;img src=x&gt;</p>", "text": "<img src=x> said"})
        );
        let t = compile("{a: {b: ['{{ nope.x }}']}}", &[]);
        let err = t.render(&json!({})).unwrap_err();
        assert!(err.starts_with("a.b[0]: undefined value"), "{err}");
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("{a: '{{ x'}").unwrap();
        let mut errors = Vec::new();
        assert!(ValueTemplate::compile(&v, &[], "with", &mut errors).is_none());
        assert_eq!(errors[0].0, "with.a");
    }
}
