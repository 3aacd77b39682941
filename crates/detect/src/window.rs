//! Per-key windowed state shared by native `threshold`/`leaky` rules and
//! Sigma correlations: a bounded table keyed by group-by values, a sliding
//! window of hits and a leaky bucket, all in event time.
//!
//! The table is looked up by a hash of the event's borrowed values with a
//! collision check against the stored key, so an event for a key already
//! tracked allocates nothing.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use chrono::TimeDelta;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashMap, HashSet, HashTable};
use riposte_model::{Event, EventId, Timestamp};

/// One value of an event used as (part of) a key: borrowed for string
/// fields, formatted for the rest (numbers are rare as keys).
pub(crate) fn field_text<'e>(event: &'e Event, field: &str) -> Option<Cow<'e, str>> {
    if let Some(s) = event.get_str(field) {
        return Some(Cow::Borrowed(s));
    }
    event.fields.get(field).map(|v| Cow::Owned(v.to_string()))
}

const INLINE_PARTS: usize = 4;

/// The group-by values of one event, without a heap allocation for keys of
/// up to four string fields.
pub(crate) struct Key<'e> {
    inline: [Cow<'e, str>; INLINE_PARTS],
    len: usize,
    spill: Vec<Cow<'e, str>>,
}

impl<'e> Key<'e> {
    /// The values of `fields` in `event`; `None` when one is missing, since
    /// such an event cannot be attributed to a key.
    pub(crate) fn of(event: &'e Event, fields: &[impl AsRef<str>]) -> Option<Self> {
        Self::collect(fields.iter().map(|f| field_text(event, f.as_ref())))
    }

    pub(crate) fn collect(parts: impl IntoIterator<Item = Option<Cow<'e, str>>>) -> Option<Self> {
        let mut key = Key {
            inline: Default::default(),
            len: 0,
            spill: Vec::new(),
        };
        for part in parts {
            let part = part?;
            if key.len < INLINE_PARTS && key.spill.is_empty() {
                key.inline[key.len] = part;
                key.len += 1;
            } else {
                if key.spill.is_empty() {
                    key.spill.extend(key.inline.iter_mut().map(std::mem::take));
                }
                key.spill.push(part);
            }
        }
        Some(key)
    }

    pub(crate) fn parts(&self) -> &[Cow<'e, str>] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

/// What the table needs of a key's state to pick keys to evict.
pub(crate) trait Expiry {
    /// From this event time on the state no longer affects any outcome.
    fn expires_at(&self) -> Timestamp;
    fn last_seen(&self) -> Timestamp;
}

struct Slot<V> {
    hash: u64,
    key: Box<[Box<str>]>,
    value: V,
}

/// Per-key state with at most `max_keys` keys.
pub(crate) struct KeyedTable<V> {
    table: HashTable<Slot<V>>,
    hasher: DefaultHashBuilder,
    max_keys: usize,
}

impl<V> std::fmt::Debug for KeyedTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedTable")
            .field("keys", &self.table.len())
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl<V: Expiry> KeyedTable<V> {
    pub(crate) fn new(max_keys: usize) -> Self {
        Self {
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            max_keys: max_keys.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }

    fn key_hash(&self, parts: &[Cow<'_, str>]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for p in parts {
            h.write(p.as_bytes());
            h.write_u8(0xff); // not UTF-8: ("ab","c") and ("a","bc") differ
        }
        h.finish()
    }

    /// A hash of one value, for distinct counting. Seeded per table, so an
    /// attacker cannot pick two user names that count as one.
    pub(crate) fn value_hash(&self, value: &str) -> u64 {
        self.hasher.hash_one(value)
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &Key<'_>) -> bool {
        let parts = key.parts();
        let hash = self.key_hash(parts);
        self.table
            .find(hash, |s| same_key(s, hash, parts))
            .is_some()
    }

    /// The state of `key`, created by `new` when absent. A new key in a full
    /// table first evicts (see [`KeyedTable::evict`]); returns how many keys
    /// went.
    pub(crate) fn entry(
        &mut self,
        key: &Key<'_>,
        now: Timestamp,
        new: impl FnOnce() -> V,
    ) -> (&mut V, u64) {
        let parts = key.parts();
        let hash = self.key_hash(parts);
        let mut evicted = 0;
        if self.table.len() >= self.max_keys
            && self
                .table
                .find(hash, |s| same_key(s, hash, parts))
                .is_none()
        {
            evicted = self.evict(now);
        }
        let slot = match self
            .table
            .entry(hash, |s| same_key(s, hash, parts), |s| s.hash)
        {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v
                .insert(Slot {
                    hash,
                    key: parts.iter().map(|p| Box::from(p.as_ref())).collect(),
                    value: new(),
                })
                .into_mut(),
        };
        (&mut slot.value, evicted)
    }

    pub(crate) fn remove(&mut self, key: &Key<'_>) {
        let parts = key.parts();
        let hash = self.key_hash(parts);
        if let Ok(o) = self.table.find_entry(hash, |s| same_key(s, hash, parts)) {
            o.remove();
        }
    }

    /// Every key with its state, for flushing.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&[Box<str>], &mut V)> {
        self.table.iter_mut().map(|s| (&s.key[..], &mut s.value))
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&[Box<str>], &mut V) -> bool) {
        self.table.retain(|s| keep(&s.key, &mut s.value));
    }

    /// Drops keys whose state has expired at `now`; if none has, drops the
    /// least recently seen tenth at once, so that a flood of new keys (an
    /// attacker rotating addresses) costs one scan per tenth of the table,
    /// not one per key. Returns how many went.
    pub(crate) fn evict(&mut self, now: Timestamp) -> u64 {
        let before = self.table.len();
        self.table.retain(|s| s.value.expires_at() > now);
        if self.table.len() == before && before > 0 {
            let mut last_seen: Vec<Timestamp> =
                self.table.iter().map(|s| s.value.last_seen()).collect();
            let n = (before / 10).max(1);
            let (_, cutoff, _) = last_seen.select_nth_unstable(n - 1);
            let cutoff = *cutoff;
            let mut left = n;
            self.table.retain(|s| {
                let old = left > 0 && s.value.last_seen() <= cutoff;
                if old {
                    left -= 1;
                }
                !old
            });
        }
        let evicted = (before - self.table.len()) as u64;
        tracing::warn!(
            evicted,
            kept = self.table.len(),
            "per-key detection state full; evicted keys"
        );
        evicted
    }
}

fn same_key<V>(slot: &Slot<V>, hash: u64, parts: &[Cow<'_, str>]) -> bool {
    slot.hash == hash
        && slot.key.len() == parts.len()
        && slot.key.iter().zip(parts).all(|(a, b)| **a == **b)
}

/// One event counted in a window or bucket: just enough to name it as
/// evidence and to count distinct values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub ts: Timestamp,
    pub id: EventId,
    /// Hash of the `distinct` field's value; 0 when not counting distinct.
    pub value: u64,
}

/// The hits of one key within a sliding window, with a count per distinct
/// value.
#[derive(Debug, Default)]
pub(crate) struct Window {
    hits: VecDeque<Hit>,
    distinct: HashMap<u64, u32>,
}

impl Window {
    /// Drops hits at or before `horizon` (the window's far edge is
    /// exclusive).
    pub(crate) fn expire(&mut self, horizon: Timestamp) {
        while let Some(h) = self.hits.front().copied() {
            if h.ts > horizon {
                break;
            }
            self.hits.pop_front();
            if let Some(n) = self.distinct.get_mut(&h.value) {
                *n -= 1;
                if *n == 0 {
                    self.distinct.remove(&h.value);
                }
            }
        }
    }

    pub(crate) fn push(&mut self, hit: Hit, distinct: bool) {
        if distinct {
            *self.distinct.entry(hit.value).or_default() += 1;
        }
        self.hits.push_back(hit);
    }

    pub(crate) fn len(&self) -> usize {
        self.hits.len()
    }

    pub(crate) fn distinct(&self) -> usize {
        self.distinct.len()
    }

    pub(crate) fn last(&self) -> Option<&Hit> {
        self.hits.back()
    }

    /// Empties the window, returning its hits oldest first.
    pub(crate) fn take(&mut self) -> Vec<Hit> {
        self.distinct.clear();
        self.hits.drain(..).collect()
    }
}

/// A leaky bucket (CrowdSec's): each event pours one token, the bucket
/// leaks one token per `leak` of event time, and overflows when a pour
/// would take it above its capacity. The level is kept in nanoseconds of
/// leak (tokens × leak), so draining is exact integer arithmetic.
#[derive(Debug, Default)]
pub(crate) struct Leaky {
    level: i128,
    last: Option<Timestamp>,
    /// The events still in the bucket, oldest first.
    hits: VecDeque<Hit>,
    /// Distinct values poured since the bucket was last empty.
    seen: HashSet<u64>,
}

impl Leaky {
    fn drain(&mut self, now: Timestamp, leak: i128) {
        if let Some(last) = self.last {
            let elapsed = (now - last).num_nanoseconds().unwrap_or(i64::MAX).max(0);
            self.level = (self.level - i128::from(elapsed)).max(0);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        if self.level == 0 {
            self.hits.clear();
            self.seen.clear();
        }
        let tokens = usize::try_from((self.level + leak - 1) / leak).unwrap_or(usize::MAX);
        while self.hits.len() > tokens {
            self.hits.pop_front();
        }
    }

    /// Pours `hit`; returns the bucket's events when it overflows (the
    /// bucket is then empty). With `distinct`, a value already in the bucket
    /// pours nothing.
    pub(crate) fn pour(
        &mut self,
        hit: Hit,
        distinct: bool,
        capacity: u32,
        leak: TimeDelta,
    ) -> Option<Vec<Hit>> {
        let leak = i128::from(leak.num_nanoseconds().unwrap_or(i64::MAX).max(1));
        self.drain(hit.ts, leak);
        if distinct && !self.seen.insert(hit.value) {
            return None;
        }
        self.level += leak;
        self.hits.push_back(hit);
        if self.level > i128::from(capacity) * leak {
            self.level = 0;
            self.seen.clear();
            return Some(self.hits.drain(..).collect());
        }
        None
    }

    /// When the bucket will be empty.
    pub(crate) fn empty_at(&self) -> Option<Timestamp> {
        let last = self.last?;
        let ns = i64::try_from(self.level).unwrap_or(i64::MAX);
        last.checked_add_signed(TimeDelta::nanoseconds(ns))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn t(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn hit(s: i64, value: u64) -> Hit {
        Hit {
            ts: t(s),
            id: EventId::new(),
            value,
        }
    }

    #[test]
    fn window_counts_distinct_values_and_forgets_expired_ones() {
        let mut w = Window::default();
        for (s, v) in [(0, 1), (10, 2), (20, 1), (30, 3)] {
            w.push(hit(s, v), true);
        }
        assert_eq!((w.len(), w.distinct()), (4, 3));
        w.expire(t(10));
        assert_eq!(
            (w.len(), w.distinct()),
            (2, 2),
            "value 2 left with its only hit"
        );
        w.expire(t(20));
        assert_eq!((w.len(), w.distinct()), (1, 1));
    }

    #[test]
    fn leaky_bucket_overflows_past_capacity_and_drains_in_event_time() {
        let leak = TimeDelta::seconds(10);
        let mut b = Leaky::default();
        // Capacity 3: the 4th token in a burst overflows.
        for s in 0..3 {
            assert!(b.pour(hit(s, 0), false, 3, leak).is_none());
        }
        let out = b.pour(hit(3, 0), false, 3, leak).unwrap();
        assert_eq!(out.len(), 4);
        // One event every 10 s never fills it: each leaks before the next.
        for s in [100, 110, 120, 130, 140, 150] {
            assert!(b.pour(hit(s, 0), false, 3, leak).is_none(), "at {s}");
        }
        // Level is 1 token at 150 and 0.5 at 155: two more make 2.5, a
        // third would make 3.5.
        for s in [155, 155] {
            assert!(b.pour(hit(s, 0), false, 3, leak).is_none());
        }
        let out = b.pour(hit(155, 0), false, 3, leak).unwrap();
        assert_eq!(out.len(), 4, "the half-drained event is still evidence");
        assert_eq!(out[0].ts, t(150));
    }

    #[test]
    fn leaky_distinct_pours_each_value_once_while_not_empty() {
        let leak = TimeDelta::seconds(60);
        let mut b = Leaky::default();
        for v in [1, 1, 1, 2, 2] {
            assert!(b.pour(hit(0, v), true, 2, leak).is_none());
        }
        assert_eq!(b.pour(hit(1, 3), true, 2, leak).unwrap().len(), 3);
    }
}
