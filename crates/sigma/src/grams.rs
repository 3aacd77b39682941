//! Every occurrence of many `contains` literals in a short text, found
//! through one n-gram of each literal: the shared search of one field
//! (`crate::prefilter`).
//!
//! An overlapping Aho-Corasick pass steps its automaton on every byte of
//! the value, and the automaton of a field such as process_creation's
//! CommandLine (~11,000 literals) is far larger than the CPU caches, so
//! each byte costs a few nanoseconds of state loads. Here each literal is
//! indexed by one of its n-grams instead: a 4-gram for literals of four
//! bytes or more, a 2-gram for those of two or three, the byte itself for
//! one-byte literals; the gram chosen is the one fewest other literals of
//! the field share, so that a hit verifies few candidates. A search reads
//! each position's grams, tests one bit of a small bitmap per gram (a few
//! KB for most fields, 32 KB at most, so it stays in cache), and only on a
//! set bit looks the gram up and compares the candidate literals with the
//! text around it. Every occurrence of every literal is reported, as the
//! overlapping pass did.

use std::collections::HashMap;

/// One literal indexed under one of its grams.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The gram's bytes, little-endian (2-grams: the low 16 bits).
    key: u32,
    lit: u32,
    /// Where the gram starts in the literal.
    off: u32,
}

/// Grams of one length: a bitmap of their hashes, and the entries in a
/// hash table (sorted by bucket; `buckets[b]..buckets[b + 1]` is bucket
/// `b`).
#[derive(Clone, Debug, Default)]
struct Table {
    bits: Vec<u64>,
    /// 32 − log2 of the bitmap's size in bits.
    shift: u32,
    /// 32 − log2 of the number of buckets.
    bucket_shift: u32,
    buckets: Vec<u32>,
    entries: Vec<Entry>,
}

const HASH: u32 = 0x9E37_79B1;

impl Table {
    fn build(mut entries: Vec<Entry>) -> Table {
        if entries.is_empty() {
            return Table::default();
        }
        let mut keys = entries.iter().map(|e| e.key).collect::<Vec<_>>();
        keys.sort_unstable();
        keys.dedup();
        // About 32 bits per distinct key (at most 2^18 bits, 32 KB): a
        // value's gram that no literal has finds its bit clear ~97% of
        // the time. About one bucket per key.
        let bits_log2 = (keys.len() * 32)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(9, 18);
        let buckets_log2 = keys
            .len()
            .next_power_of_two()
            .trailing_zeros()
            .min(bits_log2);
        let (shift, bucket_shift) = (32 - bits_log2, 32 - buckets_log2);
        let mut bits = vec![0u64; (1usize << bits_log2) / 64];
        for k in keys {
            let h = (k.wrapping_mul(HASH) >> shift) as usize;
            bits[h / 64] |= 1 << (h % 64);
        }
        let bucket = |k: u32| (u64::from(k.wrapping_mul(HASH)) >> bucket_shift) as usize;
        entries.sort_by_key(|e| (bucket(e.key), e.key, e.lit));
        let mut buckets = vec![0u32; (1usize << buckets_log2) + 1];
        for e in &entries {
            buckets[bucket(e.key) + 1] += 1;
        }
        for b in 1..buckets.len() {
            buckets[b] += buckets[b - 1];
        }
        Table {
            bits,
            shift,
            bucket_shift,
            buckets,
            entries,
        }
    }

    #[inline]
    fn may_hold(&self, key: u32) -> bool {
        let h = (key.wrapping_mul(HASH) >> self.shift) as usize;
        self.bits[h / 64] & (1 << (h % 64)) != 0
    }

    /// The entries of `key`'s bucket (other keys' too: compare).
    fn bucket(&self, key: u32) -> &[Entry] {
        let b = (u64::from(key.wrapping_mul(HASH)) >> self.bucket_shift) as usize;
        &self.entries[self.buckets[b] as usize..self.buckets[b + 1] as usize]
    }
}

/// The literals of one field, searched together.
#[derive(Clone, Debug, Default)]
pub(crate) struct GramSet {
    /// Every literal's bytes, one after the other.
    bytes: Vec<u8>,
    /// Literal id → (start in `bytes`, length).
    spans: Vec<(u32, u32)>,
    /// One-byte literals: a bitmap of their bytes, and (byte, id) sorted.
    one_bits: [u64; 4],
    ones: Vec<(u8, u32)>,
    two: Table,
    four: Table,
}

fn gram4(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn gram2(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}

impl GramSet {
    /// Indexes the literals (none empty; id = position in the slice). The
    /// search compares bytes exactly: lowercase both sides to ignore ASCII
    /// case.
    pub fn new(lits: &[impl AsRef<[u8]>]) -> GramSet {
        let mut out = GramSet::default();
        // How many literals hold each gram: the rarest one indexes each.
        let mut share: HashMap<(usize, u32), u32> = HashMap::new();
        let grams = |lit: &[u8], n: usize| -> Vec<(u32, u32)> {
            let key = if n == 4 { gram4 } else { gram2 };
            let mut g: Vec<(u32, u32)> = (0..=lit.len() - n)
                .map(|o| (key(&lit[o..]), o as u32))
                .collect();
            g.sort_unstable();
            g.dedup_by_key(|x| x.0);
            g
        };
        let size = |len: usize| match len {
            0 | 1 => 0,
            2 | 3 => 2,
            _ => 4,
        };
        for lit in lits {
            let lit = lit.as_ref();
            let n = size(lit.len());
            if n > 0 {
                for (k, _) in grams(lit, n) {
                    *share.entry((n, k)).or_default() += 1;
                }
            }
        }
        let (mut two, mut four) = (Vec::new(), Vec::new());
        for (id, lit) in lits.iter().enumerate() {
            let lit = lit.as_ref();
            let id = id as u32;
            out.spans.push((out.bytes.len() as u32, lit.len() as u32));
            out.bytes.extend_from_slice(lit);
            match size(lit.len()) {
                0 => {
                    if let Some(&b) = lit.first() {
                        out.one_bits[usize::from(b) / 64] |= 1 << (b % 64);
                        out.ones.push((b, id));
                    }
                }
                n => {
                    let Some((key, off)) = grams(lit, n)
                        .into_iter()
                        .min_by_key(|&(k, o)| (share[&(n, k)], o))
                    else {
                        continue;
                    };
                    let e = Entry { key, lit: id, off };
                    if n == 4 { four.push(e) } else { two.push(e) }
                }
            }
        }
        out.ones.sort_unstable();
        out.two = Table::build(two);
        out.four = Table::build(four);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Calls `f` with the id of every occurrence of every literal in
    /// `hay` (a literal found twice is reported twice).
    pub fn for_each_match(&self, hay: &[u8], f: &mut impl FnMut(u32)) {
        if !self.ones.is_empty() {
            for &b in hay {
                if self.one_bits[usize::from(b) / 64] & (1 << (b % 64)) != 0 {
                    let start = self.ones.partition_point(|&(x, _)| x < b);
                    for &(_, id) in self.ones[start..].iter().take_while(|&&(x, _)| x == b) {
                        f(id);
                    }
                }
            }
        }
        if !self.two.entries.is_empty() {
            for (i, w) in hay.windows(2).enumerate() {
                let key = gram2(w);
                if self.two.may_hold(key) {
                    self.verify(&self.two, key, i, hay, f);
                }
            }
        }
        if !self.four.entries.is_empty() {
            for (i, w) in hay.windows(4).enumerate() {
                let key = gram4(w);
                if self.four.may_hold(key) {
                    self.verify(&self.four, key, i, hay, f);
                }
            }
        }
    }

    /// The candidates of the gram `key` read at `at`, compared with the
    /// text around it.
    #[inline(never)]
    fn verify(&self, table: &Table, key: u32, at: usize, hay: &[u8], f: &mut impl FnMut(u32)) {
        for e in table.bucket(key) {
            if e.key != key {
                continue;
            }
            let (start, len) = self.spans[e.lit as usize];
            let lit = &self.bytes[start as usize..(start + len) as usize];
            let Some(from) = at.checked_sub(e.off as usize) else {
                continue;
            };
            if hay.get(from..from + lit.len()) == Some(lit) {
                f(e.lit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence, the slow way.
    fn naive(lits: &[&str], hay: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        for (id, lit) in lits.iter().enumerate() {
            let lit = lit.as_bytes();
            for at in 0..hay.len() {
                if hay[at..].starts_with(lit) {
                    out.push((id as u32, at));
                }
            }
        }
        out.sort();
        out
    }

    fn counts(set: &GramSet, n: usize, hay: &[u8]) -> Vec<usize> {
        let mut c = vec![0; n];
        set.for_each_match(hay, &mut |id| c[id as usize] += 1);
        c
    }

    #[test]
    fn every_occurrence_of_every_length_is_reported() {
        let lits = [
            "a",
            "\\",
            "ab",
            "-e",
            " /c",
            "exe",
            ".exe",
            "cmd.exe",
            "powershell -enc",
            "ell -",
            "aaaa",
            "aaa",
            "\u{0430}",
            "x\u{202e}y",
        ];
        let set = GramSet::new(&lits);
        let hays: [&[u8]; 7] = [
            b"",
            b"a",
            b"c:\\windows\\cmd.exe /c powershell -enc aaaaa",
            b"aaaaaaa",
            "\u{0430}x\u{202e}y -e".as_bytes(),
            b".ex",
            b"xxcmd.exexxcmd.exe",
        ];
        for hay in hays {
            let want = naive(&lits, hay);
            let mut want_counts = vec![0; lits.len()];
            for (id, _) in want {
                want_counts[id as usize] += 1;
            }
            assert_eq!(counts(&set, lits.len(), hay), want_counts, "{hay:?}");
        }
    }

    #[test]
    fn many_literals_sharing_grams_agree_with_the_slow_search() {
        // Literals built from a small alphabet share most grams, so
        // buckets hold many candidates.
        let alphabet = b"ab.\\ ";
        let mut lits = Vec::new();
        let mut x = 12345u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as usize
        };
        for _ in 0..300 {
            let len = 1 + next() % 7;
            let lit: String = (0..len)
                .map(|_| alphabet[next() % alphabet.len()] as char)
                .collect();
            if !lits.contains(&lit) {
                lits.push(lit);
            }
        }
        let refs: Vec<&str> = lits.iter().map(String::as_str).collect();
        let set = GramSet::new(&refs);
        for _ in 0..50 {
            let len = next() % 40;
            let hay: Vec<u8> = (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect();
            let mut want = vec![0; refs.len()];
            for (id, _) in naive(&refs, &hay) {
                want[id as usize] += 1;
            }
            assert_eq!(counts(&set, refs.len(), &hay), want, "{hay:?}");
        }
    }
}
