//! The shared literal search and rule prefilter of one group of rules
//! (one logsource).
//!
//! Every case-insensitive string leaf whose literals are all non-empty
//! (`contains`, `startswith`, `endswith` and equality alike) gets a
//! position in the group ([`FieldTest::leaf`]) and gives its literals to
//! one search per field: `contains` literals to one n-gram index
//! (`crate::grams`) that finds every occurrence of each in the value, `startswith`
//! literals to a trie walked from the value's start, `endswith` and
//! equality literals to a trie walked back from its end. Those marks are
//! exact, so a rule tree reads
//! them instead of searching the value again ([`Node::eval_marked`]); a
//! leaf with regexes as well still runs its regexes when unmarked.
//!
//! A leaf's regexes, when every one of them needs one of a few literals
//! (`crate::hint`), add those literals as `contains` literals of a second
//! position, the leaf's hint: marked, the regexes may match and are run;
//! unmarked, they cannot, and a rule whose only positive conditions are
//! such regexes is anchored on the hint rather than evaluated on every
//! event.
//!
//! Each rule with an anchor ([`Node::anchor`]: leaves one of which must
//! hold) is evaluated only when one of them is marked; rules without one
//! are evaluated always.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use riposte_model::Event;

use crate::grams::GramSet;
use crate::matcher::{Kind, NO_LEAF, Node, Present, any_text, bit, keyword_texts, value};

#[derive(Clone, Debug)]
struct FieldSearch {
    /// The field's names, or `None` for keyword leaves: every text of the
    /// event (`crate::matcher::keyword_texts`).
    names: Option<Box<[Box<str>]>>,
    /// The names' ids in the field index ([`Present`]).
    ids: Box<[u32]>,
    /// Every occurrence of the lowercased `contains` literals in the
    /// lowercased text (`crate::grams`); empty when the field has none.
    grams: GramSet,
    /// Keyword leaves only: a leftmost-first automaton of a window of
    /// every literal (any kind; [`gate_window`]), which aho-corasick can
    /// give a SIMD (Teddy) prefilter to (not to overlapping or
    /// case-insensitive ones), to skip the texts that hold none of them.
    gate: Option<AhoCorasick>,
    /// Literal id of `grams` → the `contains` leaves it makes hold.
    contains: Vec<Vec<u32>>,
    /// `startswith` literals, walked from the value's first byte.
    prefix: Trie,
    /// `endswith` and equality literals reversed, walked from the value's
    /// last byte: short, common suffixes such as `.exe` or `\` no longer
    /// match again and again inside the value as they did in the
    /// overlapping pass.
    suffix: Trie,
}

/// Literals that must sit at one end of the value, as a byte trie of
/// their lowercased bytes: a walk from that end costs at most the
/// longest literal's length and stops at the first byte no literal has.
#[derive(Clone, Debug, Default)]
struct Trie {
    nodes: Vec<TrieNode>,
}

#[derive(Clone, Debug, Default)]
struct TrieNode {
    /// (byte, child), sorted by byte.
    edges: Vec<(u8, u32)>,
    /// Leaves that hold when the walk gets here.
    hold: Vec<u32>,
    /// Leaves that hold when the walk gets here after reading the whole
    /// value (equality).
    whole: Vec<u32>,
}

impl Trie {
    fn insert(&mut self, lit: impl Iterator<Item = u8>, leaf: u32, whole: bool) {
        if self.nodes.is_empty() {
            self.nodes.push(TrieNode::default());
        }
        let mut at = 0usize;
        for b in lit {
            let edges = &self.nodes[at].edges;
            at = match edges.binary_search_by_key(&b, |&(e, _)| e) {
                Ok(i) => edges[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes[at].edges.insert(i, (b, next as u32));
                    self.nodes.push(TrieNode::default());
                    next
                }
            };
        }
        let list = if whole {
            &mut self.nodes[at].whole
        } else {
            &mut self.nodes[at].hold
        };
        if !list.contains(&leaf) {
            list.push(leaf);
        }
    }

    /// Marks the leaves of the literals `bytes` (lowercased, read from one
    /// end of a value `len` bytes long) begins with.
    fn walk(&self, bytes: impl Iterator<Item = u8>, len: usize, leaves: &mut [u64]) {
        if self.nodes.is_empty() {
            return;
        }
        let mut at = 0usize;
        for (read, b) in bytes.enumerate() {
            let edges = &self.nodes[at].edges;
            at = match edges.binary_search_by_key(&b, |&(e, _)| e) {
                Ok(i) => edges[i].1 as usize,
                Err(_) => return,
            };
            let node = &self.nodes[at];
            set_all(leaves, &node.hold);
            if read + 1 == len {
                set_all(leaves, &node.whole);
            }
        }
    }
}

/// What [`Prefilter::mark`] fills, and its scratch space, reused between
/// events.
#[derive(Clone, Debug, Default)]
pub(crate) struct MarkBuffers {
    /// The leaves that hold (a bitset).
    pub leaves: Vec<u64>,
    /// The rules (positions in the group) that may match (a bitset).
    pub rules: Vec<u64>,
    seen: Vec<u64>,
    lower: Vec<u8>,
    joined: Vec<u8>,
}

/// The search and prefilter of one group of rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefilter {
    fields: Vec<FieldSearch>,
    /// Leaf → positions (in the group) of the rules it anchors.
    leaf_rules: Vec<Vec<u32>>,
    /// Positions of the rules without an anchor: always evaluated.
    always: Vec<u32>,
    len: usize,
}

fn set(marks: &mut [u64], i: u32) {
    marks[i as usize / 64] |= 1 << (i % 64);
}

fn set_all(marks: &mut [u64], list: &[u32]) {
    for &l in list {
        set(marks, l);
    }
}

impl Prefilter {
    /// Numbers the shared leaves of the group's rule trees (in place) and
    /// builds the search.
    pub fn build<'a>(
        nodes: impl Iterator<Item = &'a mut Node>,
        field_id: &mut dyn FnMut(&str) -> u32,
    ) -> Prefilter {
        /// One field's literals on their way to a [`FieldSearch`].
        #[derive(Default)]
        struct Pending {
            names: Option<Box<[Box<str>]>>,
            /// Lowercased `contains` literal → its pattern id.
            ids: HashMap<String, usize>,
            contains: Vec<Vec<u32>>,
            /// Every literal, lowercased, for the keyword gate.
            all: Vec<String>,
            prefix: Trie,
            suffix: Trie,
        }
        impl Pending {
            /// Adds `contains` literals (lowercased) that make `leaf` hold.
            fn add_contains(&mut self, lits: &[impl AsRef<str>], leaf: u32) {
                for lit in lits {
                    let next = self.ids.len();
                    let id = *self.ids.entry(lit.as_ref().to_owned()).or_insert(next);
                    if id == self.contains.len() {
                        self.contains.push(Vec::new());
                    }
                    if self.contains[id].last() != Some(&leaf) {
                        self.contains[id].push(leaf);
                    }
                }
            }
        }
        let mut nodes: Vec<&mut Node> = nodes.collect();
        let mut pending: Vec<Pending> = Vec::new();
        let mut next_leaf = 0u32;
        // Leaf → index in `pending`, to undo leaves of an automaton that
        // cannot be built.
        let mut field_of_leaf: Vec<usize> = Vec::new();
        for node in nodes.iter_mut() {
            node.for_each_leaf_mut(&mut |names, test, m, slot, hint_slot| {
                *slot = NO_LEAF;
                if names.is_some() && !matches!(test, crate::matcher::Test::Str(_)) {
                    return;
                }
                let mut field = |pending: &mut Vec<Pending>| {
                    let i = match pending.iter().position(|p| p.names.as_deref() == names) {
                        Some(i) => i,
                        None => {
                            pending.push(Pending {
                                names: names.map(Box::from),
                                ..Pending::default()
                            });
                            pending.len() - 1
                        }
                    };
                    field_of_leaf.push(i);
                    let leaf = next_leaf;
                    next_leaf += 1;
                    (i, leaf)
                };
                // A field's regex hints: `contains` literals of a leaf of
                // their own, which may hold without the regexes matching.
                if let Some(hint_slot) = hint_slot {
                    *hint_slot = NO_LEAF;
                    if let Some(hints) = m.regex_hints() {
                        let (i, leaf) = field(&mut pending);
                        *hint_slot = leaf;
                        pending[i].add_contains(hints, leaf);
                    }
                }
                let Some(lits) = m.shared_literals() else {
                    return;
                };
                let (i, leaf) = field(&mut pending);
                *slot = leaf;
                let p = &mut pending[i];
                for (kind, lit) in lits {
                    let lit = lit.to_ascii_lowercase();
                    match kind {
                        Kind::Contains => p.add_contains(std::slice::from_ref(&lit), leaf),
                        Kind::Prefix => p.prefix.insert(lit.bytes(), leaf, false),
                        Kind::Suffix => p.suffix.insert(lit.bytes().rev(), leaf, false),
                        Kind::Exact => p.suffix.insert(lit.bytes().rev(), leaf, true),
                    }
                    p.all.push(lit);
                }
            });
        }
        for node in nodes.iter_mut() {
            node.for_each_field_mut(&mut |t| {
                t.ids = t.names.iter().map(|n| field_id(n)).collect();
            });
        }
        let mut out = Prefilter {
            len: nodes.len(),
            ..Prefilter::default()
        };
        let mut failed = vec![false; pending.len()];
        for (i, p) in pending.into_iter().enumerate() {
            let mut lits = vec![String::new(); p.ids.len()];
            for (lit, id) in p.ids {
                lits[id] = lit;
            }
            let grams = GramSet::new(&lits);
            // The gate reads all texts at once, joined by NUL bytes: only
            // literals without one can use it.
            let gate = if p.names.is_none() && !p.all.iter().any(|l| l.contains('\0')) {
                let mut windows: Vec<&[u8]> =
                    p.all.iter().map(|l| gate_window(l.as_bytes())).collect();
                windows.sort_unstable();
                windows.dedup();
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(windows)
                    .map(Some)
            } else {
                Ok(None)
            };
            match gate {
                Ok(gate) => out.fields.push(FieldSearch {
                    ids: p.names.iter().flatten().map(|n| field_id(n)).collect(),
                    names: p.names,
                    grams,
                    gate,
                    contains: p.contains,
                    prefix: p.prefix,
                    suffix: p.suffix,
                }),
                // Too large a gate: those leaves are evaluated alone.
                Err(_) => failed[i] = true,
            }
        }
        if failed.iter().any(|&f| f) {
            for node in nodes.iter_mut() {
                node.for_each_leaf_mut(&mut |_, _, _, slot, hint_slot| {
                    for slot in std::iter::once(slot).chain(hint_slot) {
                        if *slot != NO_LEAF && failed[field_of_leaf[*slot as usize]] {
                            *slot = NO_LEAF;
                        }
                    }
                });
            }
        }
        for node in nodes.iter_mut() {
            node.order_by_cost();
        }

        out.leaf_rules = vec![Vec::new(); next_leaf as usize];
        for (pos, node) in nodes.iter().enumerate() {
            let pos = pos as u32;
            match node.anchor() {
                None => out.always.push(pos),
                Some(leaves) => {
                    for (leaf, _) in leaves {
                        let rules = &mut out.leaf_rules[leaf as usize];
                        if rules.last() != Some(&pos) {
                            rules.push(pos);
                        }
                    }
                }
            }
        }
        out
    }

    /// Sets in `bufs.leaves` the shared leaves that hold for the event and
    /// in `bufs.rules` the rules that may match (both bitsets, resized
    /// here); the event's field values are read from `present`.
    pub fn mark<'e>(&self, ev: &'e Event, present: &Present<'e>, bufs: &mut MarkBuffers) {
        let MarkBuffers {
            leaves,
            rules,
            seen,
            lower,
            joined,
        } = bufs;
        leaves.clear();
        leaves.resize(self.leaf_rules.len().div_ceil(64), 0);
        for f in &self.fields {
            let mut each = |s: &str| {
                lower.clear();
                lower.extend_from_slice(s.as_bytes());
                lower.make_ascii_lowercase();
                // Most texts of an event hold no keyword: the quick
                // leftmost-first gate before the full pass.
                if f.gate.as_ref().is_none_or(|g| g.is_match(&lower[..])) {
                    f.search(lower, leaves, seen);
                }
                false
            };
            match &f.names {
                Some(names) => {
                    if let Some(v) = value(ev, names, &f.ids, present) {
                        any_text(v, &mut each);
                    }
                }
                // One gate call over every text of the event, lowercased
                // and joined by NUL bytes (which no literal holds, so no
                // literal can match across two texts), rather than one
                // call per text: the event holds no keyword at all, most
                // of the time, and the gate's SIMD search pays off on
                // long haystacks only.
                None => {
                    if let Some(gate) = &f.gate {
                        joined.clear();
                        keyword_texts(ev, &mut |s| {
                            joined.extend_from_slice(s.as_bytes());
                            joined.push(0);
                            false
                        });
                        joined.make_ascii_lowercase();
                        if !gate.is_match(&joined[..]) {
                            continue;
                        }
                    }
                    keyword_texts(ev, &mut each);
                }
            }
        }
        rules.clear();
        rules.resize(self.len.div_ceil(64), 0);
        for &r in &self.always {
            set(rules, r);
        }
        for leaf in set_bits(leaves) {
            for &r in &self.leaf_rules[leaf] {
                set(rules, r);
            }
        }
    }
}

impl FieldSearch {
    /// Marks the leaves one text (lowercased) makes hold (hint leaves:
    /// may hold).
    fn search(&self, s: &[u8], leaves: &mut [u64], seen: &mut Vec<u64>) {
        self.prefix.walk(s.iter().copied(), s.len(), leaves);
        self.suffix.walk(s.iter().rev().copied(), s.len(), leaves);
        if self.grams.is_empty() {
            return;
        }
        // A literal's leaves are set on its first occurrence only.
        seen.clear();
        seen.resize(self.contains.len().div_ceil(64), 0);
        self.grams.for_each_match(s, &mut |id| {
            if !bit(seen, id) {
                set(seen, id);
                set_all(leaves, &self.contains[id as usize]);
            }
        });
    }
}

/// The part of a keyword literal (lowercased) the gate looks for: the
/// 4-byte window least made of bytes common in event text (letters by
/// English frequency, digits, spaces and XML punctuation count most), the
/// whole literal when shorter. Every text holding the literal holds the
/// window, so the gate stays a necessary condition; and the SIMD search
/// verifies far fewer candidates than with the literal's first bytes:
/// `event::clear` starts like the `<Event>`, `EventID` and `EventData`
/// of every event's XML, its window `::cl` does not.
fn gate_window(lit: &[u8]) -> &[u8] {
    fn common(b: u8) -> u32 {
        match b {
            b' ' | b'e' => 10,
            b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 9,
            b'h' | b'l' | b'd' | b'c' | b'u' | b'm' => 8,
            b'<' | b'>' | b'/' | b'=' | b'"' | b'\'' => 8,
            b'a'..=b'z' | b'0'..=b'9' => 6,
            b'.' | b'-' | b':' | b'_' | b'\\' => 5,
            0x80.. => 1,
            _ => 3,
        }
    }
    if lit.len() <= 4 {
        return lit;
    }
    lit.windows(4)
        .min_by_key(|w| w.iter().map(|&b| common(b)).sum::<u32>())
        .unwrap_or(lit)
}

/// Positions set in a bitset, in order.
pub(crate) fn set_bits(marks: &[u64]) -> impl Iterator<Item = usize> + '_ {
    marks.iter().enumerate().flat_map(|(w, &bits)| {
        let mut b = bits;
        std::iter::from_fn(move || {
            if b == 0 {
                return None;
            }
            let t = b.trailing_zeros() as usize;
            b &= b - 1;
            Some(w * 64 + t)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::gate_window;

    #[test]
    fn the_gate_looks_for_a_window_of_rare_bytes() {
        assert_eq!(gate_window(b"event::clear"), b"::cl");
        assert_eq!(gate_window(b"sekurlsa::"), b"sa::");
        assert_eq!(gate_window(b"kiw"), b"kiw");
    }
}
