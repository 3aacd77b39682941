//! The rule prefilter: within one logsource, which rules can match an event
//! at all. Each rule with an anchor ([`Node::anchor`]: a field whose text
//! must contain one of some literals) contributes its literals to one
//! Aho-Corasick automaton per field; one pass over each such field of the
//! event marks the rules whose literal occurs, and only those (plus the
//! rules without an anchor) are evaluated. The prefilter never decides a
//! match, it only skips rules that cannot match.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use riposte_model::Event;

use crate::matcher::{Node, any_text, lookup};

#[derive(Clone, Debug)]
struct FieldFilter {
    names: Box<[Box<str>]>,
    ac: AhoCorasick,
    /// Pattern id → positions (in the group) of the rules it anchors.
    rules_of: Vec<Vec<u32>>,
}

/// The prefilter of one group of rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefilter {
    fields: Vec<FieldFilter>,
    /// Positions of the rules without an anchor: always evaluated.
    always: Vec<u32>,
    len: usize,
}

impl Prefilter {
    pub fn build<'a>(nodes: impl Iterator<Item = &'a Node>) -> Prefilter {
        type Pending = (Box<[Box<str>]>, HashMap<String, usize>, Vec<Vec<u32>>);
        let mut pending: Vec<Pending> = Vec::new();
        let mut out = Prefilter::default();
        for (pos, node) in nodes.enumerate() {
            out.len = pos + 1;
            let pos = pos as u32;
            let Some(anchors) = node.anchor() else {
                out.always.push(pos);
                continue;
            };
            for (names, needles) in anchors {
                let i = match pending.iter().position(|(n, _, _)| **n == *names) {
                    Some(i) => i,
                    None => {
                        pending.push((names.into(), HashMap::new(), Vec::new()));
                        pending.len() - 1
                    }
                };
                let (_, ids, rules_of) = &mut pending[i];
                for needle in needles {
                    let next = ids.len();
                    let id = *ids.entry(needle.to_ascii_lowercase()).or_insert(next);
                    if id == rules_of.len() {
                        rules_of.push(Vec::new());
                    }
                    if rules_of[id].last() != Some(&pos) {
                        rules_of[id].push(pos);
                    }
                }
            }
        }
        for (names, ids, rules_of) in pending {
            let mut pats = vec![String::new(); ids.len()];
            for (p, id) in ids {
                pats[id] = p;
            }
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&pats);
            match ac {
                Ok(ac) => out.fields.push(FieldFilter {
                    names,
                    ac,
                    rules_of,
                }),
                // Too large an automaton: evaluate those rules always.
                Err(_) => {
                    for r in rules_of.into_iter().flatten() {
                        out.always.push(r);
                    }
                }
            }
        }
        out.always.sort_unstable();
        out.always.dedup();
        out
    }

    /// Marks in `marks` (a bitset, resized here) the rules that may match.
    pub fn mark(&self, ev: &Event, marks: &mut Vec<u64>) {
        marks.clear();
        marks.resize(self.len.div_ceil(64), 0);
        for &r in &self.always {
            marks[r as usize / 64] |= 1 << (r % 64);
        }
        for f in &self.fields {
            let Some(v) = lookup(ev, &f.names) else {
                continue;
            };
            any_text(v, &mut |s| {
                for m in f.ac.find_overlapping_iter(s) {
                    for &r in &f.rules_of[m.pattern().as_usize()] {
                        marks[r as usize / 64] |= 1 << (r % 64);
                    }
                }
                false
            });
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
