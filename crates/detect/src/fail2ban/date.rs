//! Finding and parsing the timestamp in a log line the way fail2ban's
//! `DateDetector` does, so that it can be removed before the failregexes run.
//!
//! Supported `datepattern`s: strptime patterns (`%Y %y %m %d %e %H %k %I %M
//! %S %f %b %a %p %z %Z %j %s`, their `%Ex` exact forms), `{^LN-BEG}`,
//! `{DATE}`, `{UNB}` (accepted, boundaries are not added to custom patterns
//! anyway), `EPOCH`/`Epoch`, `TAI64N`, and several lines (one template each).
//! With no `datepattern`, fail2ban's default templates are tried in order.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::pyre::Re;

/// A timestamp as written in the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail2banTime {
    /// Wall-clock time with no zone in the line: the host's local time.
    Local(NaiveDateTime),
    /// The line said which instant (epoch, TAI64N or a `%z` offset).
    Absolute(DateTime<Utc>),
}

/// fail2ban's default templates (`datedetector.py`), in its order.
const DEFAULTS: &[&str] = &[
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%Exy %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"%H:%M:%S\.%f",
    "TAI64N",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"%b-%d-%Exy %k:%M:%S",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Strptime,
    Epoch,
    Tai64n,
}

#[derive(Clone, Debug)]
struct Template {
    re: Re,
    kind: Kind,
    /// `false` for a pattern without a single strptime directive (such as
    /// guacamole's `^WARNING:()**`): it finds where a dateless line starts,
    /// and fail2ban gives that line the date of the line before.
    dated: bool,
}

/// The compiled date templates of one filter.
#[derive(Clone, Debug)]
pub struct DateMatcher {
    templates: Vec<Template>,
}

/// Where the date is in the line and what it says.
#[derive(Clone, Copy, Debug)]
pub struct FoundDate {
    pub start: usize,
    pub end: usize,
    pub time: Option<Fail2banTime>,
}

impl DateMatcher {
    /// `datepattern` as the filter gives it (after interpolation), or `None`.
    pub fn new(datepattern: Option<&str>) -> Result<DateMatcher, String> {
        let mut templates = Vec::new();
        let lines: Vec<&str> = match datepattern {
            Some(p) => p.lines().map(str::trim).filter(|l| !l.is_empty()).collect(),
            None => vec![""],
        };
        for line in lines {
            let (anchored, rest) = match line.strip_prefix("{^LN-BEG}") {
                Some(r) => (true, r),
                None => (false, line),
            };
            let rest = rest.strip_prefix("{UNB}").unwrap_or(rest);
            if rest.is_empty() {
                for d in DEFAULTS {
                    templates.push(template(d, anchored, true)?);
                }
            } else if rest.contains("{DATE}") {
                for d in DEFAULTS.iter().filter(|d| d.contains('%')) {
                    templates.push(template(&rest.replace("{DATE}", d), anchored, false)?);
                }
            } else {
                templates.push(template(rest, anchored, false)?);
            }
        }
        Ok(DateMatcher { templates })
    }

    /// The first template (in order) that finds a date in `line`; `now`
    /// supplies the year (and date) a template does not have.
    pub fn find(&self, line: &str, now: NaiveDateTime) -> Option<FoundDate> {
        for t in &self.templates {
            let Some(c) = t.re.captures(line) else {
                continue;
            };
            let (start, end) = c.spans.get(1).copied().flatten().or(c.spans[0])?;
            let time = match t.kind {
                Kind::Epoch => epoch(c.name(line, "s"), c.name(line, "f")),
                Kind::Tai64n => tai64n(c.name(line, "tai")),
                Kind::Strptime if !t.dated => None,
                Kind::Strptime => strptime(&|n| c.name(line, n), now),
            };
            return Some(FoundDate { start, end, time });
        }
        None
    }
}

fn template(pattern: &str, anchored: bool, default: bool) -> Result<Template, String> {
    let (py, kind) = match pattern {
        "EPOCH" | "Epoch" => (
            r"(?P<s>\d{10,11})\b(?:\.(?P<f>\d{3,6}))?".to_owned(),
            Kind::Epoch,
        ),
        "TAI64N" => (r"@(?P<tai>[0-9a-f]{24})".to_owned(), Kind::Tai64n),
        p => (strptime_to_regex(p)?, Kind::Strptime),
    };
    let grouped = has_unnamed_group(&py);
    let mut full = String::new();
    if anchored {
        full.push_str(r"^\W{0,2}");
    }
    if default {
        // Default templates are word-bounded, as fail2ban bounds them.
        full.push_str(&format!(r"(\b{py}\b)"));
    } else if grouped {
        full.push_str(&format!("(?:{py})"));
    } else {
        full.push_str(&format!("({py})"));
    }
    let re = Re::new(&full).map_err(|e| format!("datepattern {pattern:?}: {e}"))?;
    let dated = kind != Kind::Strptime || pattern.contains('%');
    Ok(Template { re, kind, dated })
}

fn has_unnamed_group(py: &str) -> bool {
    let b = py.as_bytes();
    (0..b.len())
        .any(|i| b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') && b.get(i + 1) != Some(&b'?'))
}

const DAYS: &str =
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Wed|Thu|Fri|Sat|Sun";
const MONTHS: &str = "January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";

/// strptime directives → Python regex groups (fail2ban's `strptime.py`).
fn strptime_to_regex(p: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = p;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let (exact, r) = match rest.strip_prefix("Ex") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(d) = r.chars().next() else {
            return Err(format!("datepattern {p:?} ends with '%'"));
        };
        rest = &r[d.len_utf8()..];
        let g = match (d, exact) {
            ('%', _) => "%".to_owned(),
            ('Y', false) => r"(?P<Y>\d\d\d\d)".into(),
            ('Y', true) => r"(?P<Y>(?:19|20)\d\d)".into(),
            ('y', _) => r"(?P<y>\d\d)".into(),
            ('m', false) => r"(?P<m>1[0-2]|0?[1-9])".into(),
            ('m', true) => r"(?P<m>1[0-2]|0[1-9])".into(),
            ('d' | 'e', false) => r"(?P<d>3[01]|[12]\d|0?[1-9]| [1-9])".into(),
            ('d' | 'e', true) => r"(?P<d>3[01]|[12]\d|0[1-9])".into(),
            ('H', false) => r"(?P<H>2[0-3]|[01]?\d)".into(),
            ('H', true) => r"(?P<H>2[0-3]|[01]\d)".into(),
            ('k', _) => r"(?P<H>2[0-3]|[01]?\d| \d)".into(),
            ('I', _) => r"(?P<I>1[0-2]|0?[1-9])".into(),
            ('M', _) => r"(?P<M>[0-5]\d)".into(),
            ('S', _) => r"(?P<S>6[01]|[0-5]\d)".into(),
            ('f', _) => r"(?P<f>\d{1,6})".into(),
            ('b' | 'B' | 'h', _) => format!("(?P<b>(?i:{MONTHS}))"),
            ('a' | 'A', _) => format!("(?P<a>(?i:{DAYS}))"),
            ('p', _) => r"(?P<p>(?i:AM|PM))".into(),
            ('z', _) => r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?[0-5]\d)?)".into(),
            ('Z', _) => r"(?P<Z>[A-Z]{3,5})".into(),
            ('j', _) => r"(?P<j>36[0-6]|3[0-5]\d|[12]\d\d|0?[1-9]\d|0?0?[1-9])".into(),
            ('s', _) => r"(?P<s>\d{10,11})".into(),
            (other, _) => {
                return Err(format!(
                    "unsupported strptime directive %{other} in datepattern {p:?}"
                ));
            }
        };
        out.push_str(&g);
    }
    out.push_str(rest);
    Ok(out)
}

fn num(s: Option<&str>) -> Option<u32> {
    s?.trim().parse().ok()
}

fn micros(f: Option<&str>) -> u32 {
    f.map_or(0, |f| {
        let mut s = f.to_owned();
        while s.len() < 6 {
            s.push('0');
        }
        s[..6].parse().unwrap_or(0)
    })
}

fn month_of(name: &str) -> Option<u32> {
    let n = name.get(..3)?.to_ascii_lowercase();
    let i = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == n)?;
    Some(i as u32 + 1)
}

fn strptime<'h>(g: &dyn Fn(&str) -> Option<&'h str>, now: NaiveDateTime) -> Option<Fail2banTime> {
    if let Some(s) = g("s") {
        return epoch(Some(s), g("f"));
    }
    let mut hour = num(g("H")).unwrap_or(0);
    if let Some(h12) = num(g("I")) {
        let pm = g("p").is_some_and(|p| p.eq_ignore_ascii_case("pm"));
        hour = h12 % 12 + if pm { 12 } else { 0 };
    }
    let minute = num(g("M")).unwrap_or(0);
    let second = num(g("S")).unwrap_or(0).min(59);
    let time = chrono::NaiveTime::from_hms_micro_opt(hour, minute, second, micros(g("f")))?;
    let month = num(g("m")).or_else(|| g("b").and_then(month_of));
    let year = num(g("Y")).map(|y| y as i32).or_else(|| {
        num(g("y")).map(|y| {
            if y < 69 {
                2000 + y as i32
            } else {
                1900 + y as i32
            }
        })
    });
    let date = match (month, num(g("d")), num(g("j"))) {
        (Some(m), Some(d), _) => match year {
            Some(y) => NaiveDate::from_ymd_opt(y, m, d)?,
            None => {
                // No year in the line: this year, unless that is more than a
                // day in the future (fail2ban's rule for syslog dates).
                let this = NaiveDate::from_ymd_opt(now.year(), m, d)?;
                if this.and_time(time) > now + TimeDelta::days(1) {
                    NaiveDate::from_ymd_opt(now.year() - 1, m, d)?
                } else {
                    this
                }
            }
        },
        (None, None, Some(j)) => NaiveDate::from_yo_opt(year.unwrap_or(now.year()), j)?,
        // Time only: today, or yesterday when that would be in the future.
        _ if now.time() < time => now.date().pred_opt()?,
        _ => now.date(),
    };
    let local = date.and_time(time);
    match g("z").or_else(|| g("Z").filter(|z| offset_secs(z).is_some())) {
        None => Some(Fail2banTime::Local(local)),
        Some(z) => {
            let secs = offset_secs(z)?;
            Some(Fail2banTime::Absolute(
                (local - TimeDelta::seconds(secs.into())).and_utc(),
            ))
        }
    }
}

fn offset_secs(z: &str) -> Option<i32> {
    // The zone names strptime's %Z knows, plus the North American and
    // central European ones seen in logs (monit).
    let named = match z {
        "Z" | "UTC" | "GMT" => Some(0),
        "EST" => Some(-5),
        "EDT" | "AST" => Some(-4),
        "CST" => Some(-6),
        "CDT" => Some(-5),
        "MST" => Some(-7),
        "MDT" => Some(-6),
        "PST" => Some(-8),
        "PDT" => Some(-7),
        "CET" => Some(1),
        "CEST" => Some(2),
        _ => None,
    };
    if let Some(h) = named {
        return Some(h * 3600);
    }
    if !z.starts_with(['+', '-']) {
        return None;
    }
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let digits: String = z[1..].chars().filter(char::is_ascii_digit).collect();
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..4).and_then(|m| m.parse().ok()).unwrap_or(0);
    Some(sign * (h * 3600 + m * 60))
}

fn epoch(s: Option<&str>, f: Option<&str>) -> Option<Fail2banTime> {
    let secs: i64 = s?.parse().ok()?;
    DateTime::from_timestamp(secs, micros(f) * 1000).map(Fail2banTime::Absolute)
}

fn tai64n(hex: Option<&str>) -> Option<Fail2banTime> {
    let hex = hex?;
    let secs = u64::from_str_radix(hex.get(..16)?, 16)
        .ok()?
        .checked_sub(1 << 62)?;
    let nanos = u32::from_str_radix(hex.get(16..24)?, 16).ok()?;
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos).map(Fail2banTime::Absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2005, 8, 14)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn local(s: &str) -> Fail2banTime {
        Fail2banTime::Local(NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap())
    }

    #[test]
    fn default_templates_find_and_parse() {
        let d = DateMatcher::new(None).unwrap();
        let line = "Aug 14 11:59:59 host sshd[1]: x";
        let f = d.find(line, now()).unwrap();
        assert_eq!(&line[f.start..f.end], "Aug 14 11:59:59");
        assert_eq!(f.time, Some(local("2005-08-14T11:59:59")));
        // More than a day ahead: last year.
        let f = d.find("Dec 31 23:59:59 h x", now()).unwrap();
        assert_eq!(f.time, Some(local("2004-12-31T23:59:59")));
        let line = "[Sat Jun 01 02:17:42 2013] [error] x";
        let f = d.find(line, now()).unwrap();
        assert_eq!(&line[f.start..f.end], "Sat Jun 01 02:17:42 2013");
        let line = "1.2.3.4 - - [31/Oct/2006:09:22:55 -0000] \"GET\"";
        let f = d.find(line, now()).unwrap();
        assert_eq!(&line[f.start..f.end], "31/Oct/2006:09:22:55 -0000");
        assert_eq!(
            f.time,
            Some(Fail2banTime::Absolute(
                "2006-10-31T09:22:55Z".parse().unwrap()
            ))
        );
    }

    #[test]
    fn custom_patterns_and_groups() {
        let d = DateMatcher::new(Some(r"^[^\[]*\[({DATE})")).unwrap();
        let line = "x [2013-01-02 03:04:05] y";
        let f = d.find(line, now()).unwrap();
        assert_eq!(&line[f.start..f.end], "2013-01-02 03:04:05");
        let d = DateMatcher::new(Some("{^LN-BEG}%b %d, %ExY %I:%M:%S %p")).unwrap();
        let f = d.find("Jan 02, 2013 1:04:05 PM x", now()).unwrap();
        assert_eq!(f.time, Some(local("2013-01-02T13:04:05")));
        assert!(DateMatcher::new(Some("%Q")).is_err());
    }
}
