use riposte_model::{Event, FieldValue};

/// Field conditions of a rule, all of which must hold. Each condition lists
/// the accepted values of one field; values compare as text, so `1` in YAML
/// matches the integer field 1.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    conditions: Vec<(String, Vec<String>)>,
}

impl Matcher {
    pub fn new(conditions: Vec<(String, Vec<String>)>) -> Self {
        Self { conditions }
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.conditions.iter().all(|(field, accepted)| {
            match event.get_str(field) {
                Some(s) => accepted.iter().any(|a| a == s),
                None => match event.fields.get(field) {
                    // Non-string values are rare in conditions; format them.
                    Some(v @ (FieldValue::Int(_) | FieldValue::Float(_) | FieldValue::Bool(_))) => {
                        let text = v.to_string();
                        accepted.contains(&text)
                    }
                    _ => false,
                },
            }
        })
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(|(f, _)| f.as_str())
    }
}
