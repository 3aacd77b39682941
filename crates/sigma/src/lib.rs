//! Riposte's Sigma engine.
//!
//! Sigma rules (YAML, specification v2) are parsed into an AST by
//! [`rsigma_parser`] and compiled here into matcher trees that read a
//! borrowed [`riposte_model::Event`] directly: no per-event conversion, no
//! allocation on the common paths. Rules are indexed by logsource so that
//! an event is only tested against the rules that can see it.
//!
//! ```
//! use riposte_sigma::{Mapping, load_str};
//! let rule = "title: Whoami\nid: 1\nlogsource: {product: windows, category: process_creation}\n\
//!             detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";
//! let loaded = load_str("whoami.yml", rule, &Mapping::builtin());
//! assert_eq!(loaded.rules.len(), 1);
//! assert!(loaded.rejected.is_empty());
//! ```
//!
//! # Why rsigma-parser and not rsigma-eval
//!
//! Evaluated (issue #4) with rsigma-parser/rsigma-eval 0.23.0, the newest
//! releases that build on Rust 1.95: the parser loads the SigmaHQ corpus
//! (the rate is printed by `tests/corpus.rs` and recorded in docs/sigma.md),
//! knows multi-document files (`action: global/reset/repeat`), correlation
//! and filter documents and every modifier of the specification, so it is
//! used for YAML → AST (without its `fix` feature). rsigma-eval does evaluate
//! through an `Event` trait rather than JSON, but it brings its own
//! pipeline, logsource and correlation machinery that would duplicate
//! Riposte's data-file mapping and the detect crate's correlation engine;
//! the compiler here is ~1,000 lines and gives each leaf the matcher
//! STYLE.md asks for. See docs/sigma.md.

mod compile;
mod grams;
mod hint;
mod mapping;
mod matcher;
mod meta;
mod prefilter;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use riposte_model::{Confidence, Event, FieldValue};
use serde::Deserialize;

pub use compile::REGEX_SIZE_LIMIT;
pub use mapping::{CondValue, DEFAULT_MAPPING, LogsourceEntry, Mapping};
pub use meta::{Attack, RuleMeta, confidence_for, derived_confidence, parse_attack};

use matcher::Node;

/// Rule files larger than this are rejected unread.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Nesting deeper than this in a rule file (parentheses, YAML brackets,
/// indentation) rejects it before parsing, so hostile input cannot exhaust
/// the parsers' stack or time.
pub const MAX_NESTING: usize = 64;

/// One loaded, compiled Sigma rule.
#[derive(Clone, Debug)]
pub struct SigmaRule {
    meta: RuleMeta,
    file: PathBuf,
    node: Node,
    logsource: Option<Arc<LogsourceEntry>>,
}

impl SigmaRule {
    pub fn meta(&self) -> &RuleMeta {
        &self.meta
    }
    pub fn id(&self) -> Option<&str> {
        self.meta.id.as_deref()
    }
    pub fn title(&self) -> &str {
        &self.meta.title
    }
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// Whether the rule's logsource has a mapping; a rule without one
    /// never matches.
    pub fn is_mapped(&self) -> bool {
        self.logsource.is_some()
    }

    /// Whether the event is one the rule's logsource describes and its
    /// detection condition holds.
    pub fn is_match(&self, ev: &Event) -> bool {
        self.logsource.as_ref().is_some_and(|ls| ls.matches(ev)) && self.node.eval(ev)
    }

    /// The detection condition alone, ignoring the logsource.
    pub fn detection_matches(&self, ev: &Event) -> bool {
        self.node.eval(ev)
    }
}

/// A rule (or document) that did not load, or was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub file: PathBuf,
    /// The rule's `id`, when it could be read.
    pub id: Option<String>,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}: rule {id}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// A Sigma correlation document, handed back as written (after
/// `action: global` merging is not applied: the raw document) for the
/// detect crate's correlation engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    pub file: PathBuf,
    pub id: Option<String>,
    pub document: serde_yaml_ng::Value,
}

/// A rule whose logsource has no mapping: it loaded but sees no event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub file: PathBuf,
    pub id: Option<String>,
    /// `product/category/service` as the rule writes it.
    pub logsource: String,
}

/// What `riposte rules lint` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LintReport {
    pub rejected: Vec<Rejection>,
    pub skipped: Vec<Rejection>,
    pub unmapped: Vec<Unmapped>,
}

/// Everything a load produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: SigmaRules,
    pub correlations: Vec<Correlation>,
    /// Rules that did not load, each with its reason.
    pub rejected: Vec<Rejection>,
    /// Documents deliberately not loaded (filters), with the reason.
    pub skipped: Vec<Rejection>,
}

impl Loaded {
    pub fn lint(&self) -> LintReport {
        LintReport {
            rejected: self.rejected.clone(),
            skipped: self.skipped.clone(),
            unmapped: self.rules.unmapped(),
        }
    }

    fn merge(&mut self, other: Loaded) {
        self.rules.rules.extend(other.rules.rules);
        self.correlations.extend(other.correlations);
        self.rejected.extend(other.rejected);
        self.skipped.extend(other.skipped);
    }
}

/// The groups of one `Channel`, each as `group << 1 | covered`: covered
/// when the `when` item that put it here holds nothing but the index's
/// keys (`Channel`, and `EventID` in `by_event_id`), so that the lookup
/// alone proves it and [`LogsourceEntry::matches`] need not run again.
#[derive(Clone, Debug, Default)]
struct ChannelIndex {
    any: Vec<u32>,
    by_event_id: hashbrown::HashMap<i64, Vec<u32>>,
}

#[derive(Clone, Debug)]
struct Group {
    entry: Arc<LogsourceEntry>,
    rules: Vec<u32>,
    prefilter: prefilter::Prefilter,
}

/// Buffers [`SigmaRules::for_each_match`] reuses between events.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    groups: Vec<u32>,
    /// The event's fields by id ([`matcher::Present`]), kept empty
    /// between calls (its values borrow the event).
    present: Vec<Option<&'static FieldValue>>,
    bufs: prefilter::MarkBuffers,
}

/// Compiled rules, indexed by logsource.
///
/// The index: each mapped logsource is a group of rules; a group whose
/// `when` items name a `Channel` (and an `EventID`) is found by a hash
/// lookup of the event's `Channel` (and `EventID`); other groups are
/// checked on every event. A candidate group's full `when` is verified
/// before its rules run.
#[derive(Clone, Debug, Default)]
pub struct SigmaRules {
    rules: Vec<SigmaRule>,
    groups: Vec<Group>,
    /// (foldhash: one lookup per event, where SipHash cost ~1% of the
    /// matching.)
    by_channel: hashbrown::HashMap<String, ChannelIndex>,
    generic: Vec<u32>,
    /// Every field name a group's search or rule reads → its id
    /// ([`matcher::Present`]).
    field_ids: hashbrown::HashMap<Box<str>, u32>,
}

impl SigmaRules {
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn rules(&self) -> &[SigmaRule] {
        &self.rules
    }

    /// Keeps the rules for which `keep` is true (for benchmarks and
    /// selections) and rebuilds the index.
    pub fn retain(&mut self, keep: impl FnMut(&SigmaRule) -> bool) {
        self.rules.retain(keep);
        self.build_index();
    }

    /// Rules whose logsource has no mapping.
    pub fn unmapped(&self) -> Vec<Unmapped> {
        self.rules
            .iter()
            .filter(|r| !r.is_mapped())
            .map(|r| Unmapped {
                file: r.file.clone(),
                id: r.meta.id.clone(),
                logsource: [&r.meta.product, &r.meta.category, &r.meta.service]
                    .iter()
                    .map(|p| p.as_deref().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("/"),
            })
            .collect()
    }

    fn build_index(&mut self) {
        self.groups.clear();
        self.by_channel.clear();
        self.generic.clear();
        let mut group_of: HashMap<*const LogsourceEntry, u32> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            let Some(ls) = &r.logsource else { continue };
            let g = *group_of.entry(Arc::as_ptr(ls)).or_insert_with(|| {
                self.groups.push(Group {
                    entry: ls.clone(),
                    rules: Vec::new(),
                    prefilter: prefilter::Prefilter::default(),
                });
                (self.groups.len() - 1) as u32
            });
            self.groups[g as usize].rules.push(i as u32);
        }
        let mut nodes: Vec<Option<&mut Node>> =
            self.rules.iter_mut().map(|r| Some(&mut r.node)).collect();
        self.field_ids.clear();
        let field_ids = &mut self.field_ids;
        let mut field_id = |name: &str| -> u32 {
            let next = field_ids.len() as u32;
            *field_ids.entry(name.into()).or_insert(next)
        };
        for group in &mut self.groups {
            group.prefilter = prefilter::Prefilter::build(
                group.rules.iter().filter_map(|&r| nodes[r as usize].take()),
                &mut field_id,
            );
        }
        for (g, group) in self.groups.iter().enumerate() {
            let g = g as u32;
            for conj in &group.entry.when {
                let channel = match conj.get("Channel") {
                    Some(CondValue::Str(s)) if !s.ends_with('*') => s.clone(),
                    _ => {
                        push_unique(&mut self.generic, g << 1);
                        continue;
                    }
                };
                let idx = self.by_channel.entry(channel).or_default();
                match conj.get("EventID") {
                    Some(CondValue::Int(id)) => {
                        let covered = u32::from(conj.len() == 2);
                        push_unique(idx.by_event_id.entry(*id).or_default(), g << 1 | covered)
                    }
                    _ => push_unique(&mut idx.any, g << 1 | u32::from(conj.len() == 1)),
                }
            }
        }
    }

    fn candidate_groups(&self, ev: &Event, out: &mut Vec<u32>) {
        if let Some(idx) = ev.get_str("Channel").and_then(|c| self.by_channel.get(c)) {
            out.extend_from_slice(&idx.any);
            let eid = match ev.fields.get("EventID") {
                Some(FieldValue::Int(i)) => Some(*i),
                Some(other) => other.as_str().and_then(|s| s.parse().ok()),
                None => None,
            };
            if let Some(list) = eid.and_then(|e| idx.by_event_id.get(&e)) {
                out.extend_from_slice(list);
            }
        }
        out.extend_from_slice(&self.generic);
        if out.len() > 1 {
            out.sort_unstable();
            // A group found twice: covered if either says so (the covered
            // entry sorts last).
            out.dedup_by(|next, prev| {
                let same = *next >> 1 == *prev >> 1;
                if same {
                    *prev |= *next & 1;
                }
                same
            });
        }
        out.retain_mut(|g| {
            let keep = *g & 1 == 1 || self.groups[(*g >> 1) as usize].entry.matches(ev);
            *g >>= 1;
            keep
        });
    }

    /// The rules that match the event, through the logsource index and
    /// the prefilter.
    pub fn matches<'a>(&'a self, ev: &'a Event) -> impl Iterator<Item = &'a SigmaRule> + 'a {
        let mut out = Vec::new();
        self.for_each_match(ev, &mut Scratch::default(), |r| out.push(r));
        out.into_iter()
    }

    /// Calls `f` for each rule that matches; `scratch` is reused between
    /// calls so that the hot path does not allocate.
    pub fn for_each_match<'a>(
        &'a self,
        ev: &Event,
        scratch: &mut Scratch,
        mut f: impl FnMut(&'a SigmaRule),
    ) {
        self.for_each_candidate(ev, scratch, |rule, leaves, present| {
            if rule.node.eval_marked(ev, leaves, present) {
                f(rule);
            }
        });
    }

    /// Calls `f` with each rule the logsource index and the prefilter
    /// leave for the event, the marked leaves of its group and the event's
    /// fields by id: what [`Node::eval_marked`] reads.
    fn for_each_candidate<'a, 'e>(
        &'a self,
        ev: &'e Event,
        scratch: &mut Scratch,
        mut f: impl FnMut(&'a SigmaRule, &[u64], &matcher::Present<'e>),
    ) {
        scratch.groups.clear();
        self.candidate_groups(ev, &mut scratch.groups);
        scratch.bufs.next_event();
        let mut present = recycle(std::mem::take(&mut scratch.present));
        present.resize(self.field_ids.len(), None);
        for (name, v) in ev.fields.iter() {
            if let Some(&id) = self.field_ids.get(name.as_str()) {
                present[id as usize] = Some(v);
            }
        }
        for &g in &scratch.groups {
            let group = &self.groups[g as usize];
            group.prefilter.mark(ev, &present, &mut scratch.bufs);
            for pos in prefilter::set_bits(&scratch.bufs.rules) {
                f(
                    &self.rules[group.rules[pos] as usize],
                    &scratch.bufs.leaves,
                    &present,
                );
            }
        }
        scratch.present = recycle(present);
    }
}

#[cfg(test)]
impl SigmaRules {
    /// The ids of the rules the prefilter would evaluate for the event
    /// (whatever their verdict), in order.
    fn candidates(&self, ev: &Event) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_candidate(ev, &mut Scratch::default(), |rule, _, _| {
            out.extend(rule.id().map(str::to_owned));
        });
        out.sort();
        out
    }
}

/// An empty vector of borrowed values, its allocation reused for another
/// lifetime (the standard library collects a mapped `IntoIter` in place
/// when the element layouts agree, as they do here).
fn recycle<'b>(mut v: Vec<Option<&FieldValue>>) -> Vec<Option<&'b FieldValue>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

fn push_unique(v: &mut Vec<u32>, x: u32) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Loads every `.yml`/`.yaml` file under the given files and directories
/// (recursively, in sorted order).
pub fn load(paths: &[impl AsRef<Path>], mapping: &Mapping) -> Loaded {
    let entries = shared_entries(mapping);
    let mut files = Vec::new();
    let mut out = Loaded::default();
    for p in paths {
        collect_files(p.as_ref(), &mut files, &mut out.rejected);
    }
    for file in files {
        let text = match std::fs::metadata(&file) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                out.rejected.push(Rejection {
                    file,
                    id: None,
                    reason: format!("file larger than {MAX_FILE_BYTES} bytes"),
                });
                continue;
            }
            _ => match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    out.rejected.push(Rejection {
                        file,
                        id: None,
                        reason: format!("cannot read: {e}"),
                    });
                    continue;
                }
            },
        };
        let one = load_one(&file, &text, mapping, &entries);
        out.merge(one);
    }
    out.rules.build_index();
    out
}

/// The `.yml`/`.yaml` files under the given files and directories
/// (recursively, in sorted order), and the directories that could not be
/// read.
pub fn rule_files(paths: &[impl AsRef<Path>]) -> (Vec<PathBuf>, Vec<Rejection>) {
    let (mut files, mut rejected) = (Vec::new(), Vec::new());
    for p in paths {
        collect_files(p.as_ref(), &mut files, &mut rejected);
    }
    (files, rejected)
}

/// Loads the rules of texts the caller has read (it walked the files
/// itself, e.g. to tell native rule files apart), into one index.
pub fn load_texts<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
    mapping: &Mapping,
) -> Loaded {
    let entries = shared_entries(mapping);
    let mut out = Loaded::default();
    for (file, text) in files {
        out.merge(load_one(file, text, mapping, &entries));
    }
    out.rules.build_index();
    out
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, rejected: &mut Vec<Rejection>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                rejected.push(Rejection {
                    file: path.to_owned(),
                    id: None,
                    reason: format!("cannot read directory: {e}"),
                });
                return;
            }
        };
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect_files(&e, files, rejected);
            } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                files.push(e);
            }
        }
    } else {
        files.push(path.to_owned());
    }
}

/// Loads the rules of one file's text; `file` names it in messages.
pub fn load_str(file: impl AsRef<Path>, text: &str, mapping: &Mapping) -> Loaded {
    let entries = shared_entries(mapping);
    let mut out = load_one(file.as_ref(), text, mapping, &entries);
    out.rules.build_index();
    out
}

fn load_one(file: &Path, text: &str, mapping: &Mapping, entries: &[Arc<LogsourceEntry>]) -> Loaded {
    let mut out = Loaded::default();
    let reject = |out: &mut Loaded, id: Option<String>, reason: String| {
        out.rejected.push(Rejection {
            file: file.to_owned(),
            id,
            reason,
        })
    };
    if nesting_depth(text) > MAX_NESTING {
        reject(
            &mut out,
            scan_id(text),
            format!("nested deeper than {MAX_NESTING} levels"),
        );
        return out;
    }
    let collection = match rsigma_parser::parse_sigma_yaml(text) {
        Ok(c) => c,
        Err(e) => {
            reject(&mut out, scan_id(text), e.to_string());
            return out;
        }
    };
    for e in &collection.errors {
        reject(&mut out, scan_id(text), e.clone());
    }
    for f in &collection.filters {
        out.skipped.push(Rejection {
            file: file.to_owned(),
            id: f.id.clone(),
            reason: "filter documents are not supported".into(),
        });
    }
    if !collection.correlations.is_empty() {
        out.correlations = raw_correlations(file, text);
    }
    for rule in &collection.rules {
        match compile_one(file, rule, mapping, entries) {
            Ok(r) => out.rules.rules.push(r),
            Err(reason) => reject(&mut out, rule.id.clone(), reason),
        }
    }
    out
}

fn compile_one(
    file: &Path,
    rule: &rsigma_parser::SigmaRule,
    mapping: &Mapping,
    entries: &[Arc<LogsourceEntry>],
) -> Result<SigmaRule, String> {
    let ls = &rule.logsource;
    let entry = mapping
        .find(
            ls.product.as_deref(),
            ls.category.as_deref(),
            ls.service.as_deref(),
        )
        .map(|i| entries[i].clone());
    let ctx = compile::Ctx {
        logsource: entry.as_deref(),
        placeholders: &mapping.placeholders,
    };
    let node = compile::compile_rule(&rule.detection.named, &rule.detection.conditions, &ctx)?;
    let confidence = match rule.custom_attributes.get("confidence") {
        None => derived_confidence(rule.status, rule.level),
        Some(v) => v
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .and_then(|n| Confidence::new(n).ok())
            .ok_or_else(|| format!("confidence {v:?} is not an integer 0-100"))?,
    };
    let meta = RuleMeta {
        id: rule.id.clone(),
        name: rule.name.clone(),
        title: rule.title.clone(),
        description: rule.description.clone(),
        level: rule.level.map(|l| l.as_str().to_owned()),
        severity: meta::severity(rule.level),
        status: rule.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        confidence,
        attack: parse_attack(&rule.tags),
        tags: rule.tags.clone(),
        references: rule.references.clone(),
        falsepositives: rule.falsepositives.clone(),
        author: rule.author.clone(),
        date: rule.date.clone(),
        modified: rule.modified.clone(),
        product: ls.product.clone(),
        category: ls.category.clone(),
        service: ls.service.clone(),
    };
    Ok(SigmaRule {
        meta,
        file: file.to_owned(),
        node,
        logsource: entry,
    })
}

/// One `Arc` per logsource entry, shared by the rules of that logsource
/// (the index groups rules by it).
fn shared_entries(mapping: &Mapping) -> Vec<Arc<LogsourceEntry>> {
    mapping.logsources.iter().cloned().map(Arc::new).collect()
}

/// The correlation documents of a file, as written.
fn raw_correlations(file: &Path, text: &str) -> Vec<Correlation> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let Ok(v) = serde_yaml_ng::Value::deserialize(doc) else {
            break;
        };
        if v.get("correlation").is_some() {
            out.push(Correlation {
                file: file.to_owned(),
                id: v.get("id").and_then(|i| i.as_str()).map(str::to_owned),
                document: v,
            });
        }
    }
    out
}

/// The first top-level `id:` of a file, for messages about documents the
/// parser could not read.
fn scan_id(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix("id:")
            .map(|v| v.trim().trim_matches(['\'', '"']).to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// The deepest nesting of the file: parentheses (conditions) and YAML flow
/// brackets within a line, and block indentation (counted in two-space
/// steps). Quotes are not parsed, so this over-counts only for values
/// holding dozens of unbalanced brackets on one line, which no rule needs.
fn nesting_depth(text: &str) -> usize {
    let mut max = 0usize;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        max = max.max(indent / 2);
        let (mut parens, mut flow) = (0usize, 0usize);
        for b in line.bytes() {
            match b {
                b'(' => parens += 1,
                b')' => parens = parens.saturating_sub(1),
                b'[' | b'{' => flow += 1,
                b']' | b'}' => flow = flow.saturating_sub(1),
                _ => continue,
            }
            max = max.max(parens).max(flow);
        }
    }
    max
}

#[cfg(test)]
mod tests;
