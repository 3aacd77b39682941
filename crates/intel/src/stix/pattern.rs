//! The STIX 2.1 pattern language (`STIXPattern.g4`): a hand-written lexer
//! and precedence-climbing parser into an AST. Every literal is checked
//! here (timestamps against the grammar and the calendar, base64, hex,
//! regexes compiled, sets homogeneous), so a pattern that parses can only
//! fail later on the data it is matched against.
//!
//! Deviations, both more lenient than the grammar and both what the
//! reference matcher (oasis-open/cti-pattern-matcher) accepts: `START`/
//! `STOP` also take a plain string literal holding a timestamp.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Bounds on hostile patterns: length, nesting, and the size of `IN` sets.
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// `b'…'` (base64) and `h'…'` (hex) both give bytes.
    Bytes(Vec<u8>),
    Timestamp(DateTime<Utc>),
}

impl Literal {
    fn type_name(&self) -> &'static str {
        match self {
            Literal::Int(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Str(_) => "string",
            Literal::Bool(_) => "boolean",
            Literal::Bytes(_) => "binary",
            Literal::Timestamp(_) => "timestamp",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
    Any,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<Step>,
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Any => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderOp {
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Clone, Debug)]
pub enum Test {
    /// `=` (or `!=` when `not_equal`).
    Equal {
        value: Literal,
        not_equal: bool,
    },
    Order {
        op: OrderOp,
        value: Literal,
    },
    In(Vec<Literal>),
    /// The LIKE pattern, already NFC-normalized and turned into a regex.
    Like(regex::Regex),
    /// The regex over text, and over bytes when every character of the
    /// pattern is below U+0100 (binary properties are matched as Latin-1).
    Matches {
        text: regex::Regex,
        bytes: Option<regex::bytes::Regex>,
    },
    IsSubset(String),
    IsSuperset(String),
    Exists,
}

#[derive(Clone, Debug)]
pub enum Comparison {
    And(Box<Comparison>, Box<Comparison>),
    Or(Box<Comparison>, Box<Comparison>),
    Test {
        path: ObjectPath,
        negated: bool,
        test: Test,
    },
}

#[derive(Clone, Debug)]
pub enum Pattern {
    Observation(Comparison),
    And(Box<Pattern>, Box<Pattern>),
    Or(Box<Pattern>, Box<Pattern>),
    FollowedBy(Box<Pattern>, Box<Pattern>),
    /// Seconds, > 0.
    Within(Box<Pattern>, f64),
    StartStop(Box<Pattern>, DateTime<Utc>, DateTime<Utc>),
    Repeats(Box<Pattern>, u32),
}

/// Why a pattern does not parse, with the byte offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid STIX pattern at byte {at}: {message}")]
pub struct PatternError {
    pub at: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Op(&'static str),
    Word(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Timestamp(DateTime<Utc>),
}

fn err<T>(at: usize, message: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        at,
        message: message.into(),
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z`, upper-case `T` and `Z`, a real date.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    if !shape {
        return None;
    }
    let frac = &s[19..s.len() - 1];
    let frac_ok = match frac.strip_prefix('.') {
        Some(digits) => !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()),
        None => frac.is_empty(),
    };
    if !frac_ok {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(&s[..s.len() - 1], "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(t.and_utc())
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn quoted(&mut self, start: usize) -> Result<String, PatternError> {
        // self.pos is just after the opening quote.
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        loop {
            match chars.next() {
                None => return err(start, "unterminated string literal"),
                Some((i, '\'')) => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\'')) => out.push('\''),
                    Some((_, '\\')) => out.push('\\'),
                    _ => {
                        return err(start, "only \\' and \\\\ are escapes in a string literal");
                    }
                },
                Some((_, c)) => out.push(c),
            }
        }
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, PatternError> {
        let mut out = Vec::new();
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            let start = self.pos;
            let c = bytes[self.pos];
            let single = match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.pos += 1;
                    continue;
                }
                b'[' => Some(Tok::LBrack),
                b']' => Some(Tok::RBrack),
                b'(' => Some(Tok::LParen),
                b')' => Some(Tok::RParen),
                b':' => Some(Tok::Colon),
                b',' => Some(Tok::Comma),
                b'*' => Some(Tok::Star),
                b'.' if !bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) => Some(Tok::Dot),
                _ => None,
            };
            if let Some(tok) = single {
                self.pos += 1;
                out.push((start, tok));
                continue;
            }
            let rest = &self.src[self.pos..];
            if let Some(op) = ["!=", "<>", "<=", ">=", "=", "<", ">"]
                .into_iter()
                .find(|op| rest.starts_with(op))
            {
                self.pos += op.len();
                let op = if op == "<>" { "!=" } else { op };
                out.push((start, Tok::Op(op)));
                continue;
            }
            if c == b'\'' {
                self.pos += 1;
                let s = self.quoted(start)?;
                out.push((start, Tok::Str(s)));
                continue;
            }
            if matches!(c, b'h' | b'b' | b't') && bytes.get(self.pos + 1) == Some(&b'\'') {
                self.pos += 2;
                let body = self.quoted(start)?;
                let tok = match c {
                    b'h' => match hex::decode(&body) {
                        Ok(b) => Tok::Bytes(b),
                        Err(_) => return err(start, format!("invalid hex literal h'{body}'")),
                    },
                    b'b' => {
                        use base64::Engine;
                        match base64::engine::general_purpose::STANDARD.decode(&body) {
                            Ok(b) => Tok::Bytes(b),
                            Err(_) => {
                                return err(start, format!("invalid base64 literal b'{body}'"));
                            }
                        }
                    }
                    _ => match parse_timestamp(&body) {
                        Some(t) => Tok::Timestamp(t),
                        None => {
                            return err(
                                start,
                                format!(
                                    "invalid timestamp t'{body}' (expected YYYY-MM-DDTHH:MM:SS[.s]Z)"
                                ),
                            );
                        }
                    },
                };
                out.push((start, tok));
                continue;
            }
            if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' {
                let len = rest
                    .char_indices()
                    .skip(1)
                    .find(|&(_, ch)| !(ch.is_ascii_digit() || ch == '.'))
                    .map_or(rest.len(), |(i, _)| i);
                let text = &rest[..len];
                self.pos += len;
                let tok = if text.contains('.') {
                    match text.parse::<f64>() {
                        Ok(f) if text.matches('.').count() == 1 && !text.ends_with('.') => {
                            Tok::Float(f)
                        }
                        _ => return err(start, format!("invalid number {text:?}")),
                    }
                } else {
                    let digits = text.trim_start_matches(['+', '-']);
                    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
                        return err(start, format!("invalid integer {text:?}"));
                    }
                    match text.parse::<i64>() {
                        Ok(i) => Tok::Int(i),
                        Err(_) => return err(start, format!("integer {text:?} out of range")),
                    }
                };
                out.push((start, tok));
                continue;
            }
            if c.is_ascii_alphabetic() || c == b'_' {
                let len = rest
                    .char_indices()
                    .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'))
                    .map_or(rest.len(), |(i, _)| i);
                self.pos += len;
                out.push((start, Tok::Word(rest[..len].to_owned())));
                continue;
            }
            let ch = rest.chars().next().unwrap_or('?');
            return err(start, format!("unexpected character {ch:?}"));
        }
        Ok(out)
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(p, _)| *p)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|(_, t)| t.clone());
        self.i += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), PatternError> {
        let at = self.at();
        match self.next() {
            Some(t) if &t == want => Ok(()),
            Some(t) => err(at, format!("expected {what}, found {t:?}")),
            None => err(at, format!("expected {what}, found the end")),
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.at(), format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    // observationExpressions: FOLLOWEDBY (lowest), then OR, then AND.
    fn followed_by(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_or()?;
        while self.is_word("FOLLOWEDBY") {
            self.i += 1;
            let right = self.obs_or()?;
            left = Pattern::FollowedBy(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn obs_or(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_and()?;
        while self.is_word("OR") {
            self.i += 1;
            let right = self.obs_and()?;
            left = Pattern::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn obs_and(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.observation()?;
        while self.is_word("AND") {
            self.i += 1;
            let right = self.observation()?;
            left = Pattern::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn observation(&mut self) -> Result<Pattern, PatternError> {
        self.enter()?;
        let at = self.at();
        let mut obs = match self.next() {
            Some(Tok::LBrack) => {
                let c = self.comparison()?;
                self.expect(&Tok::RBrack, "']'")?;
                Pattern::Observation(c)
            }
            Some(Tok::LParen) => {
                let p = self.followed_by()?;
                self.expect(&Tok::RParen, "')'")?;
                p
            }
            Some(t) => return err(at, format!("expected '[' or '(', found {t:?}")),
            None => return err(at, "expected '[' or '(', found the end"),
        };
        // Qualifiers bind to the observation expression before them.
        loop {
            let at = self.at();
            if self.is_word("WITHIN") {
                self.i += 1;
                let secs = match self.next() {
                    Some(Tok::Int(i)) => i as f64,
                    Some(Tok::Float(f)) => f,
                    _ => return err(at, "WITHIN takes a number of seconds"),
                };
                if secs <= 0.0 || !secs.is_finite() {
                    return err(at, format!("WITHIN {secs} SECONDS: must be positive"));
                }
                if !self.is_word("SECONDS") {
                    return err(self.at(), "expected SECONDS");
                }
                self.i += 1;
                obs = Pattern::Within(Box::new(obs), secs);
            } else if self.is_word("REPEATS") {
                self.i += 1;
                let n = match self.next() {
                    Some(Tok::Int(n)) if n >= 1 => u32::try_from(n).map_err(|_| PatternError {
                        at,
                        message: format!("REPEATS {n}: too many"),
                    })?,
                    _ => return err(at, "REPEATS takes a positive integer"),
                };
                if !self.is_word("TIMES") {
                    return err(self.at(), "expected TIMES");
                }
                self.i += 1;
                obs = Pattern::Repeats(Box::new(obs), n);
            } else if self.is_word("START") {
                self.i += 1;
                let start = self.qualifier_time()?;
                if !self.is_word("STOP") {
                    return err(self.at(), "expected STOP");
                }
                self.i += 1;
                let stop = self.qualifier_time()?;
                obs = Pattern::StartStop(Box::new(obs), start, stop);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(obs)
    }

    fn qualifier_time(&mut self) -> Result<DateTime<Utc>, PatternError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Timestamp(t)) => Ok(t),
            Some(Tok::Str(s)) => match parse_timestamp(&s) {
                Some(t) => Ok(t),
                None => err(at, format!("invalid timestamp {s:?}")),
            },
            _ => err(at, "START and STOP take a timestamp"),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, PatternError> {
        let mut left = self.comparison_and()?;
        while self.is_word("OR") {
            self.i += 1;
            let right = self.comparison_and()?;
            left = Comparison::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison_and(&mut self) -> Result<Comparison, PatternError> {
        let mut left = self.prop_test()?;
        while self.is_word("AND") {
            self.i += 1;
            let right = self.prop_test()?;
            left = Comparison::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn prop_test(&mut self) -> Result<Comparison, PatternError> {
        self.enter()?;
        if self.peek() == Some(&Tok::LParen) {
            self.i += 1;
            let c = self.comparison()?;
            self.expect(&Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(c);
        }
        let mut negated = false;
        if self.is_word("NOT") {
            negated = true;
            self.i += 1;
        }
        if self.is_word("EXISTS") {
            self.i += 1;
            let path = self.object_path()?;
            self.depth -= 1;
            return Ok(Comparison::Test {
                path,
                negated,
                test: Test::Exists,
            });
        }
        if negated {
            return err(
                self.at(),
                "NOT goes after the object path (or before EXISTS)",
            );
        }
        let path = self.object_path()?;
        if self.is_word("NOT") {
            negated = true;
            self.i += 1;
        }
        let at = self.at();
        let test = match self.next() {
            Some(Tok::Op(op)) => {
                let value = self.literal()?;
                match op {
                    "=" | "!=" => Test::Equal {
                        value,
                        not_equal: op == "!=",
                    },
                    _ => {
                        if matches!(value, Literal::Bool(_)) {
                            return err(at, format!("{op} cannot compare a boolean"));
                        }
                        let op = match op {
                            ">" => OrderOp::Gt,
                            "<" => OrderOp::Lt,
                            ">=" => OrderOp::Ge,
                            _ => OrderOp::Le,
                        };
                        Test::Order { op, value }
                    }
                }
            }
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => Test::In(self.set()?),
                "LIKE" => {
                    let s = self.string("LIKE")?;
                    Test::Like(like_regex(&s).map_err(|m| PatternError { at, message: m })?)
                }
                "MATCHES" => {
                    let s = self.string("MATCHES")?;
                    matches_regex(&s).map_err(|m| PatternError { at, message: m })?
                }
                "ISSUBSET" => Test::IsSubset(self.string("ISSUBSET")?),
                "ISSUPERSET" => Test::IsSuperset(self.string("ISSUPERSET")?),
                other => return err(at, format!("unknown operator {other}")),
            },
            Some(t) => return err(at, format!("expected an operator, found {t:?}")),
            None => return err(at, "expected an operator, found the end"),
        };
        self.depth -= 1;
        Ok(Comparison::Test {
            path,
            negated,
            test,
        })
    }

    fn string(&mut self, op: &str) -> Result<String, PatternError> {
        let at = self.at();
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => err(at, format!("{op} takes a string literal")),
        }
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let at = self.at();
        Ok(match self.next() {
            Some(Tok::Int(i)) => Literal::Int(i),
            Some(Tok::Float(f)) => Literal::Float(f),
            Some(Tok::Str(s)) => Literal::Str(s),
            Some(Tok::Bytes(b)) => Literal::Bytes(b),
            Some(Tok::Timestamp(t)) => Literal::Timestamp(t),
            Some(Tok::Word(w)) if w == "true" => Literal::Bool(true),
            Some(Tok::Word(w)) if w == "false" => Literal::Bool(false),
            Some(t) => return err(at, format!("expected a literal, found {t:?}")),
            None => return err(at, "expected a literal, found the end"),
        })
    }

    fn set(&mut self) -> Result<Vec<Literal>, PatternError> {
        let at = self.at();
        self.expect(&Tok::LParen, "'(' starting a set")?;
        let mut items = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.i += 1;
            return Ok(items);
        }
        loop {
            items.push(self.literal()?);
            match self.next() {
                Some(Tok::Comma) => {}
                Some(Tok::RParen) => break,
                _ => return err(self.at(), "expected ',' or ')' in a set"),
            }
        }
        let numeric = |l: &Literal| matches!(l, Literal::Int(_) | Literal::Float(_));
        let first = items[0].type_name();
        let homogeneous = items.iter().all(|l| l.type_name() == first) || items.iter().all(numeric);
        if !homogeneous {
            return err(at, "a set mixes literal types");
        }
        Ok(items)
    }

    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let at = self.at();
        let object_type = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => return err(at, "expected an object type"),
        };
        self.expect(&Tok::Colon, "':' after the object type")?;
        let at = self.at();
        let first = match self.next() {
            Some(Tok::Word(w)) if !w.contains('-') => w,
            Some(Tok::Str(s)) => s,
            _ => return err(at, "expected a property name"),
        };
        let mut steps = vec![Step::Key(first)];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.i += 1;
                    let at = self.at();
                    match self.next() {
                        Some(Tok::Word(w)) if !w.contains('-') => steps.push(Step::Key(w)),
                        Some(Tok::Str(s)) => steps.push(Step::Key(s)),
                        _ => return err(at, "expected a property name after '.'"),
                    }
                }
                Some(Tok::LBrack) => {
                    self.i += 1;
                    let at = self.at();
                    match self.next() {
                        Some(Tok::Star) => steps.push(Step::Any),
                        Some(Tok::Int(i)) if i >= 0 => steps.push(Step::Index(i as usize)),
                        Some(Tok::Int(i)) => return err(at, format!("invalid list index {i}")),
                        _ => return err(at, "expected an index or '*'"),
                    }
                    self.expect(&Tok::RBrack, "']'")?;
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object_type, steps })
    }
}

/// LIKE: `%` any run, `_` one character, the rest literal; whole value.
fn like_regex(like: &str) -> Result<regex::Regex, String> {
    use unicode_normalization::UnicodeNormalization;
    let like: String = like.nfc().collect();
    let mut re = String::from("^(?s:");
    for c in like.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    // Python's `.` does not match a newline; keep that.
    let re = re.replace("(?s:", "(?:");
    regex::Regex::new(&re).map_err(|e| format!("LIKE {like:?}: {e}"))
}

fn matches_regex(pattern: &str) -> Result<Test, String> {
    use unicode_normalization::UnicodeNormalization;
    let pattern: String = pattern.nfc().collect();
    let text = regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("MATCHES {pattern:?}: unsupported or invalid regex: {e}"))?;
    let bytes = if pattern.chars().all(|c| (c as u32) < 256) {
        // Characters U+0080..U+00FF stand for single bytes, as in Python.
        let mut latin1 = String::from("(?-u)");
        for c in pattern.chars() {
            if (c as u32) >= 128 {
                latin1.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                latin1.push(c);
            }
        }
        regex::bytes::RegexBuilder::new(&latin1)
            .size_limit(1 << 20)
            .build()
            .ok()
    } else {
        None
    };
    Ok(Test::Matches { text, bytes })
}

/// Parses a pattern; every literal and regex is validated.
pub fn parse(src: &str) -> Result<Pattern, PatternError> {
    if src.len() > MAX_PATTERN_BYTES {
        return err(0, format!("longer than {MAX_PATTERN_BYTES} bytes"));
    }
    let toks = Lexer { src, pos: 0 }.tokens()?;
    let mut p = Parser {
        toks,
        i: 0,
        end: src.len(),
        depth: 0,
    };
    let pattern = p.followed_by()?;
    if p.i < p.toks.len() {
        return err(
            p.at(),
            format!("unexpected {:?} after the pattern", p.toks[p.i].1),
        );
    }
    Ok(pattern)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_qualifiers() {
        let p = parse("[a:x = 1] OR [a:y = 2] FOLLOWEDBY [a:z = 3] WITHIN 5 SECONDS").unwrap();
        let Pattern::FollowedBy(l, r) = p else {
            panic!("{p:?}")
        };
        assert!(matches!(*l, Pattern::Or(..)));
        assert!(matches!(*r, Pattern::Within(_, s) if s == 5.0));
        let p = parse("[a:x = 1] OR [a:y = 2] AND [a:z = 3]").unwrap();
        let Pattern::Or(_, r) = p else { panic!() };
        assert!(matches!(*r, Pattern::And(..)));
    }

    #[test]
    fn paths_literals_and_escapes() {
        let p = parse(
            r"[file:hashes.'SHA-256' = 'it\'s' AND some-type:'a.b'[*].c_ref[0] NOT IN (1, 2.5)]",
        )
        .unwrap();
        let Pattern::Observation(Comparison::And(a, b)) = p else {
            panic!()
        };
        let Comparison::Test {
            path,
            test: Test::Equal { value, .. },
            ..
        } = *a
        else {
            panic!()
        };
        assert_eq!(path.to_string(), "file:hashes.SHA-256");
        assert_eq!(value, Literal::Str("it's".into()));
        let Comparison::Test {
            path,
            negated,
            test: Test::In(set),
        } = *b
        else {
            panic!()
        };
        assert_eq!(path.to_string(), "some-type:a.b[*].c_ref[0]");
        assert!(negated);
        assert_eq!(set, [Literal::Int(1), Literal::Float(2.5)]);
    }

    #[test]
    fn invalid_patterns_say_where_and_why() {
        for (src, msg) in [
            (
                "[a:x = null]",
                "invalid STIX pattern at byte 7: expected a literal, found Word(\"null\")",
            ),
            (
                "[a:x = t'2010-05-21T13:21:43z']",
                "invalid STIX pattern at byte 7: invalid timestamp t'2010-05-21T13:21:43z' (expected YYYY-MM-DDTHH:MM:SS[.s]Z)",
            ),
            (
                "[a:x = t'2010-05-21T13:21:99Z']",
                "invalid STIX pattern at byte 7: invalid timestamp t'2010-05-21T13:21:99Z' (expected YYYY-MM-DDTHH:MM:SS[.s]Z)",
            ),
            (
                "[a:x = 'a'] WITHIN 0 SECONDS",
                "invalid STIX pattern at byte 12: WITHIN 0 SECONDS: must be positive",
            ),
            (
                "[a:x IN ('a', 1)]",
                "invalid STIX pattern at byte 8: a set mixes literal types",
            ),
            (
                "[a:x = 'a'",
                "invalid STIX pattern at byte 10: expected ']', found the end",
            ),
            (
                "[a:x MATCHES '(?<=a)b']",
                "invalid STIX pattern at byte 5: MATCHES \"(?<=a)b\": unsupported or invalid regex: regex parse error:\n    (?<=a)b\n    ^^^^\nerror: look-around, including look-ahead and look-behind, is not supported",
            ),
        ] {
            assert_eq!(parse(src).unwrap_err().to_string(), msg, "{src}");
        }
        assert!(parse(&"(".repeat(100)).is_err());
    }
}
