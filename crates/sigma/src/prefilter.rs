//! The shared literal search and rule prefilter of one group of rules
//! (one logsource).
//!
//! A case-insensitive string leaf whose literals are all non-empty
//! (`contains`, `startswith`, `endswith` and equality alike), when it
//! spares work (`worth_sharing`: most do), gets a
//! position in the group ([`crate::matcher::FieldTest::leaf`]) and gives its literals to
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
//! Each rule with clauses ([`Node::clauses`]: up to two sets of leaves,
//! one leaf of each must hold) is evaluated only when every clause has a
//! marked leaf; rules without one are evaluated always.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use riposte_model::Event;

use crate::grams::GramSet;
use crate::matcher::{
    Kind, NO_LEAF, Node, Present, Test, any_text, bit, keyword_texts, value, weight,
};

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
    /// Keyword leaves only: a leftmost-first automaton of windows one of
    /// which every literal (any kind) holds ([`gate_windows`]), which aho-corasick can
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
    lower: Vec<u8>,
    joined: Vec<u8>,
    /// The clauses that hold (a bitset).
    held: Vec<u64>,
    /// Rule position → clauses held, zero between calls.
    counts: Vec<u8>,
    touched: Vec<u32>,
    /// Whether `joined` holds the texts of the event being marked: built
    /// by the first group that needs it, cleared by
    /// [`MarkBuffers::next_event`].
    joined_fresh: bool,
}

impl MarkBuffers {
    /// Says that the next calls of [`Prefilter::mark`] read another
    /// event: buffers built from the last one are stale.
    pub fn next_event(&mut self) {
        self.joined_fresh = false;
    }
}

/// The search and prefilter of one group of rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefilter {
    fields: Vec<FieldSearch>,
    /// Leaf → the clauses it satisfies ([`Node::clauses`]).
    leaf_clauses: Vec<Vec<u32>>,
    /// Clause → position (in the group) of its rule.
    clause_rule: Vec<u32>,
    /// Position → how many clauses the rule has (all must hold).
    rule_need: Vec<u8>,
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

/// Regex hints and leaves outside any rule's clauses are shared only when
/// their literals are at least this long ([`worth_sharing`]).
const SHARED_MIN_LEN: usize = 4;
/// At most this many clauses per rule ([`Node::clauses`]).
const MAX_CLAUSES: usize = 2;
/// A clause besides a rule's best needs literals at least this long.
const CLAUSE_MIN_LEN: usize = 4;

impl Prefilter {
    /// Numbers the shared leaves of the group's rule trees (in place) and
    /// builds the search: every leaf first, to find the rules' clauses,
    /// then only the leaves [`worth_sharing`] says spare work.
    pub fn build<'a>(
        nodes: impl Iterator<Item = &'a mut Node>,
        field_id: &mut dyn FnMut(&str) -> u32,
    ) -> Prefilter {
        let mut nodes: Vec<&mut Node> = nodes.collect();
        let first = number_leaves(&mut nodes, None);
        let keep = worth_sharing(&nodes, first.leaves);
        let Numbered {
            pending,
            field_of_leaf,
            leaves: next_leaf,
        } = if keep.iter().all(|&k| k) {
            first
        } else {
            number_leaves(&mut nodes, Some(&keep))
        };
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
                let windows = gate_windows(&p.all);
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

        out.leaf_clauses = vec![Vec::new(); next_leaf];
        for (pos, node) in nodes.iter().enumerate() {
            let pos = pos as u32;
            let clauses = node.clauses(MAX_CLAUSES, CLAUSE_MIN_LEN);
            if clauses.is_empty() {
                out.always.push(pos);
            }
            out.rule_need.push(clauses.len() as u8);
            for clause in clauses {
                let id = out.clause_rule.len() as u32;
                out.clause_rule.push(pos);
                for (leaf, _) in clause {
                    let list = &mut out.leaf_clauses[leaf as usize];
                    if list.last() != Some(&id) {
                        list.push(id);
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
            lower,
            joined,
            held,
            counts,
            touched,
            joined_fresh,
        } = bufs;
        leaves.clear();
        leaves.resize(self.leaf_clauses.len().div_ceil(64), 0);
        for f in &self.fields {
            let mut each = |s: &str| {
                lower.clear();
                lower.extend_from_slice(s.as_bytes());
                lower.make_ascii_lowercase();
                // Most texts of an event hold no keyword: the quick
                // leftmost-first gate before the full pass.
                if f.gate.as_ref().is_none_or(|g| g.is_match(&lower[..])) {
                    f.search(lower, leaves);
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
                        // Built once per event, for every group's gate.
                        if !*joined_fresh {
                            *joined_fresh = true;
                            joined.clear();
                            keyword_texts(ev, &mut |s| {
                                joined.extend_from_slice(s.as_bytes());
                                joined.push(0);
                                false
                            });
                            joined.make_ascii_lowercase();
                        }
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
        // A rule may match when every one of its clauses holds: count the
        // clauses that do, each once (`held`), per rule (`counts`, zero
        // again at the end).
        held.clear();
        held.resize(self.clause_rule.len().div_ceil(64), 0);
        if counts.len() < self.len {
            counts.resize(self.len, 0);
        }
        for leaf in set_bits(leaves) {
            for &c in &self.leaf_clauses[leaf] {
                if bit(held, c) {
                    continue;
                }
                set(held, c);
                let r = self.clause_rule[c as usize];
                if self.rule_need[r as usize] == 1 {
                    set(rules, r);
                    continue;
                }
                let n = &mut counts[r as usize];
                if *n == 0 {
                    touched.push(r);
                }
                *n += 1;
                if *n == self.rule_need[r as usize] {
                    set(rules, r);
                }
            }
        }
        for r in touched.drain(..) {
            counts[r as usize] = 0;
        }
    }
}

/// Which of the `leaves` numbered leaves of the trees belong in the shared
/// search: the leaves of every rule's clauses (they decide whether the
/// rule is evaluated at all), every leaf of a rule without clauses
/// (evaluated on every event, it reads them all), keyword leaves (alone,
/// each scans every text of the event), and regex hints and leaves
/// searched alone through an automaton or a set, when their literals are
/// at least [`SHARED_MIN_LEN`] bytes long and not common path fragments
/// (`crate::matcher::weight`).
///
/// Any other leaf is tested only when its rule is evaluated, which the
/// clauses make rare: searching its literals in every value costs more.
/// Those are the common ones: `\`, `.exe`, ` -` and one-character regex
/// hints matched ~40 times per process-creation event and marked ~140
/// leaves, ~16 of which anchored a rule (BENCHMARKS.md).
fn worth_sharing(nodes: &[&mut Node], leaves: usize) -> Vec<bool> {
    let mut keep = vec![false; leaves];
    for node in nodes {
        let clauses = node.clauses(MAX_CLAUSES, CLAUSE_MIN_LEN);
        for (leaf, _) in clauses.iter().flatten() {
            keep[*leaf as usize] = true;
        }
        node.for_each_leaf(&mut |slot, hint, m| {
            if let (Some(hint), Some(m)) = (hint.filter(|&h| h != NO_LEAF), m)
                && heavy(m.regex_hints().unwrap_or_default().iter().map(|h| &**h))
            {
                keep[hint as usize] = true;
            }
            let wanted = clauses.is_empty()
                || match (hint, m) {
                    // A keyword leaf: no hint slot.
                    (None, _) => true,
                    (Some(_), Some(m)) => {
                        m.costly_alone()
                            && heavy(
                                m.shared_literals()
                                    .unwrap_or_default()
                                    .iter()
                                    .map(|(_, l)| &**l),
                            )
                    }
                    (Some(_), None) => false,
                };
            if slot != NO_LEAF && wanted {
                keep[slot as usize] = true;
            }
        });
    }
    keep
}

/// Whether the lightest of the literals weighs at least [`SHARED_MIN_LEN`]
/// (`crate::matcher::weight`; true for none).
fn heavy<'a>(lits: impl Iterator<Item = &'a str>) -> bool {
    lits.map(weight).min().is_none_or(|w| w >= SHARED_MIN_LEN)
}

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

/// What [`number_leaves`] gives.
struct Numbered {
    pending: Vec<Pending>,
    /// Leaf → index in `pending`, to undo leaves of a search that cannot
    /// be built.
    field_of_leaf: Vec<usize>,
    leaves: usize,
}

/// Gives each shared leaf (and regex hint) of the trees a position, and
/// its literals to its field's search. With `keep`, a leaf whose current
/// position `keep` says false gets none ([`NO_LEAF`]) and is evaluated
/// alone.
fn number_leaves(nodes: &mut [&mut Node], keep: Option<&[bool]>) -> Numbered {
    let mut out = Numbered {
        pending: Vec::new(),
        field_of_leaf: Vec::new(),
        leaves: 0,
    };
    let kept = |slot: u32| keep.is_none_or(|k| slot != NO_LEAF && k[slot as usize]);
    for node in nodes.iter_mut() {
        node.for_each_leaf_mut(&mut |names, test, m, slot, hint_slot| {
            let (keep_leaf, keep_hint) =
                (kept(*slot), hint_slot.as_deref().is_some_and(|h| kept(*h)));
            *slot = NO_LEAF;
            if names.is_some() && !matches!(test, Test::Str(_)) {
                return;
            }
            let field = |out: &mut Numbered| {
                let i = match out.pending.iter().position(|p| p.names.as_deref() == names) {
                    Some(i) => i,
                    None => {
                        out.pending.push(Pending {
                            names: names.map(Box::from),
                            ..Pending::default()
                        });
                        out.pending.len() - 1
                    }
                };
                out.field_of_leaf.push(i);
                let leaf = out.leaves as u32;
                out.leaves += 1;
                (i, leaf)
            };
            // A field's regex hints: `contains` literals of a leaf of
            // their own, which may hold without the regexes matching.
            if let Some(hint_slot) = hint_slot {
                *hint_slot = NO_LEAF;
                if let Some(hints) = m.regex_hints().filter(|_| keep_hint) {
                    let (i, leaf) = field(&mut out);
                    *hint_slot = leaf;
                    out.pending[i].add_contains(hints, leaf);
                }
            }
            let Some(lits) = m.shared_literals().filter(|_| keep_leaf) else {
                return;
            };
            let (i, leaf) = field(&mut out);
            *slot = leaf;
            let p = &mut out.pending[i];
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
    out
}

impl FieldSearch {
    /// Marks the leaves one text (lowercased) makes hold (hint leaves:
    /// may hold).
    fn search(&self, s: &[u8], leaves: &mut [u64]) {
        self.prefix.walk(s.iter().copied(), s.len(), leaves);
        self.suffix.walk(s.iter().rev().copied(), s.len(), leaves);
        if self.grams.is_empty() {
            return;
        }
        // A literal found twice sets its leaves twice: cheaper than
        // clearing a bitset of every literal of the field per text.
        self.grams.for_each_match(s, &mut |id| {
            set_all(leaves, &self.contains[id as usize]);
        });
    }
}

/// The strings the keyword gate looks for: one of them in every literal
/// (lowercased), each a 4-byte window of a literal (a literal shorter
/// than that whole), chosen greedily: the window the most literals not yet
/// covered hold, then the one least made of common bytes
/// ([`commonness`]: `event::clear` starts like the `<Event>`, `EventID`
/// and `EventData` of every event's XML; its window `::cl` does not).
/// Fewer patterns than one window per literal, so that the SIMD search
/// verifies fewer candidates: 9 for the 20 keywords of
/// `win_alert_mimikatz_keywords.yml` (`sa::`, `os::`, `kiwi`, …).
fn gate_windows(lits: &[String]) -> Vec<Vec<u8>> {
    // The greedy choice costs literals × windows per round: a long list,
    // or long literals (a hostile rule), get each literal's rarest window
    // instead, so that loading stays quick whatever the rule.
    let windows: usize = lits.iter().map(|l| l.len().saturating_sub(3).max(1)).sum();
    if lits.len() > GREEDY_MAX || windows > GREEDY_MAX_WINDOWS {
        let mut out: Vec<Vec<u8>> = lits
            .iter()
            .map(|l| rarest_window(l.as_bytes()).to_vec())
            .collect();
        out.sort_unstable();
        out.dedup();
        return out;
    }
    let window = |l: &[u8]| -> Vec<Vec<u8>> {
        l.windows(4.min(l.len()).max(1))
            .map(<[u8]>::to_vec)
            .collect()
    };
    let mut uncovered: Vec<&[u8]> = lits.iter().map(|l| l.as_bytes()).collect();
    let mut out: Vec<Vec<u8>> = Vec::new();
    while !uncovered.is_empty() {
        let Some(best) = uncovered
            .iter()
            .flat_map(|l| window(l))
            .map(|w| {
                let held = uncovered
                    .iter()
                    .filter(|l| memchr::memmem::find(l, &w).is_some())
                    .count();
                ((held, std::cmp::Reverse(commonness(&w))), w)
            })
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
            .map(|(_, w)| w)
        else {
            break;
        };
        uncovered.retain(|l| memchr::memmem::find(l, &best).is_none());
        out.push(best);
    }
    out
}

/// Keyword lists longer than this, or whose literals have more 4-byte
/// windows than the second, get one window per literal ([`gate_windows`]).
const GREEDY_MAX: usize = 64;
const GREEDY_MAX_WINDOWS: usize = 1024;

/// The 4-byte window of a literal least made of common bytes
/// ([`commonness`]), the whole literal when shorter.
fn rarest_window(lit: &[u8]) -> &[u8] {
    lit.windows(4.min(lit.len()).max(1))
        .min_by_key(|w| commonness(w))
        .unwrap_or(lit)
}

/// How common the bytes of a window are in event text (higher: more):
/// letters by English frequency, digits, spaces and XML punctuation count
/// most.
fn commonness(window: &[u8]) -> u32 {
    window.iter().map(|&b| common_byte(b)).sum()
}

/// How common a byte is in event text (higher: more).
fn common_byte(b: u8) -> u32 {
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
    use super::gate_windows;

    /// One window in every keyword, shared where it can be: the 20
    /// keywords of `win_alert_mimikatz_keywords.yml` need 9.
    #[test]
    fn the_gate_looks_for_few_windows_of_rare_bytes() {
        let kw = [
            "dpapi::masterkey",
            "eo.oe.kiwi",
            "event::clear",
            "event::drop",
            "gentilkiwi.com",
            "kerberos::golden",
            "kerberos::ptc",
            "kerberos::ptt",
            "kerberos::tgt",
            "kiwi legit printer",
            "lsadump::",
            "mimidrv.sys",
            "\\mimilib.dll",
            "misc::printnightmare",
            "misc::shadowcopies",
            "misc::skeleton",
            "privilege::backup",
            "privilege::debug",
            "privilege::driver",
            "sekurlsa::",
        ];
        let lits: Vec<String> = kw.iter().map(|s| s.to_string()).collect();
        let windows = gate_windows(&lits);
        let shown: Vec<&str> = windows
            .iter()
            .map(|w| std::str::from_utf8(w).unwrap())
            .collect();
        assert_eq!(
            shown,
            [
                "os::", "ge::", "sc::", "kiwi", "nt::", "mimi", "mp::", "pi::", "sa::"
            ]
        );
        for lit in &lits {
            assert!(
                windows
                    .iter()
                    .any(|w| memchr::memmem::find(lit.as_bytes(), w).is_some()),
                "{lit}"
            );
        }
        assert_eq!(gate_windows(&["kiw".to_owned()]), [b"kiw".to_vec()]);
        // A long list: each literal's rarest window.
        let long: Vec<String> = (0..300).map(|i| format!("event::x{i:03}")).collect();
        let windows = gate_windows(&long);
        assert_eq!(
            windows,
            [b"::x0".to_vec(), b"::x1".to_vec(), b"::x2".to_vec()]
        );
        // Long literals, few of them: the same, at once.
        let big: Vec<String> = (0..3)
            .map(|i| format!("{i}{}", "ab".repeat(50_000)))
            .collect();
        let windows = gate_windows(&big);
        assert_eq!(windows.len(), 3);
        for (w, lit) in windows.iter().zip(&big) {
            assert!(memchr::memmem::find(lit.as_bytes(), w).is_some());
        }
    }
}
