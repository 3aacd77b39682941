//! fail2ban regexes: `<HOST>`/`<F-…>` tag expansion (fail2ban's
//! `Regex._resolveHostTag`) and translation of Python `re` syntax to the
//! `regex` crate, falling back to `fancy-regex` only for the constructs
//! `regex` does not have (lookaround, backreferences, conditionals).

use std::collections::HashSet;

/// fail2ban's `IPAddr.IP_4_RE`.
const IP4: &str =
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}";
/// fail2ban's `IPAddr.IP_6_RE` is
/// `(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`; every
/// repetition ends in `:`, so its lookbehind always holds and is dropped.
const IP6: &str = r"(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|:)";

fn r_ip4() -> String {
    format!(r"(?:::f{{4,6}}:)?(?P<ip4>{IP4})")
}
fn r_ip6() -> String {
    format!(r"(?P<ip6>{IP6})")
}
const R_DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
fn r_addr() -> String {
    format!(r"\[?(?:{}|{})\]?", r_ip4(), r_ip6())
}
fn r_host() -> String {
    format!(r"(?:{}|{})", r_addr(), R_DNS)
}

/// Expands fail2ban's tags in a failregex/prefregex (Python syntax in,
/// Python syntax out). Unknown tags stay literal, as in fail2ban.
pub fn expand_tags(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len() * 2);
    let mut open: HashSet<String> = HashSet::new();
    let mut skiplines = 0;
    let mut rest = regex;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        match tag_at(after) {
            Some(len) => {
                let tag = &after[..len];
                out.push_str(&subst_tag(tag, &mut open, &mut skiplines));
                rest = &after[len..];
            }
            None => {
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a tag matching fail2ban's `</?[\w\-]+/?>` at the start of `s`.
fn tag_at(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().skip(1).peekable();
    if let Some((_, '/')) = chars.peek() {
        chars.next();
    }
    let mut n = 0;
    while let Some(&(_, c)) = chars.peek() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            n += 1;
            chars.next();
        } else {
            break;
        }
    }
    if n == 0 {
        return None;
    }
    if let Some(&(_, '/')) = chars.peek() {
        chars.next();
    }
    match chars.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

fn subst_tag(tag: &str, open: &mut HashSet<String>, skiplines: &mut usize) -> String {
    let tn = &tag[1..tag.len() - 1];
    match tn {
        "HOST" => return r_host(),
        "ADDR" | "F-ADDR/" => return r_addr(),
        "IP4" | "F-IP4/" => return r_ip4(),
        "IP6" | "F-IP6/" => return r_ip6(),
        "DNS" | "F-DNS/" => return R_DNS.to_owned(),
        "CIDR" | "F-CIDR/" => return r"(?P<cidr>\d+)".to_owned(),
        "SUBNET" | "F-SUBNET/" => {
            return format!(r"\[?(?:{}|{})(?:/(?P<cidr>\d+))?\]?", r_ip4(), r_ip6());
        }
        "F-ID/" => return r"(?P<fid>\S+)".to_owned(),
        "F-PORT/" => return r"(?P<fport>\w+)".to_owned(),
        "SKIPLINES" => {
            let n = *skiplines;
            *skiplines += 1;
            return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
        }
        _ => {}
    }
    let (close, name) = match tn.strip_prefix('/') {
        Some(n) => (true, n),
        None => (false, tn),
    };
    let Some(custom) = name.strip_prefix("F-") else {
        return tag.to_owned();
    };
    if custom.is_empty()
        || !custom
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return tag.to_owned();
    }
    if close {
        return if open.contains(custom) {
            ")".to_owned()
        } else {
            tag.to_owned()
        };
    }
    open.insert(custom.to_owned());
    format!("(?P<{}>", group_name(custom))
}

/// The capture name fail2ban gives `<F-NAME>`: lower case, `ID`→`fid`,
/// `PORT`→`fport`.
pub fn group_name(custom: &str) -> String {
    match custom {
        "ID" => "fid".to_owned(),
        "PORT" => "fport".to_owned(),
        _ => custom.to_ascii_lowercase().replace('-', "_"),
    }
}

/// The result of translating one Python regex.
pub struct Translated {
    pub pattern: String,
    /// Uses lookaround, backreferences, conditionals or atomic groups: only
    /// `fancy-regex` can run it.
    pub fancy: bool,
}

/// Python `re` → Rust `regex` syntax. Python's `$` (end, or before a final
/// newline) becomes `(?m:$)`, which is the same on fail2ban's buffer (the
/// line plus one `\n`); `\Z` becomes `\z`; `{` that is not a quantifier, `[`
/// and `&&`/`--`/`~~` inside classes are escaped; unknown escapes are errors.
pub fn translate(py: &str) -> Result<Translated, String> {
    let chars: Vec<char> = py.chars().collect();
    let mut out = String::with_capacity(py.len() + 16);
    let mut fancy = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("pattern ends with a lone backslash".into());
                };
                i += 2;
                match e {
                    '1'..='9' => {
                        fancy = true;
                        out.push('\\');
                        out.push(e);
                    }
                    'A' => out.push_str(r"\A"),
                    'Z' => out.push_str(r"\z"),
                    'b' | 'B' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' => {
                        out.push('\\');
                        out.push(e);
                    }
                    _ => i = escape(&chars, i, e, &mut out)?,
                }
            }
            '[' => i = class(&chars, i, &mut out)?,
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    let rest: String = chars[i + 2..chars.len().min(i + 6)].iter().collect();
                    if rest.starts_with('#') {
                        // (?#comment)
                        match chars[i..].iter().position(|&c| c == ')') {
                            Some(p) => i += p + 1,
                            None => return Err("unterminated (?# comment".into()),
                        }
                        continue;
                    }
                    if rest.starts_with("P=") {
                        let end = chars[i..]
                            .iter()
                            .position(|&c| c == ')')
                            .ok_or("unterminated (?P= backreference")?;
                        let name: String = chars[i + 4..i + end].iter().collect();
                        out.push_str(&format!(r"\k<{name}>"));
                        fancy = true;
                        i += end + 1;
                        continue;
                    }
                    if rest.starts_with('(') {
                        // Python's (?(name)yes|no) / (?(1)yes|no) test a group;
                        // fancy-regex reads a bare word there as a lookahead
                        // expression, so name groups as (?(<name>)...).
                        let close = chars[i + 3..]
                            .iter()
                            .position(|&c| c == ')')
                            .ok_or("unterminated conditional (?(")?;
                        let cond: String = chars[i + 3..i + 3 + close].iter().collect();
                        if cond.is_empty() || !cond.chars().all(|c| c.is_alphanumeric() || c == '_')
                        {
                            return Err(format!("unsupported conditional (?({cond})"));
                        }
                        if cond.chars().all(|c| c.is_ascii_digit()) {
                            out.push_str(&format!("(?({cond})"));
                        } else {
                            out.push_str(&format!("(?(<{cond}>)"));
                        }
                        fancy = true;
                        i += 3 + close + 1;
                        continue;
                    }
                    if rest.starts_with('=')
                        || rest.starts_with('!')
                        || rest.starts_with("<=")
                        || rest.starts_with("<!")
                        || rest.starts_with('>')
                        || rest.starts_with('(')
                    {
                        fancy = true;
                    }
                    if rest.starts_with(|c: char| c.is_ascii_alphabetic() && c != 'P') {
                        // inline flags: (?i) (?s) (?im-s:...)
                        let mut j = i + 2;
                        let mut flags = String::new();
                        while let Some(&f) = chars.get(j) {
                            if f == ')' || f == ':' {
                                break;
                            }
                            match f {
                                'i' | 'm' | 's' | 'x' | '-' => flags.push(f),
                                'u' => {}
                                _ => return Err(format!("unsupported inline flag {f:?}")),
                            }
                            j += 1;
                        }
                        let Some(&end) = chars.get(j) else {
                            return Err("unterminated inline flag group".into());
                        };
                        if flags.is_empty() && end == ')' {
                            i = j + 1;
                            continue;
                        }
                        out.push_str("(?");
                        out.push_str(&flags);
                        out.push(end);
                        i = j + 1;
                        continue;
                    }
                }
                out.push('(');
                i += 1;
            }
            '{' => {
                // A quantifier {m}, {m,}, {,n}, {m,n}; anything else is literal.
                let end = chars[i..].iter().position(|&c| c == '}');
                let body: Option<String> = end.map(|e| chars[i + 1..i + e].iter().collect());
                match body.filter(|b| is_quantifier(b)) {
                    Some(b) => {
                        out.push('{');
                        if b.starts_with(',') {
                            out.push('0');
                        }
                        out.push_str(&b);
                        out.push('}');
                        i += b.chars().count() + 2;
                    }
                    None => {
                        out.push_str(r"\{");
                        i += 1;
                    }
                }
            }
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '$' => {
                out.push_str("(?m:$)");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Translated {
        pattern: out,
        fancy,
    })
}

fn is_quantifier(b: &str) -> bool {
    let (lo, hi) = match b.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (b, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    match hi {
        None => !lo.is_empty() && digits(lo),
        Some(hi) => digits(lo) && digits(hi) && !(lo.is_empty() && hi.is_empty()),
    }
}

/// An escape other than the class shorthands: `\xHH`, `\uHHHH`, `\0`, or an
/// escaped punctuation character (emitted as `\x{..}` so Rust never reads it
/// as its own escape, e.g. `\<` word boundary). Returns the next index.
fn escape(chars: &[char], i: usize, e: char, out: &mut String) -> Result<usize, String> {
    let hex = |n: usize| -> Result<(u32, usize), String> {
        let s: String = chars
            .get(i..i + n)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        if s.len() != n || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("bad \\{e} escape"));
        }
        Ok((
            u32::from_str_radix(&s, 16).map_err(|x| x.to_string())?,
            i + n,
        ))
    };
    let (code, next) = match e {
        'x' => hex(2)?,
        'u' => hex(4)?,
        'U' => hex(8)?,
        '0' => (0, i),
        'a' => (7, i),
        c if c.is_alphanumeric() => return Err(format!("unknown escape \\{c}")),
        c => (c as u32, i),
    };
    if char::from_u32(code).is_none() {
        return Err(format!("escape \\{e} is not a character"));
    }
    out.push_str(&format!(r"\x{{{code:x}}}"));
    Ok(next)
}

/// A character class `[...]` starting at `chars[i]`. Returns the next index.
fn class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '\\' => {
                let Some(&e) = chars.get(i + 1) else { break };
                i += 2;
                match e {
                    'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' => {
                        out.push('\\');
                        out.push(e);
                    }
                    'b' => out.push_str(r"\x{8}"),
                    _ => i = escape(chars, i, e, out)?,
                }
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str(r"\-");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated character class '['".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_named_groups() {
        let r = expand_tags("^<F-USER>\\S+</F-USER> from <HOST> <F-ID/> </F-X> <foo>");
        assert!(
            r.starts_with("^(?P<user>\\S+) from (?:\\[?(?:(?:::f{4,6}:)?(?P<ip4>"),
            "{r}"
        );
        assert!(r.ends_with(" (?P<fid>\\S+) </F-X> <foo>"), "{r}");
    }

    #[test]
    fn python_syntax_translates() {
        let t = translate(r"^a{,3}\<x\>[[\]&&]{ab}$\Z").unwrap();
        assert_eq!(
            t.pattern,
            r"^a{0,3}\x{3c}x\x{3e}[\[\x{5d}\&\&]\{ab\}(?m:$)\z"
        );
        assert!(!t.fancy);
        assert!(regex::Regex::new(&t.pattern).is_ok());
        let t = translate(r"(?P<a>x)(?P=a)(?!y)(?(a)b|c)").unwrap();
        assert!(t.fancy);
        assert_eq!(t.pattern, r"(?P<a>x)\k<a>(?!y)(?(<a>)b|c)");
        // The conditional tests the group, as in Python.
        let re = Re::new(r"^(?P<a>x)?(?(a)y|z)$").unwrap();
        assert!(re.is_match("xy") && re.is_match("z") && !re.is_match("xz") && !re.is_match("y"));
        assert!(translate(r"\q").is_err());
        assert!(translate("[abc").is_err());
    }
}

/// Regexes bigger than this are refused (hostile filters).
const SIZE_LIMIT: usize = 32 << 20;

/// A compiled translated regex: `regex` when it can run it, `fancy-regex`
/// (a backtracker) only for Python features `regex` lacks.
#[derive(Clone, Debug)]
pub enum Re {
    Std(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

impl Re {
    /// Translates `py` (Python syntax, tags already expanded) and compiles it.
    pub fn new(py: &str) -> Result<Re, String> {
        let t = translate(py)?;
        if !t.fancy {
            match regex::RegexBuilder::new(&t.pattern)
                .size_limit(SIZE_LIMIT)
                .build()
            {
                Ok(r) => return Ok(Re::Std(r)),
                Err(e) => return Err(first_line(&e.to_string())),
            }
        }
        fancy_regex::RegexBuilder::new(&t.pattern)
            .delegate_size_limit(SIZE_LIMIT)
            .backtrack_limit(100_000)
            .build()
            .map(|r| Re::Fancy(Box::new(r)))
            .map_err(|e| first_line(&e.to_string()))
    }

    pub fn is_fancy(&self) -> bool {
        matches!(self, Re::Fancy(_))
    }

    /// Named groups by name, and the span of group 1 / the whole match.
    pub fn names(&self) -> Vec<String> {
        let names: Vec<Option<&str>> = match self {
            Re::Std(r) => r.capture_names().collect(),
            Re::Fancy(r) => r.capture_names().collect(),
        };
        names.into_iter().flatten().map(str::to_owned).collect()
    }

    /// Searches `hay`; on a match returns the spans of every group by index
    /// (0 = whole match). A backtracking limit hit counts as no match.
    pub fn captures(&self, hay: &str) -> Option<Caps> {
        match self {
            Re::Std(r) => {
                let c = r.captures(hay)?;
                let spans = (0..c.len())
                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                    .collect();
                let names = r.capture_names().map(|n| n.map(str::to_owned)).collect();
                Some(Caps { spans, names })
            }
            Re::Fancy(r) => {
                let c = r.captures(hay).ok()??;
                let spans = (0..c.len())
                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                    .collect();
                let names = r.capture_names().map(|n| n.map(str::to_owned)).collect();
                Some(Caps { spans, names })
            }
        }
    }

    pub fn is_match(&self, hay: &str) -> bool {
        match self {
            Re::Std(r) => r.is_match(hay),
            Re::Fancy(r) => r.is_match(hay).unwrap_or(false),
        }
    }
}

/// Group spans of one match.
pub struct Caps {
    pub spans: Vec<Option<(usize, usize)>>,
    names: Vec<Option<String>>,
}

impl Caps {
    pub fn name<'h>(&self, hay: &'h str, name: &str) -> Option<&'h str> {
        let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
        self.spans
            .get(i)
            .copied()
            .flatten()
            .map(|(s, e)| &hay[s..e])
    }

    /// The span of every named group that took part in the match.
    pub fn named_spans(&self) -> impl Iterator<Item = (&str, (usize, usize))> + '_ {
        self.names
            .iter()
            .zip(&self.spans)
            .filter_map(|(n, s)| Some((n.as_deref()?, (*s)?)))
    }

    /// Every named group that took part in the match.
    pub fn named<'a, 'h>(&'a self, hay: &'h str) -> impl Iterator<Item = (&'a str, &'h str)> + 'a
    where
        'h: 'a,
    {
        self.names
            .iter()
            .zip(&self.spans)
            .filter_map(move |(n, s)| Some((n.as_deref()?, s.map(|(a, b)| &hay[a..b])?)))
    }
}

fn first_line(s: &str) -> String {
    // regex's errors are multi-line ASCII art; keep the message compact.
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.last().map_or_else(String::new, |l| (*l).to_owned())
}
