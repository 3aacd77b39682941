//! [`Fields`]: an event's fields, a map from dotted ECS name to value kept
//! as one sorted vector.
//!
//! Events carry 5–40 fields, are built once by a decoder and then only read.
//! At that size a sorted `Vec` beats a `BTreeMap`: one allocation instead of
//! a node per ~11 entries, lookups by binary search over contiguous keys,
//! inserts that mostly shift a few hundred bytes, and a drop that walks one
//! slice (BENCHMARKS.md, "Fields as a sorted vector"). Iteration is in key
//! order exactly as the `BTreeMap` it replaces, so serialized JSON, stored
//! rows and the observable merge in `riposte-ingest` are unchanged.

use std::cmp::Ordering;
use std::fmt;
use std::mem;

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::FieldValue;

/// ECS fields by dotted name, sorted by name (byte order), names unique.
///
/// Keys are [`CompactString`]s: every ECS name up to 24 bytes
/// (`source.ip`, `alert.signature_id`) is stored inline, so a field costs
/// no key allocation. The API follows `BTreeMap`'s (`get("source.ip")`,
/// `insert(name.into(), value)` returning the old value, `remove`, `iter`
/// in key order), which is what it replaced.
#[derive(Clone, Default, PartialEq)]
pub struct Fields {
    /// Strictly increasing by key: the invariant every method keeps.
    entries: Vec<(CompactString, FieldValue)>,
}

/// Iterator over `(&name, &value)` in name order.
pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (CompactString, FieldValue)>,
    fn(&'a (CompactString, FieldValue)) -> (&'a CompactString, &'a FieldValue),
>;

/// Iterator over `(&name, &mut value)` in name order.
pub type IterMut<'a> = std::iter::Map<
    std::slice::IterMut<'a, (CompactString, FieldValue)>,
    fn(&'a mut (CompactString, FieldValue)) -> (&'a CompactString, &'a mut FieldValue),
>;

/// Owning iterator over `(name, value)` in name order.
pub type IntoIter = std::vec::IntoIter<(CompactString, FieldValue)>;

impl Fields {
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Room for `n` fields before the vector grows; decoders that know
    /// their field count avoid the 4 → 8 → 16 → 32 regrowth.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    #[inline]
    fn search(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| cmp_names(k.as_str(), key))
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.search(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut FieldValue> {
        self.search(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&CompactString, &FieldValue)> {
        self.search(key).ok().map(|i| {
            let (k, v) = &self.entries[i];
            (k, v)
        })
    }

    #[inline]
    pub fn contains_key(&self, key: &str) -> bool {
        self.search(key).is_ok()
    }

    /// Sets `key` to `value` and returns the value it replaces, like
    /// `BTreeMap::insert` (the stored key is kept on replace). A key that
    /// sorts after every present one is appended without a search, so
    /// decoders that set fields in name order pay one comparison per field.
    pub fn insert(&mut self, key: CompactString, value: FieldValue) -> Option<FieldValue> {
        let Some((last, slot)) = self.entries.last_mut() else {
            self.entries.push((key, value));
            return None;
        };
        match cmp_names(last.as_str(), key.as_str()) {
            Ordering::Less => {
                self.entries.push((key, value));
                None
            }
            Ordering::Equal => Some(mem::replace(slot, value)),
            Ordering::Greater => match self.search(&key) {
                Ok(i) => Some(mem::replace(&mut self.entries[i].1, value)),
                Err(i) => {
                    self.entries.insert(i, (key, value));
                    None
                }
            },
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    pub fn remove_entry(&mut self, key: &str) -> Option<(CompactString, FieldValue)> {
        self.search(key).ok().map(|i| self.entries.remove(i))
    }

    /// Keeps the fields for which `keep` returns true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&CompactString, &mut FieldValue) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The slot for `key`, to read, fill or update it with one search.
    pub fn entry(&mut self, key: CompactString) -> Entry<'_> {
        match self.search(&key) {
            Ok(index) => Entry::Occupied(OccupiedEntry {
                fields: self,
                index,
            }),
            Err(index) => Entry::Vacant(VacantEntry {
                fields: self,
                index,
                key,
            }),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        fn pair(e: &(CompactString, FieldValue)) -> (&CompactString, &FieldValue) {
            (&e.0, &e.1)
        }
        self.entries.iter().map(pair as _)
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        fn pair(e: &mut (CompactString, FieldValue)) -> (&CompactString, &mut FieldValue) {
            (&e.0, &mut e.1)
        }
        self.entries.iter_mut().map(pair as _)
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &CompactString> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &FieldValue> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut FieldValue> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = CompactString> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = FieldValue> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// Builds from pairs in any order; a repeated key keeps its last value
    /// (what inserting them one by one into a `BTreeMap` gives).
    fn from_vec(mut entries: Vec<(CompactString, FieldValue)>) -> Self {
        let sorted = entries
            .windows(2)
            .all(|w| w[0].0.as_str() < w[1].0.as_str());
        if !sorted {
            // Stable, so equal keys stay in input order and the last wins.
            entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            entries.dedup_by(|later, kept| {
                if later.0 == kept.0 {
                    mem::swap(later, kept);
                    true
                } else {
                    false
                }
            });
        }
        Self { entries }
    }
}

/// Byte-order comparison of two names (what `str::cmp` gives), eight bytes
/// at a time and inline. `str::cmp` calls libc's `memcmp` for every
/// comparison, and with ~5 comparisons per insert that call was the top
/// symbol of EVE decoding (BENCHMARKS.md); ECS names are short and mostly
/// differ in their first eight bytes.
#[inline]
fn cmp_names(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while let (Some((x, a_rest)), Some((y, b_rest))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        // Big-endian, so integer order is the bytes' lexicographic order.
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
        (a, b) = (a_rest, b_rest);
    }
    // At most seven bytes left on one side.
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A slot of [`Fields::entry`].
#[derive(Debug)]
pub enum Entry<'a> {
    Occupied(OccupiedEntry<'a>),
    Vacant(VacantEntry<'a>),
}

#[derive(Debug)]
pub struct OccupiedEntry<'a> {
    fields: &'a mut Fields,
    index: usize,
}

#[derive(Debug)]
pub struct VacantEntry<'a> {
    fields: &'a mut Fields,
    index: usize,
    key: CompactString,
}

impl<'a> Entry<'a> {
    pub fn key(&self) -> &str {
        match self {
            Entry::Occupied(o) => &o.fields.entries[o.index].0,
            Entry::Vacant(v) => &v.key,
        }
    }

    pub fn or_insert(self, value: FieldValue) -> &'a mut FieldValue {
        self.or_insert_with(|| value)
    }

    pub fn or_insert_with(self, value: impl FnOnce() -> FieldValue) -> &'a mut FieldValue {
        match self {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(value()),
        }
    }

    pub fn and_modify(mut self, f: impl FnOnce(&mut FieldValue)) -> Self {
        if let Entry::Occupied(o) = &mut self {
            f(o.get_mut());
        }
        self
    }
}

impl<'a> OccupiedEntry<'a> {
    pub fn get(&self) -> &FieldValue {
        &self.fields.entries[self.index].1
    }

    pub fn get_mut(&mut self) -> &mut FieldValue {
        &mut self.fields.entries[self.index].1
    }

    pub fn into_mut(self) -> &'a mut FieldValue {
        &mut self.fields.entries[self.index].1
    }

    pub fn insert(&mut self, value: FieldValue) -> FieldValue {
        mem::replace(self.get_mut(), value)
    }

    pub fn remove(self) -> FieldValue {
        self.fields.entries.remove(self.index).1
    }
}

impl<'a> VacantEntry<'a> {
    pub fn insert(self, value: FieldValue) -> &'a mut FieldValue {
        self.fields.entries.insert(self.index, (self.key, value));
        &mut self.fields.entries[self.index].1
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = FieldValue;

    /// Panics when the field is absent, like `BTreeMap`'s `Index`.
    fn index(&self, key: &str) -> &FieldValue {
        self.get(key).expect("no such field")
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a CompactString, &'a FieldValue);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Fields {
    type Item = (&'a CompactString, &'a mut FieldValue);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl IntoIterator for Fields {
    type Item = (CompactString, FieldValue);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<CompactString>> FromIterator<(K, FieldValue)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, FieldValue)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<K: Into<CompactString>> Extend<(K, FieldValue)> for Fields {
    /// Later pairs replace earlier ones and present fields, as with
    /// `BTreeMap::extend`.
    fn extend<I: IntoIterator<Item = (K, FieldValue)>>(&mut self, iter: I) {
        let mut entries = mem::take(&mut self.entries);
        entries.extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
        *self = Self::from_vec(entries);
    }
}

impl<K: Into<CompactString>, const N: usize> From<[(K, FieldValue); N]> for Fields {
    fn from(pairs: [(K, FieldValue); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    /// A JSON object in any key order; a repeated key keeps its last value,
    /// as a `BTreeMap` did.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                // Bounded: a hostile length hint must not reserve gigabytes.
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some((k, v)) = map.next_entry::<CompactString, FieldValue>()? {
                    entries.push((k, v));
                }
                Ok(Fields::from_vec(entries))
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &Fields) -> Vec<&str> {
        f.keys().map(CompactString::as_str).collect()
    }

    #[test]
    fn insert_keeps_name_order_and_returns_the_replaced_value() {
        let mut f = Fields::new();
        assert_eq!(f.insert("source.port".into(), 22i64.into()), None);
        assert_eq!(f.insert("source.ip".into(), "10.0.0.1".into()), None);
        assert_eq!(f.insert("user.name".into(), "root".into()), None);
        assert_eq!(f.insert("event.kind".into(), "alert".into()), None);
        assert_eq!(f.insert("source.ipx".into(), true.into()), None);
        assert_eq!(
            names(&f),
            [
                "event.kind",
                "source.ip",
                "source.ipx",
                "source.port",
                "user.name"
            ]
        );
        // Replace in the middle, at the end and at the start.
        assert_eq!(
            f.insert("source.ip".into(), "10.0.0.2".into()),
            Some("10.0.0.1".into())
        );
        assert_eq!(
            f.insert("user.name".into(), "admin".into()),
            Some("root".into())
        );
        assert_eq!(
            f.insert("event.kind".into(), "event".into()),
            Some("alert".into())
        );
        assert_eq!(f.len(), 5);
        assert_eq!(f.get("source.ip"), Some(&"10.0.0.2".into()));
        assert_eq!(
            f.get("user.name").and_then(FieldValue::as_str),
            Some("admin")
        );
        assert_eq!(f["event.kind"], FieldValue::from("event"));
        assert_eq!(f.get("source"), None);
        assert!(f.contains_key("source.ipx"));
        assert!(!f.contains_key("zzz"));
        assert!(!f.contains_key(""));
    }

    #[test]
    fn remove_and_entry() {
        let mut f: Fields = [
            ("b", FieldValue::from(2i64)),
            ("a", 1i64.into()),
            ("c", 3i64.into()),
        ]
        .into();
        assert_eq!(f.remove("b"), Some(FieldValue::Int(2)));
        assert_eq!(f.remove("b"), None);
        assert_eq!(names(&f), ["a", "c"]);
        *f.entry("b".into()).or_insert(0i64.into()) = 7i64.into();
        f.entry("a".into()).or_insert(9i64.into());
        f.entry("c".into())
            .and_modify(|v| *v = 30i64.into())
            .or_insert(0i64.into());
        let pairs: Vec<(String, i64)> = f
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_i64().unwrap()))
            .collect();
        assert_eq!(pairs, [("a".into(), 1), ("b".into(), 7), ("c".into(), 30)]);
        f.retain(|k, _| k != "b");
        assert_eq!(names(&f), ["a", "c"]);
        let owned: Vec<(CompactString, FieldValue)> = f.into_iter().collect();
        assert_eq!(owned[1], ("c".into(), FieldValue::Int(30)));
    }

    #[test]
    fn collect_and_extend_sort_and_keep_the_last_of_a_repeated_name() {
        let f: Fields = vec![
            ("z", FieldValue::from(1i64)),
            ("a", 1i64.into()),
            ("z", 2i64.into()),
            ("m", 1i64.into()),
            ("a", 2i64.into()),
            ("z", 3i64.into()),
        ]
        .into_iter()
        .collect();
        assert_eq!(names(&f), ["a", "m", "z"]);
        assert_eq!(f.get("a"), Some(&FieldValue::Int(2)));
        assert_eq!(f.get("z"), Some(&FieldValue::Int(3)));
        let mut g = f.clone();
        g.extend([("m", FieldValue::from(5i64)), ("b", 6i64.into())]);
        assert_eq!(names(&g), ["a", "b", "m", "z"]);
        assert_eq!(g.get("m"), Some(&FieldValue::Int(5)));
        assert_ne!(f, g);
    }

    #[test]
    fn serde_round_trip_is_a_sorted_object() {
        let mut f = Fields::new();
        f.insert("source.port".into(), 22i64.into());
        f.insert("dns.answers".into(), vec!["a".into(), 1i64.into()].into());
        f.insert("source.ip".into(), "10.0.0.1".into());
        f.insert("ok".into(), false.into());
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"dns.answers":["a",1],"ok":false,"source.ip":"10.0.0.1","source.port":22}"#
        );
        let back: Fields = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert_eq!(format!("{f:?}"), format!("{:?}", back));
        assert!(format!("{f:?}").starts_with(r#"{"dns.answers": List(["#));
    }

    #[test]
    fn deserialize_accepts_unsorted_and_repeated_names_last_wins() {
        let f: Fields = serde_json::from_str(r#"{"b":1,"a":"x","b":2,"c":1.5,"a":"y"}"#).unwrap();
        assert_eq!(names(&f), ["a", "b", "c"]);
        assert_eq!(f.get("a"), Some(&"y".into()));
        assert_eq!(f.get("b"), Some(&FieldValue::Int(2)));
        assert_eq!(f.get("c"), Some(&FieldValue::Float(1.5)));
        let v = serde_json::json!({"b": 1, "a": 2});
        let g: Fields = serde_json::from_value(v).unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"a":2,"b":1}"#);
        assert!(serde_json::from_str::<Fields>("[1]").is_err());
        let empty: Fields = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn name_comparison_is_byte_order() {
        let names = [
            "",
            "a",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefgh.",
            "abcdefgha",
            "abcdefgi",
            "abcdefghabcdefgh",
            "abcdefghabcdefgh\u{0}",
            "abcdefghabcdefgi",
            "source.ip",
            "source.ipx",
            "source.port",
            "suricata.eve.alert.gid",
            "suricata.eve.alert.rev",
            "é",
            "\u{7f}",
            "\u{80}",
        ];
        for a in names {
            for b in names {
                assert_eq!(cmp_names(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn byte_order_like_btreemap() {
        let keys = ["b", "B", "a.b", "a", "a_b", "aa", "é", "", "a.b.c"];
        let mut f = Fields::new();
        let mut want = std::collections::BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            f.insert((*k).into(), (i as i64).into());
            want.insert(CompactString::from(*k), FieldValue::from(i as i64));
        }
        let got: Vec<_> = f.iter().collect();
        let want: Vec<_> = want.iter().collect();
        assert_eq!(got, want);
    }
}
