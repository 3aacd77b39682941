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

/// One literal indexed under one of its grams, with the literal's place
/// in [`GramSet::bytes`] so that a candidate is compared without another
/// lookup.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The gram's bytes, little-endian (2-grams: the low 16 bits).
    key: u32,
    lit: u32,
    /// Where the gram starts in the literal.
    off: u32,
    /// Where the literal starts in [`GramSet::bytes`], and its length.
    start: u32,
    len: u32,
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
    /// Positions of the text whose 4-gram is read: every `stride`-th.
    /// 1 unless every literal is at least [`STRIDE_MIN_LEN`] bytes long;
    /// then every 4-gram of every literal is indexed, and reading one
    /// position in `stride` (the shortest literal's length − 3) still
    /// lands inside each occurrence (`Hashes`: literals of 32 bytes and
    /// more in values of ~170).
    stride: usize,
}

/// Literals at least this long let a field's search skip positions.
const STRIDE_MIN_LEN: usize = 8;
/// Past this many indexed grams, a field is searched at every position
/// (the table and its bitmap stay small).
const STRIDE_MAX_ENTRIES: usize = 1 << 16;

fn gram4(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn gram2(b: &[u8]) -> u32 {
    u32::from(u16::from_le_bytes([b[0], b[1]]))
}

/// The distinct `n`-grams of `lit` (n = 2 or 4, `lit` at least that
/// long), each with its first offset.
fn grams(lit: &[u8], n: usize) -> Vec<(u32, u32)> {
    let key = if n == 4 { gram4 } else { gram2 };
    let mut g: Vec<(u32, u32)> = (0..=lit.len() - n)
        .map(|o| (key(&lit[o..]), o as u32))
        .collect();
    g.sort_unstable();
    g.dedup_by_key(|x| x.0);
    g
}

impl GramSet {
    /// Indexes the literals (none empty; id = position in the slice). The
    /// search compares bytes exactly: lowercase both sides to ignore ASCII
    /// case.
    pub fn new(lits: &[impl AsRef<[u8]>]) -> GramSet {
        let mut out = GramSet {
            stride: 1,
            ..GramSet::default()
        };
        for lit in lits {
            let lit = lit.as_ref();
            out.spans.push((out.bytes.len() as u32, lit.len() as u32));
            out.bytes.extend_from_slice(lit);
        }
        let min_len = lits.iter().map(|l| l.as_ref().len()).min().unwrap_or(0);
        let all_grams: usize = lits
            .iter()
            .map(|l| l.as_ref().len().saturating_sub(3))
            .sum();
        if min_len >= STRIDE_MIN_LEN && all_grams <= STRIDE_MAX_ENTRIES {
            let mut four = Vec::with_capacity(all_grams);
            for (id, lit) in lits.iter().enumerate() {
                let (start, len) = out.spans[id];
                // Every offset, repeated grams too: the position read may
                // be any of them.
                for off in 0..=lit.as_ref().len() - 4 {
                    let key = gram4(&lit.as_ref()[off..]);
                    let off = off as u32;
                    four.push(Entry {
                        key,
                        lit: id as u32,
                        off,
                        start,
                        len,
                    });
                }
            }
            out.four = Table::build(four);
            out.stride = min_len - 3;
            return out;
        }
        // How many literals hold each gram: the rarest one indexes each.
        let mut share: HashMap<(usize, u32), u32> = HashMap::new();
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
            let (start, len) = out.spans[id];
            let id = id as u32;
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
                    let e = Entry {
                        key,
                        lit: id,
                        off,
                        start,
                        len,
                    };
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
    /// `hay`: once per occurrence, or more (a literal whose grams repeat,
    /// or a long one read at two positions of a stride, may be reported
    /// twice for one occurrence; callers keep the first).
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
        if !self.four.entries.is_empty() && hay.len() >= 4 {
            let last = hay.len() - 4;
            let mut i = 0;
            while i <= last {
                let key = u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], hay[i + 3]]);
                if self.four.may_hold(key) {
                    self.verify(&self.four, key, i, hay, f);
                }
                i += self.stride.max(1);
            }
        }
    }

    /// The candidates of the gram `key` read at `at`, compared with the
    /// text around it.
    #[inline(never)]
    fn verify(&self, table: &Table, key: u32, at: usize, hay: &[u8], f: &mut impl FnMut(u32)) {
        for e in table.bucket(key) {
            if e.key != key || (e.off as usize) > at {
                continue;
            }
            let from = at - e.off as usize;
            let (start, len) = (e.start as usize, e.len as usize);
            if hay.len() - from >= len && hay[from..from + len] == self.bytes[start..start + len] {
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

    /// Which literals occur at least once (the search may report one
    /// occurrence twice when it skips positions).
    fn found(set: &GramSet, n: usize, hay: &[u8]) -> Vec<bool> {
        counts(set, n, hay).into_iter().map(|c| c > 0).collect()
    }

    #[test]
    fn long_literals_are_found_reading_one_position_in_a_stride() {
        let lits = [
            "aaaaaaaaaaa",
            "0123456789abcdef",
            "md5=0123456789abcdef0123456789abcdef",
            "\u{0430}\u{0431}\u{0432}\u{0433}",
            "abababababab",
        ];
        let set = GramSet::new(&lits);
        assert_eq!(set.stride, 5, "the shortest literal is 8 bytes");
        let mut hays: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"aaaaaaa".to_vec(),
            b"aaaaaaaaaaa".to_vec(),
            "\u{0430}\u{0431}\u{0432}\u{0433}".as_bytes().to_vec(),
            b"sha1=x,md5=0123456789abcdef0123456789abcdef".to_vec(),
            b"xababababababx".to_vec(),
            b"0123456789abcdeF".to_vec(),
        ];
        // Every literal at every offset of a longer text, its ends too.
        for lit in lits {
            for pad in 0..12 {
                let mut h = vec![b'.'; pad];
                h.extend_from_slice(lit.as_bytes());
                h.extend(std::iter::repeat_n(b'-', 11 - pad));
                hays.push(h);
            }
        }
        for hay in &hays {
            let want: Vec<bool> = (0..lits.len())
                .map(|id| naive(&lits, hay).iter().any(|&(i, _)| i == id as u32))
                .collect();
            assert_eq!(found(&set, lits.len(), hay), want, "{hay:?}");
        }
        // A literal shorter than the stride's threshold: every position.
        assert_eq!(GramSet::new(&["abcdefg", "0123456789"]).stride, 1);
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
