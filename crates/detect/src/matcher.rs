use riposte_model::{Event, FieldValue};

/// Field conditions of a rule, all of which must hold. Each condition lists
/// the accepted values of one field; values compare as text, so `1` in YAML
/// matches the integer field 1. A list field matches when any of its items
/// does.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    conditions: Vec<(String, Vec<String>)>,
}

impl Matcher {
    pub fn new(conditions: Vec<(String, Vec<String>)>) -> Self {
        Self { conditions }
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.conditions
            .iter()
            .all(|(field, accepted)| match event.get_str(field) {
                Some(s) => accepted.iter().any(|a| a == s),
                None => event
                    .fields
                    .get(field.as_str())
                    .is_some_and(|v| value_matches(v, accepted)),
            })
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(|(f, _)| f.as_str())
    }
}

/// Non-string values are rare in conditions; they are formatted and compared
/// as text.
fn value_matches(value: &FieldValue, accepted: &[String]) -> bool {
    match value {
        FieldValue::Str(s) => accepted.iter().any(|a| a == s),
        FieldValue::List(items) => items.iter().any(|item| value_matches(item, accepted)),
        scalar => accepted.contains(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn list_field_matches_when_any_item_does() {
        let mut ev = Event::new(
            Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
            "zeek.dns",
        );
        ev.set(
            "dns.answers.data",
            vec![FieldValue::from("a.example"), FieldValue::Int(7)],
        );
        let m = |v: &str| Matcher::new(vec![("dns.answers.data".into(), vec![v.into()])]);
        assert!(m("a.example").matches(&ev));
        assert!(m("7").matches(&ev));
        assert!(!m("b.example").matches(&ev));
    }
}
