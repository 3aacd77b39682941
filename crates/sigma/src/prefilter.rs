//! The shared literal search and rule prefilter of one group of rules
//! (one logsource).
//!
//! Every case-insensitive string leaf whose literals are all non-empty
//! (`contains`, `startswith`, `endswith` and equality alike) gets a
//! position in the group ([`FieldTest::leaf`]) and gives its literals to
//! one Aho-Corasick automaton per field: one overlapping pass over each such
//! field of the event finds every occurrence of every literal, and the
//! occurrence's place (anywhere, at the start, at the end, the whole value)
//! decides which leaves hold. Those marks are exact, so a rule tree reads
//! them instead of searching the value again ([`Node::eval_marked`]); a
//! leaf with regexes as well still runs its regexes when unmarked.
//!
//! Each rule with an anchor ([`Node::anchor`]: leaves one of which must
//! hold) is evaluated only when one of them is marked; rules without one
//! are evaluated always.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use riposte_model::Event;

use crate::matcher::{Kind, NO_LEAF, Node, any_text, bit, keyword_texts, lookup};

/// The leaves one literal makes hold, by where it occurs.
#[derive(Clone, Debug, Default)]
struct Pattern {
    contains: Vec<u32>,
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    exact: Vec<u32>,
}

#[derive(Clone, Debug)]
struct FieldSearch {
    /// The field's names, or `None` for keyword leaves: every text of the
    /// event (`crate::matcher::keyword_texts`).
    names: Option<Box<[Box<str>]>>,
    /// Overlapping search of the lowercased literals, case-sensitive: for
    /// keyword leaves it reads texts lowercased once (`Scratch::lower`).
    ac: AhoCorasick,
    /// Keyword leaves only: a leftmost-first automaton of the same
    /// literals over the lowercased text, which aho-corasick can give a
    /// SIMD (Teddy) prefilter to (not to overlapping or case-insensitive
    /// ones), to skip the texts that hold none of them.
    gate: Option<AhoCorasick>,
    /// Pattern id → leaves.
    pats: Vec<Pattern>,
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
    pub fn build<'a>(nodes: impl Iterator<Item = &'a mut Node>) -> Prefilter {
        type Pending = (
            Option<Box<[Box<str>]>>,
            HashMap<String, usize>,
            Vec<Pattern>,
        );
        let mut nodes: Vec<&mut Node> = nodes.collect();
        let mut pending: Vec<Pending> = Vec::new();
        let mut next_leaf = 0u32;
        // Leaf → index in `pending`, to undo leaves of an automaton that
        // cannot be built.
        let mut field_of_leaf: Vec<usize> = Vec::new();
        for node in nodes.iter_mut() {
            node.for_each_leaf_mut(&mut |names, test, m, slot| {
                *slot = NO_LEAF;
                if names.is_some() && !matches!(test, crate::matcher::Test::Str(_)) {
                    return;
                }
                let Some(lits) = m.shared_literals() else {
                    return;
                };
                let leaf = next_leaf;
                next_leaf += 1;
                *slot = leaf;
                let i = match pending.iter().position(|(n, _, _)| n.as_deref() == names) {
                    Some(i) => i,
                    None => {
                        pending.push((names.map(Box::from), HashMap::new(), Vec::new()));
                        pending.len() - 1
                    }
                };
                field_of_leaf.push(i);
                let (_, ids, pats) = &mut pending[i];
                for (kind, lit) in lits {
                    let next = ids.len();
                    let id = *ids.entry(lit.to_ascii_lowercase()).or_insert(next);
                    if id == pats.len() {
                        pats.push(Pattern::default());
                    }
                    let list = match kind {
                        Kind::Contains => &mut pats[id].contains,
                        Kind::Prefix => &mut pats[id].prefix,
                        Kind::Suffix => &mut pats[id].suffix,
                        Kind::Exact => &mut pats[id].exact,
                    };
                    if list.last() != Some(&leaf) {
                        list.push(leaf);
                    }
                }
            });
        }
        let mut out = Prefilter {
            len: nodes.len(),
            ..Prefilter::default()
        };
        let mut failed = vec![false; pending.len()];
        for (i, (names, ids, pats)) in pending.into_iter().enumerate() {
            let mut lits = vec![String::new(); ids.len()];
            for (p, id) in ids {
                lits[id] = p;
            }
            let keywords = names.is_none();
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(!keywords)
                .match_kind(MatchKind::Standard)
                .build(&lits);
            let gate = if keywords {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&lits)
                    .map(Some)
            } else {
                Ok(None)
            };
            match (ac, gate) {
                (Ok(ac), Ok(gate)) => out.fields.push(FieldSearch {
                    names,
                    ac,
                    gate,
                    pats,
                }),
                // Too large an automaton: those leaves are evaluated alone.
                _ => failed[i] = true,
            }
        }
        if failed.iter().any(|&f| f) {
            for node in nodes.iter_mut() {
                node.for_each_leaf_mut(&mut |_, _, _, slot| {
                    if *slot != NO_LEAF && failed[field_of_leaf[*slot as usize]] {
                        *slot = NO_LEAF;
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

    /// Sets in `leaves` the shared leaves that hold for the event and in
    /// `rules` the rules that may match (both bitsets, resized here);
    /// `seen` and `lower` are scratch space.
    pub fn mark(
        &self,
        ev: &Event,
        leaves: &mut Vec<u64>,
        rules: &mut Vec<u64>,
        seen: &mut Vec<u64>,
        lower: &mut Vec<u8>,
    ) {
        leaves.clear();
        leaves.resize(self.leaf_rules.len().div_ceil(64), 0);
        for f in &self.fields {
            match (&f.names, &f.gate) {
                (Some(names), _) => {
                    if let Some(v) = lookup(ev, names) {
                        any_text(v, &mut |s| {
                            f.search(s.as_bytes(), leaves, seen);
                            false
                        });
                    }
                }
                // Most texts of an event hold no keyword: the quick
                // leftmost-first gate before the full pass.
                (None, gate) => {
                    keyword_texts(ev, &mut |s| {
                        lower.clear();
                        lower.extend_from_slice(s.as_bytes());
                        lower.make_ascii_lowercase();
                        if gate.as_ref().is_none_or(|g| g.is_match(&lower[..])) {
                            f.search(lower, leaves, seen);
                        }
                        false
                    });
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
    /// Marks the leaves one text makes hold.
    fn search(&self, s: &[u8], leaves: &mut [u64], seen: &mut Vec<u64>) {
        let end = s.len();
        // A literal's `contains` leaves are set on its first occurrence
        // only.
        seen.clear();
        seen.resize(self.pats.len().div_ceil(64), 0);
        for m in self.ac.find_overlapping_iter(s) {
            let id = m.pattern().as_usize();
            let p = &self.pats[id];
            if !bit(seen, id as u32) {
                set(seen, id as u32);
                set_all(leaves, &p.contains);
            }
            if m.start() == 0 {
                set_all(leaves, &p.prefix);
                if m.end() == end {
                    set_all(leaves, &p.exact);
                }
            }
            if m.end() == end {
                set_all(leaves, &p.suffix);
            }
        }
    }
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
