//! A string-keyed hash table whose keys live in one byte arena: 12 bytes
//! of table slot per key plus the key's bytes, instead of a `String` per key
//! (24 bytes of header and an allocation with its own overhead). At ten
//! million domains or URLs that difference is most of the index.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Clone, Copy, Debug)]
struct Slot {
    off: u32,
    len: u16,
    value: u32,
}

/// Keys are at most `u16::MAX` bytes (indicator values stop at 4 KiB) and
/// the arena at 4 GiB per table.
#[derive(Debug, Default)]
pub(crate) struct StrTable {
    arena: Vec<u8>,
    /// Bytes in the arena no slot points at any more (removed keys); the
    /// arena is rebuilt when they are more than half of it.
    garbage: usize,
    table: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

#[derive(Debug, thiserror::Error)]
#[error("the string table is full (4 GiB of keys of one kind)")]
pub struct TableFull;

impl StrTable {
    fn key<'a>(arena: &'a [u8], slot: &Slot) -> &'a [u8] {
        let start = slot.off as usize;
        &arena[start..start + usize::from(slot.len)]
    }

    pub(crate) fn get(&self, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(key.as_bytes());
        self.table
            .find(hash, |s| Self::key(&self.arena, s) == key.as_bytes())
            .map(|s| s.value)
    }

    /// Sets the value of `key`, returning the previous one.
    pub(crate) fn insert(&mut self, key: &str, value: u32) -> Result<Option<u32>, TableFull> {
        let hash = self.hasher.hash_one(key.as_bytes());
        let arena = &self.arena;
        if let Some(slot) = self
            .table
            .find_mut(hash, |s| Self::key(arena, s) == key.as_bytes())
        {
            return Ok(Some(std::mem::replace(&mut slot.value, value)));
        }
        let len = u16::try_from(key.len()).map_err(|_| TableFull)?;
        let off = u32::try_from(self.arena.len())
            .ok()
            .filter(|off| off.checked_add(u32::from(len)).is_some())
            .ok_or(TableFull)?;
        self.arena.extend_from_slice(key.as_bytes());
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table
            .insert_unique(hash, Slot { off, len, value }, |s| {
                hasher.hash_one(Self::key(arena, s))
            });
        Ok(None)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(key.as_bytes());
        let arena = &self.arena;
        let entry = self
            .table
            .find_entry(hash, |s| Self::key(arena, s) == key.as_bytes())
            .ok()?;
        let (slot, _) = entry.remove();
        self.garbage += usize::from(slot.len);
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
        Some(slot.value)
    }

    /// Copies the live keys into a fresh arena.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for slot in self.table.iter_mut() {
            let start = slot.off as usize;
            let key = &self.arena[start..start + usize::from(slot.len)];
            // The new arena is smaller than the old one, which fit in u32.
            slot.off = arena.len() as u32;
            arena.extend_from_slice(key);
        }
        self.arena = arena;
        self.garbage = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every key with its value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.table.iter().map(|s| {
            let key = Self::key(&self.arena, s);
            // Keys went in as &str and are copied whole.
            (std::str::from_utf8(key).unwrap_or_default(), s.value)
        })
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_and_compaction_keep_every_live_key() {
        let mut t = StrTable::default();
        for i in 0..10_000u32 {
            assert_eq!(t.insert(&format!("key-{i}.example"), i).unwrap(), None);
        }
        assert_eq!(t.insert("key-7.example", 70).unwrap(), Some(7));
        for i in (0..10_000u32).filter(|i| i % 4 != 0) {
            assert!(t.remove(&format!("key-{i}.example")).is_some());
        }
        assert_eq!(t.remove("key-1.example"), None);
        assert_eq!(t.len(), 2_500);
        for i in 0..10_000u32 {
            let want = (i % 4 == 0).then_some(i);
            assert_eq!(t.get(&format!("key-{i}.example")), want, "{i}");
        }
        let live: usize = (0..10_000)
            .filter(|i| i % 4 == 0)
            .map(|i| format!("key-{i}.example").len())
            .sum();
        assert_eq!(t.arena.len() - t.garbage, live);
        // Compaction keeps the dead bytes at most as many as the live ones.
        assert!(t.arena.len() <= 2 * live, "{} > 2 × {live}", t.arena.len());
        assert_eq!(t.iter().count(), 2_500);
    }
}
