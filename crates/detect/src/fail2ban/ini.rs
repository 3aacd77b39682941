//! fail2ban's configuration files: Python-ConfigParser-like INI with
//! `[INCLUDES] before/after`, `%(name)s` interpolation (incl. `known/`) and
//! fail2ban's `<tag>` substitution.
//!
//! Everything here faces files a user downloaded from somewhere, so every
//! limit (file size, include depth, interpolation depth, expanded size) is
//! checked and reported as a problem, never a panic or a hang.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use riposte_model::Problems;

/// A filter file larger than this is not a filter.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Include chains deeper than this are a loop or an attack.
const MAX_INCLUDE_DEPTH: usize = 8;
/// Python's ConfigParser stops at 10 levels; fail2ban's tag substitution too.
const MAX_DEPTH: usize = 10;
/// More files than this (includes of includes) is a loop or an attack.
const MAX_FILES: usize = 64;
/// `%(x)s` references and `<tag>` lookups one value may take: the depth and
/// size limits alone still allow exponentially many empty expansions.
const MAX_EXPANSIONS: usize = 10_000;
/// An expanded value larger than this is refused (exponential expansion).
const MAX_VALUE_BYTES: usize = 256 * 1024;

type Section = BTreeMap<String, String>;

/// The merged sections of a filter and its includes, in read order: a later
/// file overrides an earlier one and the earlier value stays reachable as
/// `known/name`.
#[derive(Debug, Default, Clone)]
pub struct Ini {
    sections: BTreeMap<String, Section>,
    known: BTreeMap<String, Section>,
    files_read: usize,
}

impl Ini {
    /// Reads `path`, its `before` includes first and its `after` includes and
    /// `.local` companion last, the way fail2ban does.
    pub fn load(path: &Path, problems: &mut Problems) -> Ini {
        let mut ini = Ini::default();
        ini.read_file(path, 0, true, problems);
        ini
    }

    /// Parses one in-memory file without includes (for tests and fuzzing).
    pub fn from_text(file: &str, text: &str, problems: &mut Problems) -> Ini {
        let mut ini = Ini::default();
        for (section, key, value) in parse_text(file, text, problems) {
            ini.set(&section, key, value);
        }
        ini
    }

    fn read_file(&mut self, path: &Path, depth: usize, required: bool, problems: &mut Problems) {
        let file = path.display().to_string();
        if self.files_read >= MAX_FILES {
            problems.push(
                &file,
                "[INCLUDES]",
                format!("more than {MAX_FILES} files included"),
            );
            return;
        }
        if depth > MAX_INCLUDE_DEPTH {
            problems.push(
                &file,
                "[INCLUDES]",
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            );
            return;
        }
        if path.exists() {
            self.files_read += 1;
        }
        let text = match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                problems.push(
                    &file,
                    "",
                    format!("file is larger than {MAX_FILE_BYTES} bytes"),
                );
                return;
            }
            Ok(_) => match std::fs::read(path) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    problems.push(&file, "", format!("cannot read: {e}"));
                    return;
                }
            },
            Err(e) => {
                if required {
                    problems.push(&file, "", format!("cannot read: {e}"));
                }
                return;
            }
        };
        let entries = parse_text(&file, &text, problems);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let includes = |which: &str| -> Vec<PathBuf> {
            entries
                .iter()
                .filter(|(s, k, _)| s == "INCLUDES" && k == which)
                .flat_map(|(_, _, v)| {
                    v.split_whitespace()
                        .map(|p| dir.join(p))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (before, after) = (includes("before"), includes("after"));
        for inc in before {
            self.read_file(&inc, depth + 1, true, problems);
        }
        for (section, key, value) in entries {
            if section != "INCLUDES" {
                self.set(&section, key, value);
            }
        }
        for inc in after {
            // `after = common.local`: .local files are optional.
            self.read_file(&inc, depth + 1, false, problems);
        }
        if path.extension().is_some_and(|e| e == "conf") && depth == 0 {
            self.read_file(&path.with_extension("local"), depth + 1, false, problems);
        }
    }

    fn set(&mut self, section: &str, key: String, value: String) {
        let sec = self.sections.entry(section.to_owned()).or_default();
        if let Some(old) = sec.insert(key.clone(), value) {
            self.known
                .entry(section.to_owned())
                .or_default()
                .insert(key, old);
        }
    }

    /// Whether `section` exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// Option names of `section`, without DEFAULT's.
    pub fn keys(&self, section: &str) -> Vec<String> {
        self.sections
            .get(section)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The value as written in `section` itself (no `[DEFAULT]`).
    pub fn raw_value(&self, section: &str, name: &str) -> Option<&str> {
        self.sections.get(section)?.get(name).map(String::as_str)
    }

    /// The raw (not interpolated) value as ConfigParser sees it: the section,
    /// then `[DEFAULT]`.
    fn raw(&self, section: &str, name: &str) -> Option<&str> {
        if let Some((known, rest)) = name.split_once('/')
            && known == "known"
        {
            // The value before this section's own definition: an earlier
            // file's, else [DEFAULT]'s.
            let own = self
                .sections
                .get(section)
                .is_some_and(|s| s.contains_key(rest));
            return self
                .known
                .get(section)
                .and_then(|s| s.get(rest))
                .or_else(|| {
                    if own && section != "DEFAULT" {
                        self.sections.get("DEFAULT").and_then(|s| s.get(rest))
                    } else {
                        None
                    }
                })
                .or_else(|| self.known.get("DEFAULT").and_then(|s| s.get(rest)))
                .map(String::as_str);
        }
        self.sections
            .get(section)
            .and_then(|s| s.get(name))
            .or_else(|| self.sections.get("DEFAULT").and_then(|s| s.get(name)))
            .map(String::as_str)
    }

    /// The value of `name` in `section`, `%(x)s`-interpolated. `vars` (the
    /// jail's `filter = name[k=v]` options and `[Init]`) take precedence over
    /// the file, as ConfigParser's `vars=` do in fail2ban.
    pub fn get(&self, section: &str, name: &str, vars: &Section) -> Result<Option<String>, String> {
        let raw = match vars.get(name) {
            Some(v) => v.as_str(),
            None => match self.raw(section, name) {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        let budget = Cell::new(MAX_EXPANSIONS);
        self.interpolate(section, raw, vars, 0, &budget).map(Some)
    }

    fn interpolate(
        &self,
        section: &str,
        raw: &str,
        vars: &Section,
        depth: usize,
        budget: &Cell<usize>,
    ) -> Result<String, String> {
        if !raw.contains('%') {
            return Ok(raw.to_owned());
        }
        if depth >= MAX_DEPTH {
            return Err(format!(
                "interpolation nested deeper than {MAX_DEPTH} levels in {raw:?}"
            ));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(r) = rest.strip_prefix("%%") {
                out.push('%');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("%(") {
                let Some(end) = r.find(")s") else {
                    return Err(format!(
                        "bad interpolation syntax in {raw:?}: '%(' without ')s'"
                    ));
                };
                let name = &r[..end];
                if budget.get() == 0 {
                    return Err(format!(
                        "more than {MAX_EXPANSIONS} %(name)s references to expand"
                    ));
                }
                budget.set(budget.get() - 1);
                rest = &r[end + 2..];
                let value = self.lookup_interp(section, name, vars)?;
                let value = match value {
                    Some(v) => v,
                    None => {
                        return Err(format!(
                            "%({name})s refers to an option that does not exist"
                        ));
                    }
                };
                // The referenced value is interpolated in its own section.
                let target = name
                    .split_once('/')
                    .filter(|(s, _)| *s != "known")
                    .map_or(section, |(s, _)| s);
                out.push_str(&self.interpolate(target, &value, vars, depth + 1, budget)?);
                if out.len() > MAX_VALUE_BYTES {
                    return Err(format!("value expands beyond {MAX_VALUE_BYTES} bytes"));
                }
            } else {
                return Err(format!("'%' must be followed by '%' or '(' in {raw:?}"));
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup_interp(
        &self,
        section: &str,
        name: &str,
        vars: &Section,
    ) -> Result<Option<String>, String> {
        if let Some((sec, opt)) = name.split_once('/')
            && sec != "known"
        {
            return Ok(self.raw(sec, opt).map(str::to_owned));
        }
        if let Some(v) = vars.get(name) {
            return Ok(Some(v.clone()));
        }
        Ok(self.raw(section, name).map(str::to_owned))
    }
}

/// fail2ban's recursive `<tag>` substitution: innermost tags first
/// (`<lt_<logtype>/x>` resolves `<logtype>` then `<lt_file/x>`); a tag with no
/// value (`<HOST>`, `<F-USER>`) stays as it is for the regex compiler.
pub fn substitute_tags(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut current = value.to_owned();
    let mut lookups = 0usize;
    // Each round replaces every innermost tag once; values that contain tags
    // are resolved in later rounds, bounded like fail2ban's recursion.
    for _ in 0..=MAX_DEPTH * 4 {
        let mut out = String::with_capacity(current.len());
        let mut changed = false;
        let mut rest = current.as_str();
        while let Some(i) = rest.find('<') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let end = after.find(['>', '<', ' ']);
            match end {
                Some(e) if after.as_bytes()[e] == b'>' && e > 0 => {
                    let tag = &after[..e];
                    lookups += 1;
                    if lookups > MAX_EXPANSIONS {
                        return Err(format!(
                            "more than {MAX_EXPANSIONS} <tag> lookups to expand"
                        ));
                    }
                    match lookup(tag) {
                        Some(v) => {
                            out.push_str(&v);
                            changed = true;
                        }
                        None => {
                            out.push('<');
                            out.push_str(tag);
                            out.push('>');
                        }
                    }
                    rest = &after[e + 1..];
                }
                _ => {
                    out.push('<');
                    rest = after;
                }
            }
            if out.len() > MAX_VALUE_BYTES {
                return Err(format!("value expands beyond {MAX_VALUE_BYTES} bytes"));
            }
        }
        out.push_str(rest);
        if !changed {
            return Ok(out);
        }
        current = out;
    }
    Err(format!(
        "tag substitution does not terminate (recursive tags?) in {value:?}"
    ))
}

/// fail2ban's parser takes `;` after whitespace as the start of a comment
/// (Python's `inline_comment_prefixes`); `#` is not, regexes use it.
fn strip_inline_comment(line: &str) -> &str {
    let b = line.as_bytes();
    match (1..b.len()).find(|&i| b[i] == b';' && b[i - 1].is_ascii_whitespace()) {
        Some(i) => line[..i].trim_end(),
        None => line,
    }
}

/// Splits a file into `(section, key, value)` in file order. Continuation
/// lines (leading whitespace) join with `\n`; full-line `#`/`;` comments and
/// blank lines between options are dropped.
fn parse_text(file: &str, text: &str, problems: &mut Problems) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut section: Option<String> = None;
    let mut open = false; // the last entry may take continuation lines
    for (n, full) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = strip_inline_comment(full);
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            // ConfigParser keeps blank lines inside values; they only matter
            // to multi-line lists, which skip empty items anyway.
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && open {
            if let Some(last) = out.last_mut() {
                last.2.push('\n');
                last.2.push_str(trimmed);
            }
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') && !indented {
            section = Some(trimmed[1..trimmed.len() - 1].trim().to_owned());
            open = false;
            continue;
        }
        let Some(sec) = &section else {
            problems.push(
                file,
                format!("line {lineno}"),
                "option before any [section] header",
            );
            open = false;
            continue;
        };
        let sep = line.find(['=', ':']);
        match sep {
            Some(i) if !line[..i].trim().is_empty() => {
                let key = line[..i].trim().to_owned();
                let value = line[i + 1..].trim().to_owned();
                out.push((sec.clone(), key, value));
                open = true;
            }
            _ => {
                problems.push(
                    file,
                    format!("line {lineno}"),
                    format!("expected 'name = value', found {trimmed:?}"),
                );
                open = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Section {
        Section::new()
    }

    #[test]
    fn continuation_comments_and_interpolation() {
        let mut p = Problems::new();
        let ini = Ini::from_text(
            "t.conf",
            "[DEFAULT]\n_daemon = sshd  ; inline\n# c\n[Definition]\nfailregex = ^a %(_daemon)s\n  ; x\n   ^b 100%%;x\nx: y\n",
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            ini.get("Definition", "failregex", &vars())
                .unwrap()
                .unwrap(),
            "^a sshd\n^b 100%;x"
        );
        assert_eq!(ini.get("Definition", "x", &vars()).unwrap().unwrap(), "y");
    }

    #[test]
    fn vars_override_and_known() {
        let mut p = Problems::new();
        let mut ini = Ini::from_text(
            "t.conf",
            "[Definition]\nmode = normal\nv = %(mode)s\n",
            &mut p,
        );
        ini.set("Definition", "mode".into(), "x-%(known/mode)s".into());
        assert_eq!(
            ini.get("Definition", "mode", &vars()).unwrap().unwrap(),
            "x-normal"
        );
        let mut v = vars();
        v.insert("mode".into(), "aggressive".into());
        assert_eq!(
            ini.get("Definition", "v", &v).unwrap().unwrap(),
            "aggressive"
        );
    }

    #[test]
    fn recursive_interpolation_is_an_error_not_a_hang() {
        let mut p = Problems::new();
        let ini = Ini::from_text("t.conf", "[Definition]\na = %(b)s\nb = %(a)s\n", &mut p);
        let err = ini.get("Definition", "a", &vars()).unwrap_err();
        assert!(err.contains("deeper than 10"), "{err}");
    }

    #[test]
    fn exponential_empty_expansion_is_refused() {
        let mut text = String::from("[Definition]\n");
        for i in 0..10 {
            text.push_str(&format!(
                "v{i} = {}\n",
                format!("%(v{})s", i + 1).repeat(20)
            ));
        }
        text.push_str("v10 =\n");
        let mut p = Problems::new();
        let ini = Ini::from_text("t.conf", &text, &mut p);
        let err = ini.get("Definition", "v0", &vars()).unwrap_err();
        assert_eq!(err, "more than 10000 %(name)s references to expand");
    }

    #[test]
    fn include_loops_stop() {
        let dir = std::env::temp_dir().join(format!("riposte-f2b-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.conf");
        std::fs::write(
            &a,
            "[INCLUDES]\nbefore = a.conf a.conf a.conf a.conf\n[Definition]\nx = 1\n",
        )
        .unwrap();
        let mut p = Problems::new();
        let ini = Ini::load(&a, &mut p);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ini.files_read, 64);
        assert!(p.0.iter().all(|p| p.location == "[INCLUDES]"), "{p:?}");
        assert!(
            p.0.iter()
                .any(|p| p.message == "more than 64 files included"),
            "{p:?}"
        );
    }

    #[test]
    fn tags_resolve_innermost_first() {
        let lookup = |t: &str| match t {
            "logtype" => Some("file".to_owned()),
            "lt_file/x" => Some("<y>X".to_owned()),
            "y" => Some("Y".to_owned()),
            _ => None,
        };
        assert_eq!(
            substitute_tags("a<lt_<logtype>/x>b<HOST>", &lookup).unwrap(),
            "aYXb<HOST>"
        );
        let looping = |_: &str| Some("<a>".to_owned());
        assert!(substitute_tags("<a>", &looping).is_err());
    }

    #[test]
    fn bad_lines_are_reported_with_line_numbers() {
        let mut p = Problems::new();
        Ini::from_text("t.conf", "x = 1\n[Definition]\njunk\n", &mut p);
        let msgs: Vec<String> =
            p.0.iter()
                .map(|p| format!("{} {}", p.location, p.message))
                .collect();
        assert_eq!(
            msgs,
            vec![
                "line 1 option before any [section] header".to_owned(),
                "line 3 expected 'name = value', found \"junk\"".to_owned()
            ]
        );
    }
}
