//! The literals a regex cannot match without: for each regex leaf, a set
//! of lowercased strings one of which every match contains. The shared
//! search of `crate::prefilter` looks for them as it reads the field, so
//! that a regex runs only on values that hold one, and a rule whose only
//! positive conditions are regexes (the costliest rules to evaluate on
//! every event) gets an anchor.
//!
//! The analysis walks the regex's syntax tree: a literal or a small
//! character class is a set of exact strings; a concatenation multiplies
//! the exact sets of neighbouring items and keeps the best run (or the
//! best requirement of an inexact item); an alternation unions its
//! branches' requirements; a repetition of at least one keeps its item's
//! requirement. Best: the longest shortest string. Anything that can
//! match the empty string, or sets that grow past [`MAX_SET`], gives no
//! requirement, so the result is always sound: a value whose lowercased
//! text holds none of the strings cannot match.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Sets of more strings than this are given up.
const MAX_SET: usize = 64;
/// Classes of more characters than this are not enumerated.
const MAX_CLASS: u32 = 8;

type Set = Vec<Vec<u8>>;

/// The strings (ASCII-lowercased) one of which every match of `pattern`,
/// compiled with this case sensitivity, contains; `None` when there is no
/// such set worth searching for.
pub(crate) fn required_literals(pattern: &str, case_insensitive: bool) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .parse(pattern)
        .ok()?;
    let set = analyze(&hir).required?;
    if score(&set) == 0 {
        return None;
    }
    set.into_iter().map(|s| String::from_utf8(s).ok()).collect()
}

/// What one node of the tree says about its matches, lowercased.
struct Facts {
    /// Every match is one of these.
    exact: Option<Set>,
    /// Every match contains one of these.
    required: Option<Set>,
}

impl Facts {
    fn exact(set: Set) -> Facts {
        Facts {
            required: Some(set.clone()),
            exact: Some(set),
        }
    }
    const NONE: Facts = Facts {
        exact: None,
        required: None,
    };
}

/// The length of the shortest string: what a requirement is worth (0:
/// nothing, the empty string is in every value).
fn score(set: &Set) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

/// Keeps the better of two requirements.
fn consider(best: &mut Option<Set>, cand: Option<Set>) {
    let Some(cand) = cand else { return };
    let better = match best {
        None => score(&cand) > 0,
        Some(b) => {
            (score(&cand), std::cmp::Reverse(cand.len())) > (score(b), std::cmp::Reverse(b.len()))
        }
    };
    if better {
        *best = Some(cand);
    }
}

fn dedup(mut set: Set) -> Set {
    set.sort();
    set.dedup();
    set
}

/// Every string of `a` followed by every string of `b`, or `None` when
/// there would be more than [`MAX_SET`].
fn product(a: &Set, b: &Set) -> Option<Set> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    Some(dedup(out))
}

fn class_strings(class: &Class) -> Option<Set> {
    let mut out = Vec::new();
    match class {
        Class::Unicode(c) => {
            let size: u32 = c
                .ranges()
                .iter()
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if size > MAX_CLASS {
                return None;
            }
            for r in c.ranges() {
                for ch in r.start()..=r.end() {
                    let mut buf = [0u8; 4];
                    out.push(ch.encode_utf8(&mut buf).as_bytes().to_ascii_lowercase());
                }
            }
        }
        Class::Bytes(c) => {
            let size: u32 = c
                .ranges()
                .iter()
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if size > MAX_CLASS {
                return None;
            }
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    out.push(vec![b.to_ascii_lowercase()]);
                }
            }
        }
    }
    (!out.is_empty()).then(|| dedup(out))
}

fn analyze(hir: &Hir) -> Facts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts::exact(vec![Vec::new()]),
        HirKind::Literal(lit) => Facts::exact(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(c) => match class_strings(c) {
            Some(set) => Facts::exact(set),
            None => Facts::NONE,
        },
        HirKind::Capture(c) => analyze(&c.sub),
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return Facts::NONE;
            }
            let f = analyze(&r.sub);
            if r.min == 1 && r.max == Some(1) {
                return f;
            }
            Facts {
                exact: None,
                required: f.required,
            }
        }
        HirKind::Concat(children) => {
            let mut best = None;
            let mut run: Set = vec![Vec::new()];
            let mut exact = true;
            for c in children {
                let f = analyze(c);
                match f.exact {
                    Some(e) => match product(&run, &e) {
                        Some(p) => run = p,
                        None => {
                            exact = false;
                            consider(&mut best, Some(std::mem::replace(&mut run, e)));
                        }
                    },
                    None => {
                        exact = false;
                        consider(
                            &mut best,
                            Some(std::mem::replace(&mut run, vec![Vec::new()])),
                        );
                        consider(&mut best, f.required);
                    }
                }
            }
            let exact = exact.then(|| run.clone());
            consider(&mut best, Some(run));
            Facts {
                exact,
                required: best,
            }
        }
        HirKind::Alternation(children) => {
            let facts: Vec<Facts> = children.iter().map(analyze).collect();
            let union = |sets: Option<Vec<&Set>>| -> Option<Set> {
                let sets = sets?;
                let out = dedup(sets.into_iter().flatten().cloned().collect());
                (out.len() <= MAX_SET).then_some(out)
            };
            Facts {
                exact: union(facts.iter().map(|f| f.exact.as_ref()).collect()),
                required: union(facts.iter().map(|f| f.required.as_ref()).collect()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str, ci: bool) -> Option<Vec<String>> {
        required_literals(p, ci)
    }

    #[test]
    fn literals_and_runs() {
        assert_eq!(
            req(r"ipconfig\s+/all", false),
            Some(vec!["ipconfig".into()])
        );
        assert_eq!(req(r"(?i)IpConfig", false), Some(vec!["ipconfig".into()]));
        assert_eq!(
            req(r"\$PSHome\[\s*\d", false),
            Some(vec!["$pshome[".into()])
        );
        // The longest run wins over a shorter one.
        assert_eq!(req(r"ab\s+cdef", false), Some(vec!["cdef".into()]));
    }

    #[test]
    fn alternations_union_their_requirements() {
        assert_eq!(
            req(r"(?:net\s+config|route\s+print)", false),
            Some(vec!["config".into(), "route".into()])
        );
        // A branch that needs nothing makes the whole need nothing.
        assert_eq!(req(r"abc|\w+", false), None);
    }

    #[test]
    fn empty_matches_and_large_classes_need_nothing() {
        assert_eq!(req(r"a*", false), None);
        assert_eq!(req(r"\w+", false), None);
        assert_eq!(req(r"^$", false), None);
        assert_eq!(req(r"(", false), None);
    }

    #[test]
    fn small_classes_are_enumerated_and_case_variants_kept() {
        assert_eq!(
            req(r"x[12]y", false),
            Some(vec!["x1y".into(), "x2y".into()])
        );
        // Unicode case folding: `k` also matches the Kelvin sign, which
        // ASCII lowercasing leaves alone, so both stay in the set.
        let set = req(r"kk", true).unwrap();
        assert!(set.contains(&"kk".to_owned()));
        assert!(set.contains(&"k\u{212A}".to_owned()));
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn every_match_holds_a_required_literal() {
        let cases = [
            (
                r"(?i)\.exe[\x22']?\s+[^\x22]{0,64}werfaultsecure\.exe",
                "X.EXE  WerFaultSecure.exe 1",
            ),
            (r#""(?:\{\d\})+"\s*-f"#, r#"&("{2}{3}{0}" -f 'e')"#),
            (r"\w+`(?:\w+|-|.)`[\w+|\s]", "IN`V`o`Ke"),
            (r"(?s)foo.*bar", "xFOO\nBARx"),
        ];
        for (pat, hay) in cases {
            let re = regex::RegexBuilder::new(pat)
                .case_insensitive(true)
                .build()
                .unwrap();
            let m = re.find(hay).unwrap_or_else(|| panic!("{pat} on {hay}"));
            let lower = m.as_str().to_ascii_lowercase();
            let set = req(pat, true).unwrap_or_else(|| panic!("{pat}"));
            assert!(
                set.iter().any(|s| lower.contains(s.as_str())),
                "{pat}: {set:?}"
            );
        }
    }
}
