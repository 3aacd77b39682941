//! Flattening a JSON object straight from its text, without building a
//! `serde_json::Value` first.
//!
//! The `Value` route allocates every key and string value (and a map per
//! object) only to copy them into the event's fields and free them; here
//! keys are borrowed from the text and names and short values are built
//! as inline [`CompactString`]s. The pairs come out exactly as
//! [`super::flatten_into`] makes them from the `Value` (same names, values
//! and document order), so the two routes give the same fields; a record
//! this route does not take gives `None` and goes the `Value` way:
//!
//! - anything that is not a well-formed object (so errors keep their exact
//!   `Value`-route messages);
//! - a key repeated within one object: a `Value` map keeps the last value
//!   at the first key's place (an object then replaces, not merges), which
//!   a streaming pass cannot reproduce without buffering;
//! - a key with escapes (it cannot be borrowed from the text), and objects
//!   of more than [`MAX_KEYS`] keys (the repeated-key check is quadratic).

use std::fmt;

use riposte_model::{CompactString, FieldValue};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::scalar;

/// Keys per object this route takes; larger objects go the `Value` way.
const MAX_KEYS: usize = 64;

type Pairs = Vec<(CompactString, FieldValue)>;

/// The flattened `(name, value)` pairs of `text`, in document order, or
/// `None` for a record the `Value` route must take (see the module doc).
pub(crate) fn flatten_str(text: &str) -> Option<Pairs> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut out = Vec::new();
    let mut keys = Vec::new();
    let seed = Object {
        prefix: "",
        out: &mut out,
        keys: &mut keys,
    };
    seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// An object whose fields go to `out` under `prefix.`. `keys` is a stack
/// shared by the levels, holding the keys seen so far in each open object.
struct Object<'p, 'o, 'de> {
    prefix: &'p str,
    out: &'o mut Pairs,
    keys: &'o mut Vec<&'de str>,
}

impl<'de> DeserializeSeed<'de> for Object<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.keys.len();
        while let Some(key) = map.next_key::<&'de str>()? {
            let seen = &self.keys[base..];
            if seen.len() >= MAX_KEYS || seen.contains(&key) {
                return Err(de::Error::custom("taken by the Value route"));
            }
            self.keys.push(key);
            let name = if self.prefix.is_empty() {
                CompactString::from(key)
            } else {
                let mut name = CompactString::with_capacity(self.prefix.len() + 1 + key.len());
                name.push_str(self.prefix);
                name.push('.');
                name.push_str(key);
                name
            };
            map.next_value_seed(Field {
                name,
                out: &mut *self.out,
                keys: &mut *self.keys,
            })?;
        }
        self.keys.truncate(base);
        Ok(())
    }
}

/// The value of the field `name`: a scalar is pushed, an object recursed
/// into, an array handled as [`super::flatten_into`] does.
struct Field<'o, 'de> {
    name: CompactString,
    out: &'o mut Pairs,
    keys: &'o mut Vec<&'de str>,
}

impl<'de> DeserializeSeed<'de> for Field<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.out.push((self.name, FieldValue::Bool(b)));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<(), E> {
        self.out.push((self.name, FieldValue::Int(i)));
        Ok(())
    }

    /// As `Value::Number::as_i64`, else the digits as text (see `scalar`).
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<(), E> {
        let v = match i64::try_from(u) {
            Ok(i) => FieldValue::Int(i),
            Err(_) => FieldValue::from(u.to_string()),
        };
        self.out.push((self.name, v));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        self.out.push((self.name, FieldValue::Float(x)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.out.push((self.name, FieldValue::from(s)));
        Ok(())
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<(), E> {
        self.out.push((self.name, FieldValue::from(s)));
        Ok(())
    }

    /// `null` is dropped, as `scalar` drops it.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Object {
            prefix: &self.name,
            out: self.out,
            keys: self.keys,
        }
        .visit_map(map)
    }

    /// Arrays are rarer: read as `Value`s and handled as before.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        let value = if items
            .iter()
            .all(|i| !matches!(i, Value::Array(_) | Value::Object(_)))
        {
            FieldValue::List(items.into_iter().filter_map(scalar).collect())
        } else {
            FieldValue::from(Value::Array(items).to_string())
        };
        self.out.push((self.name, value));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use riposte_model::Fields;
    use serde_json::Map;

    use super::*;

    /// Both routes on one text: the `Value` route's fields, and whether the
    /// direct one took the record.
    fn both(text: &str) -> (Fields, Option<Fields>) {
        let object: Map<String, Value> = serde_json::from_str(text).unwrap();
        let mut via_value = Fields::new();
        super::super::flatten_into(&mut via_value, "", object);
        (via_value, flatten_str(text).map(Fields::from_iter))
    }

    #[test]
    fn gives_the_value_routes_fields() {
        for text in [
            r#"{"a":{"b":1,"c":{"d":"x"}},"e":null,"f":[1,"two",null,true,2.5],"g":[{"h":1}]}"#,
            r#"{"big":18446744073709551615,"neg":-3,"max":9223372036854775807,"float":1.5e300}"#,
            r#"{"a.b":1,"a":{"b":2},"z":{"y":{"x":{}}},"long_name_that_is_over_24_bytes":"v"}"#,
            r#"{"s":"with \"escapes\" \u00e9","t":"A string value that is longer than 24 bytes"}"#,
            "{}",
        ] {
            let (want, got) = both(text);
            assert_eq!(got.as_ref(), Some(&want), "{text}");
        }
        let (want, _) = both(r#"{"a":{"b":1},"c":[]}"#);
        assert_eq!(want.get("c"), Some(&FieldValue::List(Vec::new())));
        assert_eq!(want.get("a.b"), Some(&FieldValue::Int(1)));
    }

    #[test]
    fn leaves_to_the_value_route_what_it_cannot_reproduce() {
        // A repeated key: the Value map keeps the last object whole.
        let (want, got) = both(r#"{"a":{"b":1},"a":{"c":2}}"#);
        assert_eq!(got, None);
        assert_eq!(want.get("a.b"), None);
        assert_eq!(want.get("a.c"), Some(&FieldValue::Int(2)));
        // An escaped key, not an object, malformed, trailing text.
        assert_eq!(both(r#"{"k\"ey":1}"#).1, None);
        for text in ["[1]", "1", r#"{"a":1"#, r#"{"a":1} x"#, ""] {
            assert_eq!(flatten_str(text), None, "{text}");
        }
        let wide: String = (0..=MAX_KEYS)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(flatten_str(&format!("{{{wide}}}")), None);
        // Repeats in different objects are fine.
        assert!(flatten_str(r#"{"a":{"x":1},"b":{"x":2},"x":3}"#).is_some());
    }
}
