//! The one representation both Zeek writers' values are normalized to, so
//! that a record read from TSV and the same record read from JSON give equal
//! fields:
//!
//! - `time` → RFC 3339 text with microseconds (`2018-03-24T17:15:20.865716Z`,
//!   the text Zeek's JSON writer uses);
//! - `interval` and `double` → a float rounded to the microsecond (the six
//!   decimals the TSV writer keeps; the JSON writer keeps every digit);
//! - strings → the text Zeek's JSON writer would write: bytes the TSV writer
//!   escaped as `\xNN` are restored, except those the JSON writer keeps
//!   escaped as the four characters `\xNN` (control characters other than
//!   `\b \f \n \r \t`, and bytes that are not valid UTF-8).

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat};
use riposte_model::{FieldValue, Timestamp};

/// Seconds beyond which microseconds no longer fit an `i64`.
const MAX_SECS: f64 = 9.0e12;

/// `x` seconds as whole microseconds, rounded the way both Zeek writers
/// round: the fraction of the second times 10^6, ties to even. `None` when
/// `x` is not finite or too large.
pub(super) fn micros(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let whole = x.floor();
    if whole.abs() >= MAX_SECS {
        return None;
    }
    // `x - floor(x)` is exact for doubles, so this is the same product the
    // writers compute.
    let frac = ((x - whole) * 1e6).round_ties_even();
    // Both are within ±9e18, checked above.
    Some(whole as i64 * 1_000_000 + frac as i64)
}

/// A time in seconds as a timestamp with microsecond precision.
pub(super) fn timestamp(x: f64) -> Option<Timestamp> {
    DateTime::from_timestamp_micros(micros(x)?)
}

/// A timestamp cut to the microsecond, the precision Zeek writes.
pub(super) fn to_micros(t: Timestamp) -> Timestamp {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// A non-`ts` time field's value: RFC 3339 text with microseconds. A time
/// chrono cannot represent stays the number it was.
pub(super) fn time_field(x: f64) -> FieldValue {
    match timestamp(x) {
        Some(t) => FieldValue::from(render_time(t)),
        None => FieldValue::Float(x),
    }
}

pub(super) fn render_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An `interval` or `double`: rounded to the microsecond.
pub(super) fn float_field(x: f64) -> FieldValue {
    match micros(x) {
        Some(m) => FieldValue::Float(m as f64 / 1e6),
        None => FieldValue::Float(x),
    }
}

/// A TSV value with the writer's escapes undone, in the form Zeek's JSON
/// writer gives the same bytes.
pub(super) fn tsv_string(s: &str) -> Cow<'_, str> {
    let clean = s
        .bytes()
        .all(|b| b != b'\\' && (b >= 0x20 || matches!(b, 0x08 | 0x0c | b'\n' | b'\r' | b'\t')));
    if clean {
        return Cow::Borrowed(s);
    }
    let bytes = unescape(s);
    Cow::Owned(json_escape(&bytes))
}

/// Undoes the TSV writer's escapes: `\\` is one backslash, `\xNN` one byte.
/// A backslash starting neither is kept as it is.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'x') => {
                    if let (Some(hi), Some(lo)) = (
                        b.get(i + 2).and_then(|h| hex(*h)),
                        b.get(i + 3).and_then(|h| hex(*h)),
                    ) {
                        out.push(hi << 4 | lo);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes as Zeek's JSON writer writes a string: valid UTF-8 as it is except
/// control characters other than `\b \f \n \r \t`, which like bytes that are
/// not UTF-8 become the text `\xNN`.
fn json_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c < ' ' && !matches!(c, '\u{8}' | '\u{c}' | '\n' | '\r' | '\t') {
                push_escaped(&mut out, c as u8);
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_escaped(&mut out, b);
        }
    }
    out
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tsv_and_json_floats_round_to_the_same_microsecond() {
        // dns rtt: TSV "0.000870", JSON 0.0008699893951416016.
        let tsv = float_field("0.000870".parse().unwrap());
        let json = float_field(0.0008699893951416016);
        assert_eq!(tsv, FieldValue::Float(0.00087));
        assert_eq!(json, tsv);
        assert_eq!(
            float_field(0.13974087420570516),
            FieldValue::Float(0.139741)
        );
        assert_eq!(float_field(4.294967296e9), FieldValue::Float(4294967296.0));
        assert_eq!(micros(-0.0000001), Some(0));
        assert_eq!(micros(f64::NAN), None);
        assert_eq!(micros(1e13), None);
        assert_eq!(float_field(1e13), FieldValue::Float(1e13));
    }

    #[test]
    fn times_render_like_zeeks_json_writer_including_before_1970() {
        assert_eq!(
            time_field("1521911713.139938".parse().unwrap()),
            FieldValue::Str("2018-03-24T17:15:13.139938Z".into())
        );
        assert_eq!(
            time_field("-1418429426.887384".parse().unwrap()),
            FieldValue::Str("1925-01-19T23:49:33.112616Z".into())
        );
        assert_eq!(
            time_field(0.0),
            FieldValue::Str("1970-01-01T00:00:00.000000Z".into())
        );
        assert_eq!(
            time_field("2.385616957e+09".parse().unwrap()),
            FieldValue::Str("2045-08-06T07:22:37.000000Z".into())
        );
        assert_eq!(time_field(f64::INFINITY), FieldValue::Float(f64::INFINITY));
    }

    #[test]
    fn tsv_escapes_become_what_the_json_writer_writes() {
        let cases = [
            ("plain", "plain"),
            (r"a\x09b", "a\tb"),
            (r"line\x0aline\x0d", "line\nline\r"),
            (r"N\\\\A", r"N\\A"),
            (r"\\svcctl", r"\svcctl"),
            (r#"data: "\x01""#, r#"data: "\x01""#),
            (r"\x00\x00", r"\x00\x00"),
            (r"\x2d", "-"),
            (r"\x28empty)", "(empty)"),
            (r"caf\xc3\xa9", "café"),
            (r"bad \xff byte", r"bad \xff byte"),
            (r"half \xe2\x82", r"half \xe2\x82"),
            (r"trailing \", r"trailing \"),
            (r"not hex \xzz", r"not hex \xzz"),
            ("raw \u{1} control", r"raw \x01 control"),
        ];
        for (tsv, want) in cases {
            assert_eq!(tsv_string(tsv), want, "{tsv}");
        }
    }
}
