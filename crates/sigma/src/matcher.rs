//! Compiled matchers: the tree a rule's detection becomes, evaluated
//! against a borrowed [`Event`] without allocating on the common paths.
//!
//! Each leaf gets its cheapest test (STYLE.md 12): equality, prefix and
//! suffix as byte comparisons ignoring ASCII case; every `contains` literal
//! of one field item in one Aho-Corasick automaton; large lists of
//! equalities in a hash set, large lists of prefixes/suffixes in one
//! automaton; wildcard patterns and `re` values as regexes, tried last.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use ipnet::IpNet;
use regex::Regex;
use riposte_model::{Event, FieldValue};

/// Above this many literals of one kind, a list is searched through one
/// automaton (prefix/suffix) or a hash set (equality) instead of a loop.
const LINEAR_MAX: usize = 8;

/// How a literal must sit in the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

/// Any-of a set of string patterns, for one field item.
#[derive(Clone, Debug, Default)]
pub(crate) struct StrMatcher {
    cased: bool,
    /// Small lists: tested one by one.
    linear: Vec<(Kind, Box<str>)>,
    /// Large equality lists, lowercased unless `cased`.
    exact_set: Option<HashSet<Box<str>>>,
    /// Every `contains` literal.
    contains: Option<AhoCorasick>,
    /// Large prefix/suffix lists, searched with overlapping matches.
    anchored: Option<(AhoCorasick, Vec<Kind>)>,
    regexes: Vec<Regex>,
    /// Every literal as written, with its kind, for the shared per-field
    /// search of `crate::prefilter`.
    needles: Vec<(Kind, Box<str>)>,
    /// Strings (lowercased) one of which every match of every regex holds
    /// (`crate::hint`), or `None` when a regex needs none or there are no
    /// regexes: the shared search looks for them so that the regexes run
    /// only on values that hold one.
    hints: Option<Box<[Box<str>]>>,
}

/// Builds a [`StrMatcher`].
#[derive(Debug, Default)]
pub(crate) struct StrMatcherBuilder {
    pub cased: bool,
    pub literals: Vec<(Kind, String)>,
    /// Each regex with the strings one of which its matches need
    /// (`crate::hint::required_literals`), when there are some.
    pub regexes: Vec<(Regex, Option<Vec<String>>)>,
}

impl StrMatcherBuilder {
    pub fn build(self) -> Result<StrMatcher, String> {
        let cased = self.cased;
        let mut hints: Option<Vec<Box<str>>> = (!self.regexes.is_empty()).then(Vec::new);
        for (_, need) in &self.regexes {
            match (need, &mut hints) {
                (Some(need), Some(all)) => {
                    all.extend(need.iter().map(|s| s.as_str().into()));
                }
                _ => hints = None,
            }
        }
        let mut m = StrMatcher {
            cased,
            regexes: self.regexes.into_iter().map(|(r, _)| r).collect(),
            hints: hints.map(|mut h| {
                h.sort();
                h.dedup();
                h.into_boxed_slice()
            }),
            ..StrMatcher::default()
        };
        m.needles = self
            .literals
            .iter()
            .map(|(k, l)| (*k, l.clone().into_boxed_str()))
            .collect();
        let mut contains = Vec::new();
        let mut exact = Vec::new();
        let mut anchored = Vec::new();
        for (kind, lit) in self.literals {
            match kind {
                Kind::Contains => contains.push(lit),
                Kind::Exact => exact.push(lit),
                Kind::Prefix | Kind::Suffix => anchored.push((kind, lit)),
            }
        }
        if contains.len() > SMALL_CONTAINS {
            m.contains = Some(automaton(&contains, cased, MatchKind::LeftmostFirst)?);
        } else {
            m.linear.extend(
                contains
                    .into_iter()
                    .map(|s| (Kind::Contains, s.into_boxed_str())),
            );
        }
        if exact.len() > LINEAR_MAX {
            let set = exact
                .into_iter()
                .map(|s| {
                    if cased {
                        s.into_boxed_str()
                    } else {
                        s.to_ascii_lowercase().into_boxed_str()
                    }
                })
                .collect();
            m.exact_set = Some(set);
        } else {
            m.linear
                .extend(exact.into_iter().map(|s| (Kind::Exact, s.into_boxed_str())));
        }
        if anchored.len() > LINEAR_MAX {
            let (kinds, pats): (Vec<Kind>, Vec<String>) = anchored.into_iter().unzip();
            m.anchored = Some((automaton(&pats, cased, MatchKind::Standard)?, kinds));
        } else {
            m.linear
                .extend(anchored.into_iter().map(|(k, s)| (k, s.into_boxed_str())));
        }
        Ok(m)
    }
}

fn automaton(pats: &[String], cased: bool, kind: MatchKind) -> Result<AhoCorasick, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(!cased)
        .match_kind(kind)
        // A full DFA steps fastest; its memory grows with the patterns, so
        // long lists keep the automaton's own choice.
        .kind((pats.len() <= DFA_MAX_PATTERNS).then_some(AhoCorasickKind::DFA))
        .build(pats)
        .map_err(|e| format!("cannot build the literal automaton: {e}"))
}

/// Up to this many `contains` literals of one item are searched one by one
/// (memchr on the first byte in both cases); more go into one automaton.
const SMALL_CONTAINS: usize = 3;
/// Automata of up to this many literals are built as full DFAs.
pub(crate) const DFA_MAX_PATTERNS: usize = 256;

/// Whether `needle` occurs in `hay`, ignoring ASCII case unless `cased`.
fn find(hay: &[u8], needle: &[u8], cased: bool) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let check = |i: usize| i <= last_start && eq(&hay[i + 1..i + needle.len()], rest, cased);
    if cased {
        memchr::memchr_iter(first, &hay[..=last_start]).any(check)
    } else {
        let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
        memchr::memchr2_iter(lo, up, &hay[..=last_start]).any(check)
    }
}

fn eq(a: &[u8], b: &[u8], cased: bool) -> bool {
    if cased {
        a == b
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

impl StrMatcher {
    /// The literals of a case-insensitive matcher whose literals can all
    /// be found by a shared search (none empty), else `None`.
    pub fn shared_literals(&self) -> Option<&[(Kind, Box<str>)]> {
        (!self.cased && !self.needles.is_empty() && self.needles.iter().all(|(_, n)| !n.is_empty()))
            .then_some(&self.needles[..])
    }

    /// Whether testing the literals alone, on one value, costs more than
    /// a few byte comparisons and a memchr scan: an automaton or a set.
    pub fn costly_alone(&self) -> bool {
        self.contains.is_some() || self.anchored.is_some() || self.exact_set.is_some()
    }

    /// The strings one of which every match of the regexes holds
    /// (lowercased, none empty), when known.
    pub fn regex_hints(&self) -> Option<&[Box<str>]> {
        self.hints.as_deref()
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.is_match_literals(s) || self.is_match_regexes(s)
    }

    /// Whether one of the regexes matches.
    pub fn is_match_regexes(&self, s: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(s))
    }

    /// Whether one of the literals (not the regexes) matches.
    pub fn is_match_literals(&self, s: &str) -> bool {
        let hay = s.as_bytes();
        for (kind, lit) in &self.linear {
            let lit = lit.as_bytes();
            let hit = match kind {
                Kind::Exact => hay.len() == lit.len() && eq(hay, lit, self.cased),
                Kind::Prefix => hay.len() >= lit.len() && eq(&hay[..lit.len()], lit, self.cased),
                Kind::Suffix => {
                    hay.len() >= lit.len() && eq(&hay[hay.len() - lit.len()..], lit, self.cased)
                }
                Kind::Contains => find(hay, lit, self.cased),
            };
            if hit {
                return true;
            }
        }
        if let Some(ac) = &self.contains
            && ac.is_match(hay)
        {
            return true;
        }
        if let Some(set) = &self.exact_set {
            let hit = if self.cased || !hay.iter().any(u8::is_ascii_uppercase) {
                set.contains(s)
            } else {
                set.contains(s.to_ascii_lowercase().as_str())
            };
            if hit {
                return true;
            }
        }
        if let Some((ac, kinds)) = &self.anchored {
            for m in ac.find_overlapping_iter(hay) {
                let hit = match kinds[m.pattern().as_usize()] {
                    Kind::Prefix => m.start() == 0,
                    Kind::Suffix => m.end() == hay.len(),
                    _ => false,
                };
                if hit {
                    return true;
                }
            }
        }
        false
    }
}

/// Numeric comparison of the `gt`/`gte`/`lt`/`lte` modifiers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NumOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// What one field item tests.
#[derive(Clone, Debug)]
pub(crate) enum Test {
    Str(StrMatcher),
    Num(NumOp, f64),
    Cidr(Vec<IpNet>),
    /// `exists`: the field is there (true) or not (false).
    Exists(bool),
    /// A `null` value: the field is absent or empty.
    Null,
    /// `fieldref`: this field's value against another field's value.
    FieldRef(Kind, Box<[Box<str>]>),
}

/// One field item: the event field names the Sigma field maps to (the
/// first present one is read) and the test.
#[derive(Clone, Debug)]
pub(crate) struct FieldTest {
    pub names: Box<[Box<str>]>,
    pub test: Test,
    /// Position of this leaf in its group's shared literal search
    /// (`crate::prefilter`), or [`NO_LEAF`] when it is evaluated alone.
    pub leaf: u32,
    /// Position in the shared search of the strings its regexes need
    /// ([`StrMatcher::regex_hints`]), or [`NO_LEAF`]: when set and not
    /// marked, the regexes cannot match and are not run.
    pub hint: u32,
    /// The names' ids in the rule set's field index ([`Present`]), in the
    /// same order; empty until the index is built.
    pub ids: Box<[u32]>,
}

/// The event's value of each field name the rules read, by the name's id
/// in the rule set's field index: filled once per event from the event's
/// fields, so that the searches and rules find a value by id rather than
/// by a name search each.
pub(crate) type Present<'e> = [Option<&'e FieldValue>];

/// The first present field of `names` (ids `ids` in `present`, when the
/// index knows them).
pub(crate) fn value<'e>(
    ev: &'e Event,
    names: &[Box<str>],
    ids: &[u32],
    present: &Present<'e>,
) -> Option<&'e FieldValue> {
    if ids.is_empty() {
        return lookup(ev, names);
    }
    ids.iter().find_map(|&i| present[i as usize])
}

/// [`FieldTest::leaf`] of a leaf outside any shared search.
pub(crate) const NO_LEAF: u32 = u32::MAX;

/// Whether bit `i` of a bitset is set.
pub(crate) fn bit(marks: &[u64], i: u32) -> bool {
    marks
        .get(i as usize / 64)
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// (leaf, [`weight`] of its lightest literal: its length unless common):
/// see [`Node::anchor`].
pub(crate) type Anchor = (u32, usize);

/// Fragments found in most Windows events' paths and names: a literal
/// inside one of them (`\\windows\\`, `.exe`, `microsoft`) says little about
/// an event, whatever its length.
const COMMON: &[&str] = &[
    "c:\\windows\\system32\\",
    "c:\\windows\\syswow64\\",
    "c:\\program files (x86)\\",
    "c:\\programdata\\",
    "c:\\users\\",
    "\\appdata\\local\\temp\\",
    "\\appdata\\roaming\\",
    "\\microsoft\\windows\\",
    "microsoft corporation",
    "microsoft® windows® operating system",
    ".exe",
    ".dll",
];

/// How much a literal of an anchor is worth ([`Anchor`]): its length,
/// or 1 when it is part of a [`COMMON`] fragment.
pub(crate) fn weight(lit: &str) -> usize {
    let common = COMMON.iter().any(|c| {
        c.len() >= lit.len()
            && c.as_bytes()
                .windows(lit.len())
                .any(|w| w.eq_ignore_ascii_case(lit.as_bytes()))
    });
    if common { 1 } else { lit.len() }
}

fn anchor_score(a: &[Anchor]) -> usize {
    a.iter().map(|&(_, len)| len).min().unwrap_or(0)
}

/// What [`Node::for_each_leaf_mut`] calls.
/// The last argument is the position of the leaf's regex hints, `None`
/// for keyword leaves (which get none).
pub(crate) type LeafVisitor<'f> =
    dyn FnMut(Option<&[Box<str>]>, &Test, &StrMatcher, &mut u32, Option<&mut u32>) + 'f;

/// What [`Node::for_each_leaf`] calls: (position, hint position or `None`
/// for a keyword leaf, string test or `None`).
pub(crate) type LeafReader<'f> = dyn FnMut(u32, Option<u32>, Option<&StrMatcher>) + 'f;

/// A compiled detection or condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    /// At least `n` of the children (`2 of selection_*`).
    AtLeast(usize, Box<[Node]>),
    Field(Box<FieldTest>),
    /// Keyword (full-text) search: any string of the event matches.
    /// The second value is the leaf's position in the group's shared
    /// search, or [`NO_LEAF`].
    Keywords(Box<StrMatcher>, u32),
    Const(bool),
}

pub(crate) fn lookup<'e>(ev: &'e Event, names: &[Box<str>]) -> Option<&'e FieldValue> {
    names.iter().find_map(|n| ev.fields.get(n))
}

/// Calls `f` with the value's text (integers written into a stack buffer);
/// a list gives each element in turn until `f` says true.
pub(crate) fn any_text(v: &FieldValue, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        FieldValue::List(items) => items.iter().any(|i| any_text(i, f)),
        FieldValue::Int(i) => {
            let mut buf = [0u8; 20];
            f(int_text(*i, &mut buf))
        }
        FieldValue::Bool(b) => f(if *b { "true" } else { "false" }),
        FieldValue::Float(x) => f(&x.to_string()),
        other => other.as_str().is_some_and(f),
    }
}

fn int_text(i: i64, buf: &mut [u8; 20]) -> &str {
    let neg = i < 0;
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        buf[pos] = b'-';
    }
    std::str::from_utf8(&buf[pos..]).unwrap_or("")
}

fn as_number(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::Float(x) => Some(*x),
        other => other.as_str().and_then(|s| s.trim().parse().ok()),
    }
}

impl Node {
    /// What every match of this node needs, as a disjunction of leaves of
    /// the shared search ([`FieldTest::leaf`]) one of which must hold: a
    /// literal-only string leaf; for `and` the best of its children's; for
    /// `or` the union of all its children's (none if one child has none).
    /// Best: longest shortest literal.
    pub fn anchor(&self) -> Option<Vec<Anchor>> {
        match self {
            // The literals' leaf and the regexes' hints: a match needs one.
            Node::Field(ft) => {
                let Test::Str(m) = &ft.test else { return None };
                let mut out = Vec::new();
                if !m.needles.is_empty() {
                    if ft.leaf == NO_LEAF {
                        return None;
                    }
                    let len = m.needles.iter().map(|(_, n)| weight(n)).min().unwrap_or(0);
                    out.push((ft.leaf, len));
                }
                if !m.regexes.is_empty() {
                    if ft.hint == NO_LEAF {
                        return None;
                    }
                    let hints = m.hints.as_deref().unwrap_or_default();
                    let len = hints.iter().map(|n| weight(n)).min().unwrap_or(0);
                    out.push((ft.hint, len));
                }
                (!out.is_empty()).then_some(out)
            }
            Node::Keywords(m, leaf) if *leaf != NO_LEAF && m.regexes.is_empty() => {
                let len = m.needles.iter().map(|(_, n)| weight(n)).min().unwrap_or(0);
                Some(vec![(*leaf, len)])
            }
            Node::And(children) => children
                .iter()
                .filter_map(Node::anchor)
                .max_by_key(|a| anchor_score(a)),
            Node::Or(children) => {
                let mut out = Vec::new();
                for c in children.iter() {
                    out.extend(c.anchor()?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// What every match of this node needs, as a conjunction of
    /// [`Node::anchor`]s (clauses): each clause a disjunction of leaves one
    /// of which must hold. An `and` needs the clauses of all its children;
    /// anything else, its anchor alone. The best clause (as
    /// [`Node::anchor`] ranks them) comes first, then at most
    /// `max - 1` others whose lightest literal weighs at least `min_len`
    /// ([`weight`]); a rule is evaluated only when all of them hold, so that
    /// `Image|endswith: '\cmd.exe'` and `CommandLine|contains: '/../../'`
    /// together spare the evaluation that one common anchor alone would
    /// not. Empty: no anchor, the rule is evaluated on every event.
    pub fn clauses(&self, max: usize, min_len: usize) -> Vec<Vec<Anchor>> {
        let mut all = Vec::new();
        self.collect_clauses(&mut all);
        // Best first (stable: the first of equals, as `anchor` for `and`
        // takes the last; either is a necessary condition).
        all.sort_by_key(|c| std::cmp::Reverse(anchor_score(c)));
        let mut out: Vec<Vec<Anchor>> = Vec::new();
        for c in all {
            if out.len() == max {
                break;
            }
            if (out.is_empty() || anchor_score(&c) >= min_len) && !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    fn collect_clauses(&self, out: &mut Vec<Vec<Anchor>>) {
        match self {
            Node::And(children) => children.iter().for_each(|c| c.collect_clauses(out)),
            other => out.extend(other.anchor()),
        }
    }

    /// Puts the children of every `and`/`or`/`n of` in order of cost, cheapest
    /// first, so that evaluation stops before the costly ones when it can
    /// (the order of a pure boolean's operands does not change its value):
    /// constants and marked leaves of the shared search, then leaves
    /// evaluated alone, then leaves with regexes, then keyword searches
    /// over the whole event. Call after the leaves are numbered. Returns
    /// the node's cost class.
    pub fn order_by_cost(&mut self) -> u8 {
        match self {
            Node::And(c) | Node::Or(c) | Node::AtLeast(_, c) => {
                let mut costs: Vec<(u8, Node)> = std::mem::take(c)
                    .into_vec()
                    .into_iter()
                    .map(|mut n| (n.order_by_cost(), n))
                    .collect();
                costs.sort_by_key(|(cost, _)| *cost);
                let max = costs.last().map_or(0, |(cost, _)| *cost);
                *c = costs.into_iter().map(|(_, n)| n).collect();
                max
            }
            Node::Not(n) => n.order_by_cost(),
            Node::Const(_) => 0,
            Node::Field(t) => match &t.test {
                Test::Str(m) if !m.regexes.is_empty() => 3,
                _ if t.leaf != NO_LEAF => 1,
                _ => 2,
            },
            Node::Keywords(m, leaf) => match () {
                _ if !m.regexes.is_empty() => 4,
                _ if *leaf != NO_LEAF => 1,
                _ => 4,
            },
        }
    }

    /// Calls `f` on every string leaf: (field names, or `None` for a
    /// keyword search; test; position in the shared search).
    pub fn for_each_leaf_mut(&mut self, f: &mut LeafVisitor<'_>) {
        match self {
            Node::And(c) | Node::Or(c) | Node::AtLeast(_, c) => {
                c.iter_mut().for_each(|n| n.for_each_leaf_mut(f))
            }
            Node::Not(n) => n.for_each_leaf_mut(f),
            Node::Field(t) => {
                let FieldTest {
                    names,
                    test,
                    leaf,
                    hint,
                    ..
                } = &mut **t;
                let empty = StrMatcher::default();
                let test = &*test;
                let m = match test {
                    Test::Str(m) => m,
                    _ => &empty,
                };
                f(Some(names), test, m, leaf, Some(hint))
            }
            Node::Keywords(m, leaf) => f(None, &Test::Null, m, leaf, None),
            Node::Const(_) => {}
        }
    }

    /// Calls `f` with every leaf's position in the shared search, its
    /// regex hints' (`None` for keyword leaves) and its string test (`None`
    /// for other tests).
    pub fn for_each_leaf(&self, f: &mut LeafReader<'_>) {
        match self {
            Node::And(c) | Node::Or(c) | Node::AtLeast(_, c) => {
                c.iter().for_each(|n| n.for_each_leaf(f))
            }
            Node::Not(n) => n.for_each_leaf(f),
            Node::Field(t) => {
                let m = match &t.test {
                    Test::Str(m) => Some(m),
                    _ => None,
                };
                f(t.leaf, Some(t.hint), m)
            }
            Node::Keywords(m, leaf) => f(*leaf, None, Some(m)),
            Node::Const(_) => {}
        }
    }

    /// Calls `f` on every field leaf, string or not.
    pub fn for_each_field_mut(&mut self, f: &mut dyn FnMut(&mut FieldTest)) {
        match self {
            Node::And(c) | Node::Or(c) | Node::AtLeast(_, c) => {
                c.iter_mut().for_each(|n| n.for_each_field_mut(f))
            }
            Node::Not(n) => n.for_each_field_mut(f),
            Node::Field(t) => f(t),
            Node::Keywords(..) | Node::Const(_) => {}
        }
    }

    /// [`Node::eval`], with the leaves of the shared search read from
    /// `leaves` (set by `crate::prefilter::Prefilter::mark` for this event)
    /// and field values from `memo`.
    pub fn eval_marked<'e>(&self, ev: &'e Event, leaves: &[u64], memo: &Present<'e>) -> bool {
        match self {
            Node::And(c) => c.iter().all(|n| n.eval_marked(ev, leaves, memo)),
            Node::Or(c) => c.iter().any(|n| n.eval_marked(ev, leaves, memo)),
            Node::Not(n) => !n.eval_marked(ev, leaves, memo),
            Node::AtLeast(k, c) => {
                let mut hits = 0;
                for n in c.iter() {
                    if n.eval_marked(ev, leaves, memo) {
                        hits += 1;
                        if hits >= *k {
                            return true;
                        }
                    }
                }
                false
            }
            Node::Field(t) if t.leaf != NO_LEAF || t.hint != NO_LEAF => {
                let Test::Str(m) = &t.test else {
                    return t.eval_value(ev, value(ev, &t.names, &t.ids, memo));
                };
                if t.leaf != NO_LEAF && bit(leaves, t.leaf) {
                    return true;
                }
                // What is left to test on the value: literals outside the
                // shared search, and regexes unless their hints say they
                // cannot match.
                let literals = t.leaf == NO_LEAF && !m.needles.is_empty();
                let regexes = !m.regexes.is_empty() && (t.hint == NO_LEAF || bit(leaves, t.hint));
                (literals || regexes)
                    && value(ev, &t.names, &t.ids, memo).is_some_and(|v| {
                        any_text(v, &mut |s| {
                            (literals && m.is_match_literals(s))
                                || (regexes && m.is_match_regexes(s))
                        })
                    })
            }
            Node::Field(t) => t.eval_value(ev, value(ev, &t.names, &t.ids, memo)),
            Node::Keywords(m, leaf) if *leaf != NO_LEAF => {
                bit(leaves, *leaf)
                    || (!m.regexes.is_empty()
                        && keyword_texts(ev, &mut |s| m.regexes.iter().any(|r| r.is_match(s))))
            }
            Node::Keywords(m, _) => keyword_match(m, ev),
            Node::Const(b) => *b,
        }
    }

    pub fn eval(&self, ev: &Event) -> bool {
        match self {
            Node::And(c) => c.iter().all(|n| n.eval(ev)),
            Node::Or(c) => c.iter().any(|n| n.eval(ev)),
            Node::Not(n) => !n.eval(ev),
            Node::AtLeast(k, c) => {
                let mut hits = 0;
                for n in c.iter() {
                    if n.eval(ev) {
                        hits += 1;
                        if hits >= *k {
                            return true;
                        }
                    }
                }
                false
            }
            Node::Field(t) => t.eval(ev),
            Node::Keywords(m, _) => keyword_match(m, ev),
            Node::Const(b) => *b,
        }
    }
}

impl FieldTest {
    fn eval(&self, ev: &Event) -> bool {
        self.eval_value(ev, lookup(ev, &self.names))
    }

    /// The test on the field's `value` (the event for `fieldref`).
    fn eval_value(&self, ev: &Event, value: Option<&FieldValue>) -> bool {
        match &self.test {
            Test::Exists(want) => value.is_some() == *want,
            Test::Null => match value {
                None => true,
                Some(v) => v.as_str() == Some(""),
            },
            Test::Str(m) => value.is_some_and(|v| any_text(v, &mut |s| m.is_match(s))),
            Test::Num(op, n) => value.and_then(as_number).is_some_and(|x| match op {
                NumOp::Gt => x > *n,
                NumOp::Gte => x >= *n,
                NumOp::Lt => x < *n,
                NumOp::Lte => x <= *n,
            }),
            Test::Cidr(nets) => value.is_some_and(|v| {
                any_text(v, &mut |s| {
                    s.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip)))
                })
            }),
            Test::FieldRef(kind, other) => {
                let (Some(v), Some(o)) = (value, lookup(ev, other)) else {
                    return false;
                };
                // The other field's first text, borrowed (an empty list:
                // the empty string).
                let cmp = |lit: &str| {
                    let lit = lit.as_bytes();
                    any_text(v, &mut |s| {
                        let hay = s.as_bytes();
                        match kind {
                            Kind::Exact => hay.len() == lit.len() && eq(hay, lit, false),
                            Kind::Prefix => {
                                hay.len() >= lit.len() && eq(&hay[..lit.len()], lit, false)
                            }
                            Kind::Suffix => {
                                hay.len() >= lit.len()
                                    && eq(&hay[hay.len() - lit.len()..], lit, false)
                            }
                            Kind::Contains => {
                                lit.is_empty() || hay.windows(lit.len()).any(|w| eq(w, lit, false))
                            }
                        }
                    })
                };
                let mut hit = None;
                any_text(o, &mut |lit| {
                    hit = Some(cmp(lit));
                    true
                });
                hit.unwrap_or_else(|| cmp(""))
            }
        }
    }
}

/// Keywords search `event.original` and every string field (list elements
/// included).
fn keyword_match(m: &StrMatcher, ev: &Event) -> bool {
    keyword_texts(ev, &mut |s| m.is_match(s))
}

/// Calls `f` with each text a keyword search reads (see [`keyword_match`])
/// until it says true.
pub(crate) fn keyword_texts(ev: &Event, f: &mut dyn FnMut(&str) -> bool) -> bool {
    if ev.original.as_deref().is_some_and(&mut *f) {
        return true;
    }
    ev.fields.values().any(|v| match v {
        FieldValue::List(_) => any_text(v, f),
        other => other.as_str().is_some_and(&mut *f),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(cased: bool, lits: &[(Kind, &str)]) -> StrMatcher {
        StrMatcherBuilder {
            cased,
            literals: lits.iter().map(|(k, s)| (*k, (*s).to_owned())).collect(),
            regexes: Vec::new(),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn literal_kinds_ignore_ascii_case() {
        assert!(find(b"abcABC", b"cab", false));
        assert!(!find(b"abcABC", b"cab", true));
        assert!(find(b"x", b"", false));
        assert!(!find(b"ab", b"abc", false));
        assert!(find(b"xxAbC", b"abc", false));
        let m = matcher(
            false,
            &[
                (Kind::Exact, "cmd.exe"),
                (Kind::Prefix, "C:\\Windows\\"),
                (Kind::Suffix, "\\powershell.exe"),
                (Kind::Contains, "mimikatz"),
            ],
        );
        assert!(m.is_match("CMD.EXE"));
        assert!(!m.is_match("xcmd.exe"));
        assert!(m.is_match("c:\\windows\\x"));
        assert!(m.is_match("D:\\Tools\\PowerShell.exe"));
        assert!(m.is_match("run MimiKatz now"));
        assert!(!m.is_match("notepad"));
        let cased = matcher(true, &[(Kind::Exact, "cmd.exe")]);
        assert!(!cased.is_match("CMD.EXE"));
    }

    #[test]
    fn large_lists_use_the_set_and_automaton_paths() {
        let exact: Vec<(Kind, String)> = (0..100).map(|i| (Kind::Exact, format!("v{i}"))).collect();
        let mut lits = exact;
        lits.extend((0..100).map(|i| (Kind::Suffix, format!("\\s{i}.exe"))));
        lits.extend((0..100).map(|i| (Kind::Prefix, format!("p{i}\\"))));
        let m = StrMatcherBuilder {
            cased: false,
            literals: lits,
            regexes: Vec::new(),
        }
        .build()
        .unwrap();
        assert!(m.exact_set.is_some() && m.anchored.is_some());
        assert!(m.is_match("V42"));
        assert!(!m.is_match("v420"));
        assert!(m.is_match("c:\\S7.EXE"));
        assert!(!m.is_match("c:\\s7.exe.bak"));
        assert!(m.is_match("P9\\x"));
        assert!(!m.is_match("xp9\\x"));
    }

    #[test]
    fn common_fragments_weigh_one() {
        assert_eq!(weight("\\System32\\"), 1);
        assert_eq!(weight(".EXE"), 1);
        assert_eq!(weight("Microsoft"), 1);
        assert_eq!(weight("mimikatz"), 8);
        assert_eq!(weight("\\windows\\temp\\"), 14);
    }

    #[test]
    fn integers_are_written_without_allocating() {
        let mut buf = [0u8; 20];
        assert_eq!(int_text(0, &mut buf), "0");
        assert_eq!(int_text(4688, &mut buf), "4688");
        assert_eq!(int_text(i64::MIN, &mut buf), "-9223372036854775808");
    }
}
