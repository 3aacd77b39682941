//! Matching a parsed STIX pattern against STIX 2.1 observed-data, with the
//! semantics of the OASIS reference matcher (cti-pattern-matcher):
//!
//! - an observation is one observed-data object, repeated
//!   `number_observed` times; its cyber-observables are the objects its
//!   `object_refs` name, and `_ref`/`_refs` properties resolve among them;
//! - a comparison expression selects, per observation, the root objects for
//!   which it holds (AND intersects them, OR unites them);
//! - observation expressions produce *bindings* (sets of observations):
//!   AND and FOLLOWEDBY join disjoint bindings (FOLLOWEDBY also in time
//!   order), OR takes either side, REPEATS n takes n disjoint bindings,
//!   WITHIN and START/STOP keep the bindings whose observation intervals fit;
//! - values are typed as in JSON, with `_hex`/`_bin` properties as bytes;
//!   comparing incompatible types is false (`!=` true), never an error;
//!   `=` compares code points exactly, LIKE and MATCHES compare NFC text.
//!
//! A pattern either matches, does not, or fails with an error naming the
//! bad data; it never guesses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::pattern::{
    Comparison, Literal, ObjectPath, OrderOp, Pattern, Step, Test, parse_timestamp,
};

/// Bindings kept at any point; a pattern needing more is refused rather
/// than left to run away (REPEATS over many observations is combinatorial).
pub const MAX_BINDINGS: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

/// One observation (an observed-data object, once per `number_observed`).
#[derive(Debug)]
struct Observation<'a> {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    /// The cyber-observables `object_refs` names, by id.
    objects: Vec<(&'a str, &'a Value)>,
}

/// The observed-data of STIX bundles, unpacked for matching.
#[derive(Debug)]
pub struct Observations<'a> {
    items: Vec<Observation<'a>>,
}

impl<'a> Observations<'a> {
    /// Reads every `observed-data` object of the bundles (or of a list of
    /// objects); its `object_refs` resolve inside the same bundle.
    pub fn from_bundles(bundles: &'a [Value]) -> Result<Self, EvalError> {
        let mut items = Vec::new();
        for bundle in bundles {
            let objects: Vec<&Value> = match bundle.get("objects").and_then(Value::as_array) {
                Some(list) => list.iter().collect(),
                None => vec![bundle],
            };
            let by_id: HashMap<&str, &Value> = objects
                .iter()
                .filter_map(|o| Some((o.get("id")?.as_str()?, *o)))
                .collect();
            for od in objects
                .iter()
                .filter(|o| o.get("type").and_then(Value::as_str) == Some("observed-data"))
            {
                let time = |key: &str| {
                    od.get(key)
                        .and_then(Value::as_str)
                        .and_then(parse_timestamp)
                        .ok_or_else(|| {
                            EvalError(format!(
                                "observed-data {key} is missing or not a STIX timestamp"
                            ))
                        })
                };
                let (first, last) = (time("first_observed")?, time("last_observed")?);
                if first > last {
                    return fail("observed-data first_observed is after last_observed");
                }
                let n = od
                    .get("number_observed")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if !(1..=10_000).contains(&n) {
                    return fail(format!("observed-data number_observed {n} is not 1-10000"));
                }
                // STIX 2.1: `object_refs` into the bundle; STIX 2.0: an
                // `objects` map inside the observed-data.
                let refs = od.get("object_refs").and_then(Value::as_array);
                let mut roots: Vec<(&str, &Value)> = refs
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter_map(|id| by_id.get(id).map(|o| (id, *o)))
                    .collect();
                if roots.is_empty()
                    && let Some(embedded) = od.get("objects").and_then(Value::as_object)
                {
                    roots = embedded.iter().map(|(k, v)| (k.as_str(), v)).collect();
                }
                for _ in 0..n {
                    items.push(Observation {
                        first,
                        last,
                        objects: roots.clone(),
                    });
                }
            }
        }
        Ok(Self { items })
    }
}

/// A value selected by an object path.
#[derive(Clone, Debug)]
enum Sel<'a> {
    Json(&'a Value),
    Bytes(Vec<u8>),
    /// The objects a `_refs` list resolved to.
    Refs(Vec<&'a Value>),
}

/// Per observation: root object index → the values the path selected.
type Selected<'a> = BTreeMap<usize, BTreeMap<usize, Vec<Sel<'a>>>>;
/// Per observation: the root objects for which a comparison holds.
type Passed = BTreeMap<usize, BTreeSet<usize>>;

fn suffix_value<'a>(key: &str, v: &'a Value) -> Result<Sel<'a>, EvalError> {
    if key.ends_with("_hex") {
        return match v.as_str().map(hex::decode) {
            Some(Ok(b)) => Ok(Sel::Bytes(b)),
            _ => fail(format!("property {key} is not hex")),
        };
    }
    if key.ends_with("_bin") {
        return match v
            .as_str()
            .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
        {
            Some(Ok(b)) => Ok(Sel::Bytes(b)),
            _ => fail(format!("property {key} is not base64")),
        };
    }
    Ok(Sel::Json(v))
}

fn resolve<'a>(
    obs: &Observation<'a>,
    id: &Value,
    key: &str,
) -> Result<Option<&'a Value>, EvalError> {
    let Some(id) = id.as_str() else {
        return fail(format!("reference property {key} holds a non-string"));
    };
    Ok(obs
        .objects
        .iter()
        .find(|(oid, _)| *oid == id)
        .map(|(_, o)| *o))
}

fn select<'a>(obs: &[Observation<'a>], path: &ObjectPath) -> Result<Selected<'a>, EvalError> {
    let mut out = Selected::new();
    for (oi, o) in obs.iter().enumerate() {
        let mut roots = BTreeMap::new();
        for (ri, (_, obj)) in o.objects.iter().enumerate() {
            if obj.get("type").and_then(Value::as_str) != Some(path.object_type.as_str()) {
                continue;
            }
            let mut vals = vec![Sel::Json(obj)];
            for step in &path.steps {
                let mut next = Vec::new();
                for v in vals {
                    match (step, v) {
                        (Step::Key(k), Sel::Json(Value::Object(m))) => {
                            let Some(child) = m.get(k) else { continue };
                            if k.ends_with("_refs") {
                                let Some(list) = child.as_array() else {
                                    return fail(format!("reference list {k} is not a list"));
                                };
                                let mut objs = Vec::new();
                                for id in list {
                                    if let Some(r) = resolve(o, id, k)? {
                                        objs.push(r);
                                    }
                                }
                                if !objs.is_empty() {
                                    next.push(Sel::Refs(objs));
                                }
                            } else if k.ends_with("_ref") {
                                if let Some(r) = resolve(o, child, k)? {
                                    next.push(Sel::Json(r));
                                }
                            } else {
                                next.push(suffix_value(k, child)?);
                            }
                        }
                        (Step::Index(i), Sel::Json(Value::Array(a))) => {
                            if let Some(x) = a.get(*i) {
                                next.push(Sel::Json(x));
                            }
                        }
                        (Step::Index(i), Sel::Refs(r)) => {
                            if let Some(x) = r.get(*i) {
                                next.push(Sel::Json(x));
                            }
                        }
                        (Step::Any, Sel::Json(Value::Array(a))) => {
                            next.extend(a.iter().map(Sel::Json))
                        }
                        (Step::Any, Sel::Refs(r)) => next.extend(r.into_iter().map(Sel::Json)),
                        _ => {}
                    }
                }
                vals = next;
                if vals.is_empty() {
                    break;
                }
            }
            if !vals.is_empty() {
                roots.insert(ri, vals);
            }
        }
        if !roots.is_empty() {
            out.insert(oi, roots);
        }
    }
    Ok(out)
}

/// A JSON or pattern value as the reference matcher types it.
#[derive(Debug)]
enum Typed<'v> {
    Int(i64),
    Float(f64),
    Str(&'v str),
    Bool(bool),
    Bytes(&'v [u8]),
    Time(DateTime<Utc>),
    Other,
}

fn typed<'v>(v: &'v Sel<'_>, want_time: bool) -> Result<Typed<'v>, EvalError> {
    Ok(match v {
        Sel::Bytes(b) => Typed::Bytes(b),
        Sel::Refs(_) => Typed::Other,
        Sel::Json(Value::Number(n)) => match n.as_i64() {
            Some(i) => Typed::Int(i),
            None => n.as_f64().map_or(Typed::Other, Typed::Float),
        },
        Sel::Json(Value::String(s)) if want_time => match parse_timestamp(s) {
            Some(t) => Typed::Time(t),
            None => return fail(format!("invalid timestamp in the data: {s:?}")),
        },
        Sel::Json(Value::String(s)) => Typed::Str(s),
        Sel::Json(Value::Bool(b)) => Typed::Bool(*b),
        Sel::Json(_) => Typed::Other,
    })
}

fn lit(l: &Literal) -> Typed<'_> {
    match l {
        Literal::Int(i) => Typed::Int(*i),
        Literal::Float(f) => Typed::Float(*f),
        Literal::Str(s) => Typed::Str(s),
        Literal::Bool(b) => Typed::Bool(*b),
        Literal::Bytes(b) => Typed::Bytes(b),
        Literal::Timestamp(t) => Typed::Time(*t),
    }
}

/// The Latin-1 bytes of a string, if every character fits.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

/// `Some(ordering)` when the two types compare; `None` when they do not.
/// `Err(())` marks a binary/string comparison the string cannot take part
/// in (false for order tests, unequal for equality).
fn compare(a: &Typed<'_>, b: &Typed<'_>) -> Option<Result<std::cmp::Ordering, ()>> {
    use Typed as T;
    Some(Ok(match (a, b) {
        (T::Int(x), T::Int(y)) => x.cmp(y),
        (T::Int(x), T::Float(y)) => (*x as f64).partial_cmp(y)?,
        (T::Float(x), T::Int(y)) => x.partial_cmp(&(*y as f64))?,
        (T::Float(x), T::Float(y)) => x.partial_cmp(y)?,
        (T::Str(x), T::Str(y)) => x.cmp(y),
        (T::Bytes(x), T::Bytes(y)) => x.cmp(y),
        (T::Bytes(x), T::Str(s)) => match latin1(s) {
            Some(y) => x.cmp(&y.as_slice()),
            None => return Some(Err(())),
        },
        (T::Str(s), T::Bytes(y)) => match latin1(s) {
            Some(x) => x.as_slice().cmp(y),
            None => return Some(Err(())),
        },
        (T::Time(x), T::Time(y)) => x.cmp(y),
        (T::Bool(x), T::Bool(y)) => x.cmp(y),
        _ => return None,
    }))
}

fn equal(value: &Typed<'_>, literal: &Typed<'_>) -> bool {
    matches!(compare(value, literal), Some(Ok(std::cmp::Ordering::Equal)))
}

fn ipv4_net(s: &str) -> Result<(u32, u8), EvalError> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => {
            let len: u8 = len
                .parse()
                .ok()
                .filter(|l| (1..=32).contains(l))
                .ok_or_else(|| EvalError(format!("invalid CIDR subnet: {s}")))?;
            (ip, len)
        }
        None => (s, 32),
    };
    let ip: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|_| EvalError(format!("invalid IPv4 address: {s}")))?;
    Ok((ip.to_bits(), len))
}

/// Whether the address or network `inner` lies within the network `outer`.
fn in_subnet(inner: &str, outer: &str) -> Result<bool, EvalError> {
    if !outer.contains('/') {
        return fail(format!("invalid CIDR subnet: {outer}"));
    }
    let (i, ilen) = ipv4_net(inner)?;
    let (o, olen) = ipv4_net(outer)?;
    if olen > ilen {
        return Ok(false);
    }
    let mask = if olen == 0 {
        0
    } else {
        u32::MAX << (32 - olen)
    };
    Ok(i & mask == o & mask)
}

fn prop_pred(v: &Sel<'_>, negated: bool, test: &Test) -> Result<bool, EvalError> {
    let result = match test {
        Test::Equal { value, not_equal } => {
            let want_time = matches!(value, Literal::Timestamp(_));
            let eq = equal(&typed(v, want_time)?, &lit(value));
            eq != *not_equal
        }
        Test::Order { op, value } => {
            let want_time = matches!(value, Literal::Timestamp(_));
            match compare(&typed(v, want_time)?, &lit(value)) {
                // Incomparable types: false (so NOT makes it true, as for
                // every other operator).
                None | Some(Err(())) => false,
                Some(Ok(o)) => match op {
                    OrderOp::Gt => o.is_gt(),
                    OrderOp::Lt => o.is_lt(),
                    OrderOp::Ge => o.is_ge(),
                    OrderOp::Le => o.is_le(),
                },
            }
        }
        Test::In(set) => {
            let want_time = matches!(set.first(), Some(Literal::Timestamp(_)));
            let t = typed(v, want_time)?;
            set.iter().any(|l| {
                let l = lit(l);
                // Set membership compares like Python's `in`: bytes never
                // equal text there.
                !matches!(
                    (&t, &l),
                    (Typed::Bytes(_), Typed::Str(_)) | (Typed::Str(_), Typed::Bytes(_))
                ) && equal(&t, &l)
            })
        }
        Test::Like(re) => match v {
            Sel::Json(Value::String(s)) => re.is_match(&s.nfc().collect::<String>()),
            // Binary values are read as Latin-1 text.
            Sel::Bytes(b) => re.is_match(&b.iter().map(|&c| char::from(c)).collect::<String>()),
            _ => false,
        },
        Test::Matches { text, bytes } => match v {
            Sel::Json(Value::String(s)) => text.is_match(&s.nfc().collect::<String>()),
            Sel::Bytes(b) => bytes.as_ref().is_some_and(|re| re.is_match(b)),
            _ => false,
        },
        Test::IsSubset(net) => match v {
            Sel::Json(Value::String(s)) => in_subnet(s, net)?,
            _ => false,
        },
        Test::IsSuperset(inner) => match v {
            Sel::Json(Value::String(s)) => in_subnet(inner, s)?,
            _ => false,
        },
        Test::Exists => true,
    };
    Ok(result != negated)
}

fn comparison(obs: &[Observation<'_>], c: &Comparison) -> Result<Passed, EvalError> {
    match c {
        Comparison::Or(a, b) => {
            let mut l = comparison(obs, a)?;
            for (o, roots) in comparison(obs, b)? {
                l.entry(o).or_default().extend(roots);
            }
            Ok(l)
        }
        Comparison::And(a, b) => {
            let l = comparison(obs, a)?;
            let r = comparison(obs, b)?;
            Ok(l.into_iter()
                .filter_map(|(o, roots)| {
                    let both: BTreeSet<usize> = roots.intersection(r.get(&o)?).copied().collect();
                    (!both.is_empty()).then_some((o, both))
                })
                .collect())
        }
        Comparison::Test {
            path,
            negated,
            test: Test::Exists,
        } if *negated => {
            // NOT EXISTS: objects of the type whose path selects nothing.
            let has = select(obs, path)?;
            let mut out = Passed::new();
            for (oi, o) in obs.iter().enumerate() {
                for (ri, (_, obj)) in o.objects.iter().enumerate() {
                    let typed_ok =
                        obj.get("type").and_then(Value::as_str) == Some(path.object_type.as_str());
                    let present = has.get(&oi).is_some_and(|r| r.contains_key(&ri));
                    if typed_ok && !present {
                        out.entry(oi).or_default().insert(ri);
                    }
                }
            }
            Ok(out)
        }
        Comparison::Test {
            path,
            negated,
            test,
        } => {
            let mut out = Passed::new();
            for (oi, roots) in select(obs, path)? {
                for (ri, vals) in roots {
                    for v in &vals {
                        if prop_pred(v, *negated, test)? {
                            out.entry(oi).or_default().insert(ri);
                            break;
                        }
                    }
                }
            }
            Ok(out)
        }
    }
}

type Binding = Vec<usize>;

fn disjoint(a: &[usize], b: &[usize]) -> bool {
    a.iter().all(|x| !b.contains(x))
}

fn bounded(v: Vec<Binding>) -> Result<Vec<Binding>, EvalError> {
    if v.len() > MAX_BINDINGS {
        return fail(format!(
            "the pattern needs more than {MAX_BINDINGS} bindings over these observations"
        ));
    }
    Ok(v)
}

/// Whether one interval of length `within` can touch every interval.
pub fn intervals_within(intervals: &[(DateTime<Utc>, DateTime<Utc>)], within: TimeDelta) -> bool {
    let Some(earliest_last) = intervals.iter().map(|i| i.1).min() else {
        return true;
    };
    let end = earliest_last + within;
    intervals
        .iter()
        .all(|&(first, last)| first <= end && earliest_last <= last)
}

fn bindings(obs: &[Observation<'_>], p: &Pattern) -> Result<Vec<Binding>, EvalError> {
    Ok(match p {
        Pattern::Observation(c) => comparison(obs, c)?.into_keys().map(|o| vec![o]).collect(),
        Pattern::Or(a, b) => {
            let mut l = bindings(obs, a)?;
            l.extend(bindings(obs, b)?);
            bounded(l)?
        }
        Pattern::And(a, b) => {
            let (l, r) = (bindings(obs, a)?, bindings(obs, b)?);
            let mut out = Vec::new();
            for x in &l {
                for y in &r {
                    if disjoint(x, y) {
                        out.push([x.as_slice(), y].concat());
                        if out.len() > MAX_BINDINGS {
                            return bounded(out);
                        }
                    }
                }
            }
            out
        }
        Pattern::FollowedBy(a, b) => {
            let (l, r) = (bindings(obs, a)?, bindings(obs, b)?);
            let mut out = Vec::new();
            for x in &l {
                let latest_first = x.iter().map(|&o| obs[o].first).max();
                for y in &r {
                    let earliest_last = y.iter().map(|&o| obs[o].last).min();
                    if disjoint(x, y) && latest_first <= earliest_last {
                        out.push([x.as_slice(), y].concat());
                        if out.len() > MAX_BINDINGS {
                            return bounded(out);
                        }
                    }
                }
            }
            out
        }
        Pattern::Within(inner, secs) => {
            let within = TimeDelta::nanoseconds((secs * 1e9).round() as i64);
            bindings(obs, inner)?
                .into_iter()
                .filter(|b| {
                    let iv: Vec<_> = b.iter().map(|&o| (obs[o].first, obs[o].last)).collect();
                    intervals_within(&iv, within)
                })
                .collect()
        }
        Pattern::StartStop(inner, start, stop) => {
            if start >= stop {
                return Ok(Vec::new());
            }
            // Overlapping [start, stop), touching the start allowed.
            bindings(obs, inner)?
                .into_iter()
                .filter(|b| {
                    b.iter().all(|&o| {
                        let (f, l) = (obs[o].first, obs[o].last);
                        let touch_stop = *stop == f;
                        f <= *stop && *start <= l && !touch_stop
                    })
                })
                .collect()
        }
        Pattern::Repeats(inner, n) => {
            let base = bindings(obs, inner)?;
            let n = *n as usize;
            if n == 1 {
                return Ok(base);
            }
            let mut out = Vec::new();
            let mut stack: Vec<(usize, Binding, usize)> = vec![(0, Vec::new(), 0)];
            while let Some((start, acc, depth)) = stack.pop() {
                if depth == n {
                    out.push(acc);
                    if out.len() > MAX_BINDINGS {
                        return bounded(out);
                    }
                    continue;
                }
                for i in (start..base.len()).rev() {
                    if disjoint(&acc, &base[i]) {
                        stack.push((i + 1, [acc.as_slice(), &base[i]].concat(), depth + 1));
                    }
                }
                if stack.len() > MAX_BINDINGS {
                    return fail(format!(
                        "REPEATS {n} is too expensive over these observations"
                    ));
                }
            }
            out
        }
    })
}

/// Whether `pattern` matches the observations.
pub fn matches(pattern: &Pattern, observations: &Observations<'_>) -> Result<bool, EvalError> {
    Ok(!bindings(&observations.items, pattern)?.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stix::pattern::parse;

    fn bundle(objs: serde_json::Value) -> Vec<Value> {
        vec![serde_json::json!({"type": "bundle", "objects": objs})]
    }

    #[test]
    fn simple_and_compound_observations() {
        let b = bundle(serde_json::json!([
            {"type": "observed-data", "id": "od1", "number_observed": 1, "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z", "object_refs": ["ip1", "d1"]},
            {"type": "ipv4-addr", "id": "ip1", "value": "198.51.100.7"},
            {"type": "domain-name", "id": "d1", "value": "evil.example", "resolves_to_refs": ["ip1"]},
            {"type": "observed-data", "id": "od2", "number_observed": 2, "first_observed": "2020-01-01T00:00:10Z", "last_observed": "2020-01-01T00:00:10Z", "object_refs": ["f1"]},
            {"type": "file", "id": "f1", "hashes": {"SHA-256": "AB"}, "name_hex": "6869"}
        ]));
        let obs = Observations::from_bundles(&b).unwrap();
        let m = |p: &str| matches(&parse(p).unwrap(), &obs).unwrap();
        assert!(m("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"));
        assert!(m(
            "[domain-name:resolves_to_refs[*].value = '198.51.100.7']"
        ));
        assert!(!m(
            "[domain-name:value = 'evil.example' AND ipv4-addr:value = '198.51.100.7']"
        ));
        assert!(m("[file:hashes.'SHA-256' = 'AB'] REPEATS 2 TIMES"));
        assert!(!m("[file:hashes.'SHA-256' = 'AB'] REPEATS 3 TIMES"));
        assert!(m("[file:name_hex = 'hi']"));
        assert!(m(
            "[domain-name:value LIKE '%.example'] FOLLOWEDBY [file:name_hex = h'6869']"
        ));
        assert!(!m(
            "[file:name_hex = h'6869'] FOLLOWEDBY [domain-name:value LIKE '%.example']"
        ));
        assert!(m(
            "([domain-name:value = 'evil.example'] AND [file:name_hex = 'hi']) WITHIN 10 SECONDS"
        ));
        assert!(!m(
            "([domain-name:value = 'evil.example'] AND [file:name_hex = 'hi']) WITHIN 9 SECONDS"
        ));
        assert!(m("[ipv4-addr:value = 1] OR [ipv4-addr:value != 1]"));
        assert_eq!(
            matches(
                &parse("[domain-name:value = t'2020-01-01T00:00:00Z']").unwrap(),
                &obs
            )
            .unwrap_err()
            .to_string(),
            "invalid timestamp in the data: \"evil.example\""
        );
    }
}
