//! fail2ban filter compatibility: load a `filter.d/*.conf` (with its
//! includes, `[Init]`, and the jail's `filter = name[opt=value]` options),
//! translate its regexes, and match log lines the way fail2ban does: the
//! date is found and cut out of the line, `prefregex` must match and its
//! `<F-CONTENT>` becomes the text the `failregex`es search, the first
//! failregex that matches decides, and an `ignoreregex` match drops the line.
//!
//! Multi-line filters keep state between lines ([`Fail2banFilter::process_line_at`],
//! in `multiline.rs`): the last `maxlines` lines joined with `\n` (with
//! `<SKIPLINES>`), and the `<F-MLFID>` sessions that join the lines of one
//! connection (`<F-NOFAIL>`, `<F-MLFFORGET>`, `<F-MLFGAINED>`).
//!
//! Not supported (reported as a warning by [`Fail2banFilter::load`]):
//! `journalmatch` (riposte reads the journal through its own sources). See
//! docs/fail2ban.md.

mod date;
mod ini;
mod multiline;
mod pyre;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::NaiveDateTime;
use riposte_model::{Event, Problems};

pub use date::Fail2banTime;
pub use ini::Ini;
pub use multiline::{
    MAX_MAXLINES, MultiLineStats, SESSION_CAPACITY, SESSION_MAX_AGE_SECS, STREAM_CAPACITY,
};

use date::DateMatcher;
use multiline::MultiLine;
use pyre::{Caps, Re};

/// Group names that identify the failing host, in fail2ban's order.
const FAILURE_ID_GROUPS: [&str; 4] = ["fid", "ip4", "ip6", "dns"];
/// What a failregex (or the prefregex) must capture for fail2ban to accept
/// it: a failure id, or the multi-line failure id that finds one later.
const FAILURE_ID_PRESENTS: [&str; 5] = ["fid", "ip4", "ip6", "dns", "mlfid"];

/// A compiled fail2ban filter.
#[derive(Debug)]
pub struct Fail2banFilter {
    /// The file it came from, for messages.
    pub file: String,
    prefregex: Option<Re>,
    failregex: Vec<Re>,
    ignoreregex: Vec<Re>,
    /// `None` for `logtype = journal`: the line has no date to cut.
    date: Option<DateMatcher>,
    /// The filter's `maxlines`: how many lines a failregex sees at once.
    pub maxlines: u32,
    /// State between lines, for multi-line filters only.
    multiline: Option<Mutex<MultiLine>>,
}

/// A clone starts with empty multi-line state.
impl Clone for Fail2banFilter {
    fn clone(&self) -> Self {
        Fail2banFilter {
            file: self.file.clone(),
            prefregex: self.prefregex.clone(),
            failregex: self.failregex.clone(),
            ignoreregex: self.ignoreregex.clone(),
            date: self.date.clone(),
            maxlines: self.maxlines,
            multiline: self
                .multiline
                .as_ref()
                .map(|_| Mutex::new(MultiLine::new(self.maxlines))),
        }
    }
}

/// What a matching line yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail2banMatch {
    /// The failure id: `<F-ID>`, else the IPv4/IPv6 address or host name
    /// `<HOST>`/`<ADDR>` captured, exactly as written in the line.
    pub host: String,
    /// `<F-USER>`, else `<F-ALT_USER>`.
    pub user: Option<String>,
    /// Every other named capture (`<F-NAME>` as `name`, `ip4`, `dns`, …).
    pub fields: BTreeMap<String, String>,
    /// The timestamp fail2ban would have read from the line.
    pub time: Option<Fail2banTime>,
    /// Which failregex matched (0-based).
    pub failregex: usize,
}

/// Counts that tell how a filter was translated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TranslationStats {
    pub failregexes: usize,
    /// Failregexes that need `fancy-regex` (lookaround, backreferences,
    /// conditionals).
    pub fancy: usize,
}

impl Fail2banFilter {
    /// Loads `path` with the jail's filter options (`mode`, `logtype`, …).
    /// Returns the filter and the warnings about what it ignores; every
    /// problem that prevents a faithful translation is an error.
    pub fn load(
        path: &Path,
        options: &BTreeMap<String, String>,
    ) -> Result<(Fail2banFilter, Vec<String>), Problems> {
        let mut problems = Problems::new();
        let ini = Ini::load(path, &mut problems);
        let file = path.display().to_string();
        if !problems.is_empty() {
            return Err(problems);
        }
        Self::from_ini(&file, &ini, options)
    }

    /// Compiles an already-read filter (tests, fuzzing).
    pub fn from_ini(
        file: &str,
        ini: &Ini,
        options: &BTreeMap<String, String>,
    ) -> Result<(Fail2banFilter, Vec<String>), Problems> {
        let mut problems = Problems::new();
        let mut warnings = Vec::new();
        if !ini.has_section("Definition") {
            problems.push(
                file,
                "[Definition]",
                "the filter has no [Definition] section",
            );
            return Err(problems);
        }
        // [Init] and the jail's options override the file, in `%(x)s` and
        // `<x>` alike, as fail2ban's FilterReader does.
        let mut vars = BTreeMap::new();
        for key in ini.keys("Init") {
            // Raw: `vars` are interpolated where they are used.
            if let Some(v) = ini.raw_value("Init", &key) {
                vars.insert(key, v.to_owned());
            }
        }
        vars.extend(options.iter().map(|(k, v)| (k.clone(), v.clone())));

        let errors: RefCell<Vec<String>> = RefCell::new(Vec::new());
        let lookup = |tag: &str| -> Option<String> {
            let (section, name) = match tag.split_once('/') {
                Some(("known", _)) => ("Definition", tag),
                Some((s, n)) => (s, n),
                None => ("Definition", tag),
            };
            match ini.get(section, name, &vars) {
                Ok(v) => v,
                Err(e) => {
                    errors.borrow_mut().push(e);
                    None
                }
            }
        };
        let mut option = |name: &str| -> Option<String> {
            let raw = match ini.get("Definition", name, &vars) {
                Ok(v) => v?,
                Err(e) => {
                    problems.push(file, name, e);
                    return None;
                }
            };
            let value = ini::substitute_tags(&raw, &lookup);
            for e in errors.borrow_mut().drain(..) {
                problems.push(file, name, e);
            }
            match value {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(file, name, e);
                    None
                }
            }
        };
        let prefregex = option("prefregex");
        let failregex = option("failregex");
        let ignoreregex = option("ignoreregex");
        let datepattern = option("datepattern");
        let maxlines = option("maxlines");
        let journalmatch = option("journalmatch");
        // fail2ban's journal backend takes the time from the journal and
        // never looks for a date in the message (filters such as exim's
        // expect it to still be there).
        let journal = option("logtype").is_some_and(|l| l.trim() == "journal");

        let compile = |what: &str, py: &str, problems: &mut Problems| -> Option<Re> {
            let expanded = pyre::expand_tags(py);
            match Re::new(&expanded) {
                Ok(re) => Some(re),
                Err(e) => {
                    problems.push(file, what, format!("cannot translate {py:?}: {e}"));
                    None
                }
            }
        };
        let prefregex = prefregex
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| compile("prefregex", p.trim(), &mut problems));
        let pref_has_id = prefregex.as_ref().is_some_and(|p| {
            p.names()
                .iter()
                .any(|n| FAILURE_ID_PRESENTS.contains(&n.as_str()))
        });
        let mut fail = Vec::new();
        let lines = failregex.unwrap_or_default();
        for (i, py) in lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let what = format!("failregex[{}]", i + 1);
            if let Some(re) = compile(&what, py, &mut problems) {
                if !pref_has_id
                    && !re
                        .names()
                        .iter()
                        .any(|n| FAILURE_ID_PRESENTS.contains(&n.as_str()))
                {
                    problems.push(file, &what, format!("no failure-id group (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS> or <F-ID>) in {py:?}"));
                    continue;
                }
                fail.push(re);
            }
        }
        if fail.is_empty() && problems.is_empty() {
            problems.push(file, "failregex", "the filter has no failregex");
        }
        let mut ignore = Vec::new();
        for (i, py) in ignoreregex
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            if let Some(re) = compile(&format!("ignoreregex[{}]", i + 1), py, &mut problems) {
                ignore.push(re);
            }
        }
        let date = match DateMatcher::new(datepattern.as_deref().filter(|d| !d.trim().is_empty())) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(file, "datepattern", e);
                None
            }
        };
        let maxlines = match maxlines.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(m) => m.parse::<u32>().unwrap_or_else(|_| {
                problems.push(file, "maxlines", format!("expected a number, found {m:?}"));
                1
            }),
        };
        if maxlines == 0 || maxlines > MAX_MAXLINES {
            problems.push(
                file,
                "maxlines",
                format!("{maxlines} is out of range: expected 1 to {MAX_MAXLINES}"),
            );
        }
        if journalmatch
            .as_deref()
            .is_some_and(|j| !j.trim().is_empty())
        {
            warnings.push(format!(
                "{file}: journalmatch is ignored: read the journal with a riposte source and let this rule match its lines"
            ));
        }
        let sessions = fail
            .iter()
            .chain(&prefregex)
            .any(|r| r.names().iter().any(|n| n == "mlfid"));
        match (problems.is_empty(), date) {
            (true, Some(date)) => Ok((
                Fail2banFilter {
                    file: file.to_owned(),
                    prefregex,
                    failregex: fail,
                    ignoreregex: ignore,
                    date: (!journal).then_some(date),
                    maxlines,
                    multiline: (maxlines > 1 || sessions)
                        .then(|| Mutex::new(MultiLine::new(maxlines))),
                },
                warnings,
            )),
            _ => Err(problems),
        }
    }

    pub fn stats(&self) -> TranslationStats {
        TranslationStats {
            failregexes: self.failregex.len(),
            fancy: self.failregex.iter().filter(|r| r.is_fancy()).count(),
        }
    }

    /// Matches one log line, with years missing from the line taken from the
    /// host's clock.
    pub fn match_line(&self, line: &str) -> Option<Fail2banMatch> {
        self.match_line_at(line, chrono::Local::now().naive_local())
    }

    /// [`match_line`](Self::match_line) with an explicit "now" (tests,
    /// replaying old logs). Stateless: every line is judged on its own (see
    /// [`process_line_at`](Self::process_line_at) for multi-line filters).
    pub fn match_line_at(&self, line: &str, now: NaiveDateTime) -> Option<Fail2banMatch> {
        let (mut buf, time) = self.cut_date(line, now);
        buf.push('\n');
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let content;
        let hay: &str = match self.prefilter(&buf, &mut fields)? {
            Some(c) => {
                content = c;
                &content
            }
            None => &buf,
        };
        let (index, caps) = self.first_failregex(hay)?;
        if self.ignoreregex.iter().any(|re| re.is_match(hay)) {
            return None;
        }
        collect(&caps, hay, &mut fields);
        // A gained session (sshd's "Accepted …") is no failure either.
        if fields.contains_key("nofail") || fields.contains_key("mlfgained") {
            return None;
        }
        Self::failure(fields, time, index)
    }

    /// Whether matching needs state kept between lines: `maxlines` > 1 or
    /// an `<F-MLFID>` session id.
    pub fn is_multiline(&self) -> bool {
        self.multiline.is_some()
    }

    /// Matches the next line of the log the way fail2ban does, with the
    /// filter's multi-line state (the last `maxlines` lines, the sessions
    /// of `<F-MLFID>`). Single-line filters take the stateless path.
    pub fn process_line_at(&self, line: &str, now: NaiveDateTime) -> Option<Fail2banMatch> {
        self.process_stream_line_at("", line, now)
    }

    /// [`process_line_at`](Self::process_line_at) for a line of `stream`
    /// (a log): the `maxlines` buffer joins only lines of one stream;
    /// `<F-MLFID>` sessions are shared, their ids name host and process.
    pub fn process_stream_line_at(
        &self,
        stream: &str,
        line: &str,
        now: NaiveDateTime,
    ) -> Option<Fail2banMatch> {
        match &self.multiline {
            None => self.match_line_at(line, now),
            Some(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                state.process(self, stream, line, now)
            }
        }
    }

    /// Counters of the multi-line state (all zero for single-line filters).
    pub fn multiline_stats(&self) -> MultiLineStats {
        self.multiline
            .as_ref()
            .map_or_else(MultiLineStats::default, |s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .stats()
            })
    }

    /// The line without its date, and the date fail2ban reads there.
    fn cut_date(&self, line: &str, now: NaiveDateTime) -> (String, Option<Fail2banTime>) {
        let found = self.date.as_ref().and_then(|d| d.find(line, now));
        let mut buf = String::with_capacity(line.len() + 1);
        match found {
            Some(f) => {
                buf.push_str(&line[..f.start]);
                buf.push_str(&line[f.end..]);
            }
            None => buf.push_str(line),
        }
        (buf, found.and_then(|f| f.time))
    }

    /// Runs `prefregex` over `buf`: `None` when it does not match, else its
    /// `<F-CONTENT>` (with a final newline) when it has one.
    fn prefilter(
        &self,
        buf: &str,
        fields: &mut BTreeMap<String, String>,
    ) -> Option<Option<String>> {
        let Some(pre) = &self.prefregex else {
            return Some(None);
        };
        let caps = pre.captures(buf)?;
        collect(&caps, buf, fields);
        Some(fields.remove("content").map(|c| c + "\n"))
    }

    fn first_failregex(&self, hay: &str) -> Option<(usize, Caps)> {
        // A RegexSet pre-pass was measured slower (its PikeVM dominated the
        // profile): each failregex's own lazy DFA rejects a line faster.
        self.failregex
            .iter()
            .enumerate()
            .find_map(|(i, re)| Some((i, re.captures(hay)?)))
    }

    fn failure(
        fields: BTreeMap<String, String>,
        time: Option<Fail2banTime>,
        index: usize,
    ) -> Option<Fail2banMatch> {
        let host = FAILURE_ID_GROUPS
            .iter()
            .find_map(|g| fields.get(*g).cloned())?;
        let user = fields
            .get("user")
            .or_else(|| fields.get("alt_user"))
            .cloned();
        Some(Fail2banMatch {
            host,
            user,
            fields,
            time,
            failregex: index,
        })
    }
}

/// For a rule that uses `filter`: the event with what the filter extracted
/// from its raw line (`event.original`, else `message`), or `None` when the
/// line does not match. The failure id becomes `source.address` and
/// `source.ip` (or `source.domain` when it is a host name), the user
/// `user.name`, every other capture `fail2ban.<name>`, so `group_by`,
/// `match:` and summaries read them like any field.
pub fn annotate(filter: &Fail2banFilter, event: &Event) -> Option<Event> {
    let line = event
        .original
        .as_deref()
        .or_else(|| event.get_str("message"))?;
    let line = strip_syslog_pri(line);
    // Years missing from the line come from the event's own time.
    // Multi-line filters join lines of one dataset only.
    let m = filter.process_stream_line_at(&event.dataset, line, event.timestamp.naive_utc())?;
    let mut out = event.clone();
    if m.host.parse::<std::net::IpAddr>().is_ok() {
        out.set("source.ip", m.host.as_str());
    } else {
        out.set("source.domain", m.host.as_str());
    }
    out.set("source.address", m.host);
    if let Some(user) = m.user {
        out.set("user.name", user);
    }
    for (name, value) in m.fields {
        out.set(&format!("fail2ban.{name}"), value);
    }
    Some(out)
}

/// Whether [`annotate`] sets (and may overwrite) the field `name`.
pub(crate) fn sets_field(name: &str) -> bool {
    matches!(
        name,
        "source.ip" | "source.domain" | "source.address" | "user.name"
    ) || name.starts_with("fail2ban.")
}

/// Syslog received over the network starts with `<PRI>`; files never do,
/// and fail2ban's filters are written for files.
fn strip_syslog_pri(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('<')
        && let Some(end) = rest.find('>')
        && (1..=3).contains(&end)
        && rest[..end].bytes().all(|b| b.is_ascii_digit())
    {
        return &rest[end + 1..];
    }
    line
}

fn collect(caps: &Caps, hay: &str, fields: &mut BTreeMap<String, String>) {
    for (name, value) in caps.named(hay) {
        // Internal helper groups of fail2ban's own regexes start with '_'.
        if !name.starts_with('_') && !name.starts_with("cond_") && !name.starts_with("skiplines") {
            fields.insert(name.to_owned(), value.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(
        text: &str,
        opts: &[(&str, &str)],
    ) -> Result<(Fail2banFilter, Vec<String>), Problems> {
        let mut p = Problems::new();
        let ini = Ini::from_text("f.conf", text, &mut p);
        assert!(p.is_empty());
        let opts = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Fail2banFilter::from_ini("f.conf", &ini, &opts)
    }

    fn now() -> NaiveDateTime {
        "2005-08-14T12:00:00".parse().unwrap()
    }

    const SSHISH: &str = "[Definition]\n\
        _daemon = sshd\n\
        prefregex = ^\\s*\\S+ %(_daemon)s\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$\n\
        failregex = ^Failed \\S+ for <F-USER>\\S+</F-USER> from <HOST>\n\
        \x20           <mdre-<mode>>\n\
        mdre-normal =\n\
        mdre-aggressive = ^Did not receive identification string from <HOST>\n\
        mode = normal\n\
        ignoreregex = for ignored\n\
        journalmatch = _COMM=sshd\n";

    #[test]
    fn matches_extracts_and_removes_the_date() {
        let (f, warnings) = filter(SSHISH, &[]).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("journalmatch is ignored"));
        let m = f
            .match_line_at(
                "Aug 14 11:00:01 box sshd[42]: Failed password for root from 192.0.2.7 port 22",
                now(),
            )
            .unwrap();
        assert_eq!(m.host, "192.0.2.7");
        assert_eq!(m.user.as_deref(), Some("root"));
        assert_eq!(m.fields.get("ip4").map(String::as_str), Some("192.0.2.7"));
        assert_eq!(
            m.time,
            Some(Fail2banTime::Local("2005-08-14T11:00:01".parse().unwrap()))
        );
        assert_eq!(
            f.match_line_at(
                "Aug 14 11:00:01 box sshd[42]: Failed password for ignored from 192.0.2.7",
                now()
            ),
            None
        );
        let ddos =
            "Aug 14 11:00:01 box sshd[42]: Did not receive identification string from 2001:db8::1";
        assert_eq!(f.match_line_at(ddos, now()), None);
        let (f, _) = filter(SSHISH, &[("mode", "aggressive")]).unwrap();
        assert_eq!(f.match_line_at(ddos, now()).unwrap().host, "2001:db8::1");
    }

    #[test]
    fn annotate_exposes_host_user_and_captures_as_fields() {
        let (f, _) = filter(SSHISH, &[]).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2005-08-14T12:00:00Z")
            .unwrap()
            .to_utc();
        let mut e = Event::new(at, "syslog");
        e.original = Some(
            "<38>Aug 14 11:00:01 box sshd[42]: Failed password for root from bad.example.net"
                .into(),
        );
        let a = annotate(&f, &e).unwrap();
        assert_eq!(a.get_str("source.domain"), Some("bad.example.net"));
        assert_eq!(a.get_str("source.address"), Some("bad.example.net"));
        assert_eq!(a.get_str("source.ip"), None);
        assert_eq!(a.get_str("user.name"), Some("root"));
        assert_eq!(a.get_str("fail2ban.dns"), Some("bad.example.net"));
        // No raw line and no message: nothing to match.
        e.original = None;
        assert!(annotate(&f, &e).is_none());
        e.set(
            "message",
            "Aug 14 11:00:01 box sshd[42]: Failed password for x from 192.0.2.9",
        );
        assert_eq!(
            annotate(&f, &e).unwrap().get_str("source.ip"),
            Some("192.0.2.9")
        );
    }

    #[test]
    fn every_problem_is_listed_with_its_item() {
        let problems = |text: &str| -> Vec<String> {
            let err = filter(text, &[]).unwrap_err();
            err.0
                .iter()
                .map(|p| format!("{}: {}", p.location, p.message))
                .collect()
        };
        let got = problems(
            "[Definition]\nfailregex = ^ok <HOST>\n  ^no host here\n  ^bad [ <HOST>\n  ^%(missing)s\ndatepattern = %Q\n",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("failregex: %(missing)s refers to an option that does not exist"),
            "{got:?}"
        );
        assert!(got[1].starts_with("datepattern: "), "{got:?}");
        // failregex could not be interpolated, so no per-item problems; fix it:
        let got =
            problems("[Definition]\nfailregex = ^ok <HOST>\n  ^no host here\n  ^bad [ <HOST>\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("failregex[2]: no failure-id group"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("failregex[3]: cannot translate"),
            "{got:?}"
        );
    }
}
