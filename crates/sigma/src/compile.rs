//! From rsigma-parser's AST to [`Node`] trees over events.
//!
//! Value modifiers are applied in the order the rule writes them, as
//! pySigma does: encodings (`wide`/`utf16*`, `base64`, `base64offset`,
//! `windash`) transform the value's bytes, `contains`/`startswith`/
//! `endswith` say where it must sit, and `re`, `cidr`, `gt`…, `exists`,
//! `fieldref` change what kind of test the item is.

use std::collections::BTreeMap;

use ipnet::IpNet;
use regex::RegexBuilder;
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaString,
    SigmaValue, SpecialChar, StringPart, detection_name_matches,
};

use crate::mapping::LogsourceEntry;
use crate::matcher::{FieldTest, Kind, Node, NumOp, StrMatcherBuilder, Test};

/// Compiled regexes (the `re` modifier and wildcard values) may use at most
/// this much memory each; bigger ones reject the rule.
pub const REGEX_SIZE_LIMIT: usize = 10 << 20;
/// `windash` writes every dash/slash variant combination; more than this
/// many variants of one value reject the rule.
const WINDASH_MAX_VARIANTS: usize = 625;
/// Values one item may expand to (lists × placeholders × encodings).
const MAX_VALUES_PER_ITEM: usize = 1_000_000;

/// What the compiler needs besides the AST.
pub(crate) struct Ctx<'a> {
    pub logsource: Option<&'a LogsourceEntry>,
    pub placeholders: &'a BTreeMap<String, Vec<String>>,
}

impl Ctx<'_> {
    fn fields(&self, sigma: &str) -> Box<[Box<str>]> {
        match self.logsource {
            Some(ls) => ls
                .event_fields(sigma)
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            None => Box::new([sigma.into()]),
        }
    }
}

/// Compiles the rule's condition(s) over its named detections.
pub(crate) fn compile_rule(
    named: &std::collections::HashMap<String, Detection>,
    conditions: &[ConditionExpr],
    ctx: &Ctx<'_>,
) -> Result<Node, String> {
    if conditions.is_empty() {
        return Err("detection has no condition".into());
    }
    let mut names: Vec<&String> = named.keys().collect();
    names.sort();
    let mut compiled = BTreeMap::new();
    for name in names {
        let node =
            compile_detection(&named[name], ctx).map_err(|e| format!("detection {name:?}: {e}"))?;
        compiled.insert(name.as_str(), node);
    }
    let mut out = Vec::new();
    for c in conditions {
        out.push(compile_condition(c, &compiled)?);
    }
    Ok(one_or(out))
}

fn one_or(mut nodes: Vec<Node>) -> Node {
    if nodes.len() == 1 {
        nodes.pop().unwrap_or(Node::Const(false))
    } else {
        Node::Or(nodes.into())
    }
}

fn one_and(mut nodes: Vec<Node>) -> Node {
    if nodes.len() == 1 {
        nodes.pop().unwrap_or(Node::Const(true))
    } else {
        Node::And(nodes.into())
    }
}

fn compile_condition(c: &ConditionExpr, named: &BTreeMap<&str, Node>) -> Result<Node, String> {
    Ok(match c {
        ConditionExpr::And(items) => Node::And(
            items
                .iter()
                .map(|i| compile_condition(i, named))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Or(items) => Node::Or(
            items
                .iter()
                .map(|i| compile_condition(i, named))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Not(i) => Node::Not(Box::new(compile_condition(i, named)?)),
        ConditionExpr::Identifier(id) => named.get(id.as_str()).cloned().ok_or_else(|| {
            format!(
                "condition names unknown detection {id:?} (defined: {})",
                named.keys().copied().collect::<Vec<_>>().join(", ")
            )
        })?,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let picked: Vec<Node> = named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => detection_name_matches(p, name),
                })
                .map(|(_, n)| n.clone())
                .collect();
            if picked.is_empty() {
                return Err(format!("condition `{c}` selects no detection"));
            }
            match quantifier {
                Quantifier::Any => Node::Or(picked.into()),
                Quantifier::All => Node::And(picked.into()),
                Quantifier::Count(n) => {
                    let n = usize::try_from(*n).unwrap_or(usize::MAX);
                    Node::AtLeast(n, picked.into())
                }
            }
        }
    })
}

fn compile_detection(d: &Detection, ctx: &Ctx<'_>) -> Result<Node, String> {
    match d {
        Detection::AllOf(items) => Ok(one_and(
            items
                .iter()
                .map(|i| compile_item(i, ctx))
                .collect::<Result<_, _>>()?,
        )),
        Detection::AnyOf(ds) => Ok(one_or(
            ds.iter()
                .map(|d| compile_detection(d, ctx))
                .collect::<Result<_, _>>()?,
        )),
        Detection::And(ds) => Ok(one_and(
            ds.iter()
                .map(|d| compile_detection(d, ctx))
                .collect::<Result<_, _>>()?,
        )),
        Detection::Keywords(values) => {
            let item = DetectionItem {
                field: rsigma_parser::FieldSpec::new(None, Vec::new()),
                values: values.clone(),
            };
            compile_item(&item, ctx)
        }
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {
            Err("array-matching blocks (`field[any]`) are not supported".into())
        }
    }
}

/// A value on its way through the modifiers: literal bytes and wildcards.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(Vec<u8>),
    Star,
    One,
}

fn pieces_of(s: &SigmaString) -> Vec<Piece> {
    s.parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => Piece::Lit(t.as_bytes().to_vec()),
            StringPart::Special(SpecialChar::WildcardMulti) => Piece::Star,
            StringPart::Special(SpecialChar::WildcardSingle) => Piece::One,
        })
        .collect()
}

fn plain_bytes(v: &[Piece], modifier: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for p in v {
        match p {
            Piece::Lit(b) => out.extend_from_slice(b),
            _ => return Err(format!("`{modifier}` cannot encode a value with wildcards")),
        }
    }
    Ok(out)
}

fn compile_item(item: &DetectionItem, ctx: &Ctx<'_>) -> Result<Node, String> {
    let mods = &item.field.modifiers;
    let has = |m| mods.contains(&m);
    for m in mods {
        use Modifier::*;
        if matches!(m, Minute | Hour | Day | Week | Month | Year) {
            return Err(format!(
                "timestamp-part modifier {:?} is not supported",
                format!("{m:?}").to_ascii_lowercase()
            ));
        }
    }
    let all = has(Modifier::All);
    let names = item.field.name.as_ref().map(|n| ctx.fields(n));
    let field_node = |test: Test| -> Result<Node, String> {
        match &names {
            Some(n) => Ok(Node::Field(Box::new(FieldTest {
                names: n.clone(),
                test,
                leaf: crate::matcher::NO_LEAF,
                hint: crate::matcher::NO_LEAF,
                ids: Box::default(),
            }))),
            None => Err("this modifier needs a field name".into()),
        }
    };
    let combine = |nodes: Vec<Node>| if all { one_and(nodes) } else { one_or(nodes) };
    let neq = has(Modifier::Neq);
    let wrap = |n: Node| if neq { Node::Not(Box::new(n)) } else { n };

    if item.values.is_empty() {
        return Err("a field item needs at least one value".into());
    }
    if has(Modifier::Exists) {
        let [SigmaValue::Bool(b)] = item.values.as_slice() else {
            return Err("`exists` takes one value, true or false".into());
        };
        return field_node(Test::Exists(*b));
    }
    if has(Modifier::FieldRef) {
        let kind = position_kind(mods);
        let mut nodes = Vec::new();
        for v in &item.values {
            let SigmaValue::String(s) = v else {
                return Err("`fieldref` values are field names".into());
            };
            nodes.push(field_node(Test::FieldRef(kind, ctx.fields(&s.original)))?);
        }
        return Ok(wrap(combine(nodes)));
    }
    let num_op = mods.iter().find_map(|m| match m {
        Modifier::Gt => Some(NumOp::Gt),
        Modifier::Gte => Some(NumOp::Gte),
        Modifier::Lt => Some(NumOp::Lt),
        Modifier::Lte => Some(NumOp::Lte),
        _ => None,
    });
    if let Some(op) = num_op {
        let mut nodes = Vec::new();
        for v in &item.values {
            let n = match v {
                SigmaValue::Integer(i) => *i as f64,
                SigmaValue::Float(x) => *x,
                SigmaValue::String(s) => s
                    .original
                    .trim()
                    .parse()
                    .map_err(|_| format!("{:?} is not a number", s.original))?,
                other => return Err(format!("{other} is not a number")),
            };
            nodes.push(field_node(Test::Num(op, n))?);
        }
        return Ok(wrap(combine(nodes)));
    }
    if has(Modifier::Cidr) {
        let mut nets = Vec::new();
        for v in &item.values {
            let text = v.to_string();
            let net: IpNet = text
                .parse()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{text:?} is not a CIDR network"))?;
            nets.push(net);
        }
        let nodes = if all {
            nets.into_iter()
                .map(|n| field_node(Test::Cidr(vec![n])))
                .collect::<Result<_, _>>()?
        } else {
            vec![field_node(Test::Cidr(nets))?]
        };
        return Ok(wrap(combine(nodes)));
    }
    let cased = has(Modifier::Cased);
    if has(Modifier::Re) {
        let mut regexes = Vec::new();
        for v in &item.values {
            let SigmaValue::String(s) = v else {
                return Err(format!("`re` value {v} is not a string"));
            };
            let re = RegexBuilder::new(&s.original)
                .case_insensitive(has(Modifier::IgnoreCase))
                .multi_line(has(Modifier::Multiline))
                .dot_matches_new_line(has(Modifier::DotAll))
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("bad regular expression {:?}: {e}", s.original))?;
            let need = crate::hint::required_literals(&s.original, has(Modifier::IgnoreCase));
            regexes.push((re, need));
        }
        let groups: Vec<Vec<(regex::Regex, Option<Vec<String>>)>> = if all {
            regexes.into_iter().map(|r| vec![r]).collect()
        } else {
            vec![regexes]
        };
        let mut nodes = Vec::new();
        for g in groups {
            let m = StrMatcherBuilder {
                cased: true,
                literals: Vec::new(),
                regexes: g,
            }
            .build()?;
            nodes.push(str_node(&names, m));
        }
        return Ok(wrap(combine(nodes)));
    }

    // Plain, wildcard and encoded string values.
    let mut null = false;
    let mut values: Vec<Vec<Piece>> = Vec::new();
    for v in &item.values {
        match v {
            SigmaValue::Null => null = true,
            SigmaValue::String(s) => {
                if has(Modifier::Expand) {
                    values.extend(expand(s, ctx)?);
                } else {
                    values.push(pieces_of(s));
                }
            }
            other => values.push(vec![Piece::Lit(other.to_string().into_bytes())]),
        }
    }
    for m in mods {
        values = match m {
            Modifier::Wide => map_plain(values, "wide", utf16le)?,
            Modifier::Utf16be => map_plain(values, "utf16be", |b| {
                String::from_utf8_lossy(b)
                    .encode_utf16()
                    .flat_map(u16::to_be_bytes)
                    .collect()
            })?,
            Modifier::Utf16 => map_plain(values, "utf16", |b| {
                let mut out = vec![0xff, 0xfe];
                out.extend(utf16le(b));
                out
            })?,
            Modifier::Base64 => map_plain(values, "base64", |b| base64(b).into_bytes())?,
            Modifier::Base64Offset => {
                let mut out = Vec::new();
                for v in values {
                    let b = plain_bytes(&v, "base64offset")?;
                    for s in base64_offsets(&b) {
                        out.push(vec![Piece::Lit(s.into_bytes())]);
                    }
                }
                out
            }
            Modifier::WindAsh => {
                let mut out = Vec::new();
                for v in values {
                    out.extend(windash(&v)?);
                }
                out
            }
            _ => values,
        };
        if values.len() > MAX_VALUES_PER_ITEM {
            return Err(format!(
                "the item expands to more than {MAX_VALUES_PER_ITEM} values"
            ));
        }
    }
    // Keywords are full-text terms: found anywhere in a string.
    let kind = match position_kind(mods) {
        Kind::Exact if names.is_none() => Kind::Contains,
        k => k,
    };
    let mut builders: Vec<StrMatcherBuilder> = Vec::new();
    for v in values {
        if all || builders.is_empty() {
            builders.push(StrMatcherBuilder {
                cased,
                ..StrMatcherBuilder::default()
            });
        }
        let b = builders.last_mut().ok_or("no builder")?;
        add_pattern(b, v, kind, cased)?;
    }
    let mut nodes = Vec::new();
    for b in builders {
        nodes.push(str_node(&names, b.build()?));
    }
    let mut node = combine(nodes);
    if null {
        let null_node = field_node(Test::Null)?;
        node = match node {
            Node::Or(c) if c.is_empty() => null_node,
            n if item.values.iter().all(|v| matches!(v, SigmaValue::Null)) => {
                let _ = n;
                null_node
            }
            n => Node::Or(vec![n, null_node].into()),
        };
    }
    Ok(wrap(node))
}

fn str_node(names: &Option<Box<[Box<str>]>>, m: crate::matcher::StrMatcher) -> Node {
    match names {
        Some(n) => Node::Field(Box::new(FieldTest {
            names: n.clone(),
            test: Test::Str(m),
            leaf: crate::matcher::NO_LEAF,
            hint: crate::matcher::NO_LEAF,
            ids: Box::default(),
        })),
        None => Node::Keywords(Box::new(m), crate::matcher::NO_LEAF),
    }
}

fn position_kind(mods: &[Modifier]) -> Kind {
    if mods.contains(&Modifier::Contains) {
        Kind::Contains
    } else if mods.contains(&Modifier::StartsWith) {
        Kind::Prefix
    } else if mods.contains(&Modifier::EndsWith) {
        Kind::Suffix
    } else {
        Kind::Exact
    }
}

fn map_plain(
    values: Vec<Vec<Piece>>,
    modifier: &str,
    f: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<Vec<Vec<Piece>>, String> {
    values
        .into_iter()
        .map(|v| Ok(vec![Piece::Lit(f(&plain_bytes(&v, modifier)?))]))
        .collect()
}

fn utf16le(b: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(b)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `b` as it can appear at any offset inside a
/// longer base64 text, as pySigma's `base64offset` writes them.
pub(crate) fn base64_offsets(b: &[u8]) -> Vec<String> {
    let starts = [0usize, 2, 3];
    let mut out = Vec::new();
    for (i, start) in starts.into_iter().enumerate() {
        let mut shifted = vec![b' '; i];
        shifted.extend_from_slice(b);
        let enc = base64(&shifted);
        // end offsets None, -3, -2 indexed by (len + i) % 3
        let cut = match (b.len() + i) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = enc.len().saturating_sub(cut);
        let s = enc.get(start..end).unwrap_or("").to_owned();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

const DASHES: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];

/// Every variant of a value with each option-introducing `-` or `/` (one
/// not preceded by a word character and followed by one) replaced by the
/// dashes Windows programs accept.
fn windash(v: &[Piece]) -> Result<Vec<Vec<Piece>>, String> {
    let mut out: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut prev_word = false;
    for p in v {
        let Piece::Lit(bytes) = p else {
            for o in &mut out {
                o.push(p.clone());
            }
            prev_word = false;
            continue;
        };
        let text = String::from_utf8_lossy(bytes).into_owned();
        let chars: Vec<char> = text.chars().collect();
        let mut cur = String::new();
        for (ci, &c) in chars.iter().enumerate() {
            let next_word = match chars.get(ci + 1) {
                Some(n) => n.is_alphanumeric() || *n == '_',
                None => false,
            };
            if (c == '-' || c == '/') && !prev_word && next_word {
                let mut next = Vec::new();
                for o in &out {
                    for d in DASHES {
                        let mut o = o.clone();
                        push_lit(&mut o, &cur);
                        push_lit(&mut o, d);
                        next.push(o);
                    }
                }
                if next.len() > WINDASH_MAX_VARIANTS {
                    return Err(format!(
                        "`windash` gives more than {WINDASH_MAX_VARIANTS} variants"
                    ));
                }
                out = next;
                cur.clear();
            } else {
                cur.push(c);
            }
            prev_word = c.is_alphanumeric() || c == '_';
        }
        for o in &mut out {
            push_lit(o, &cur);
        }
    }
    Ok(out)
}

fn push_lit(v: &mut Vec<Piece>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Piece::Lit(b)) = v.last_mut() {
        b.extend_from_slice(s.as_bytes());
    } else {
        v.push(Piece::Lit(s.as_bytes().to_vec()));
    }
}

/// `%name%` placeholders replaced by each of their values.
fn expand(s: &SigmaString, ctx: &Ctx<'_>) -> Result<Vec<Vec<Piece>>, String> {
    let mut out: Vec<Vec<Piece>> = vec![Vec::new()];
    for p in pieces_of(s) {
        let Piece::Lit(bytes) = &p else {
            for o in &mut out {
                o.push(p.clone());
            }
            continue;
        };
        let text = String::from_utf8_lossy(bytes).into_owned();
        let mut rest = text.as_str();
        while let Some(start) = rest.find('%') {
            let after = &rest[start + 1..];
            let Some(len) = after.find('%') else { break };
            let name = &after[..len];
            for o in &mut out {
                push_lit(o, &rest[..start]);
            }
            let values = ctx.placeholders.get(name).ok_or_else(|| {
                format!("`expand`: unknown placeholder %{name}% (define it in a mapping file's `placeholders`)")
            })?;
            let mut next = Vec::new();
            for o in &out {
                for val in values {
                    let mut o = o.clone();
                    push_lit(&mut o, val);
                    next.push(o);
                }
            }
            if next.len() > MAX_VALUES_PER_ITEM {
                return Err("`expand` gives too many values".into());
            }
            out = next;
            rest = &after[len + 1..];
        }
        for o in &mut out {
            push_lit(o, rest);
        }
    }
    Ok(out)
}

/// Adds one value as a literal or, when wildcards remain inside it, as a
/// regex.
fn add_pattern(
    b: &mut StrMatcherBuilder,
    mut v: Vec<Piece>,
    kind: Kind,
    cased: bool,
) -> Result<(), String> {
    let mut anchor_start = matches!(kind, Kind::Exact | Kind::Prefix);
    let mut anchor_end = matches!(kind, Kind::Exact | Kind::Suffix);
    while v.first() == Some(&Piece::Star) {
        v.remove(0);
        anchor_start = false;
    }
    while v.last() == Some(&Piece::Star) {
        v.pop();
        anchor_end = false;
    }
    if v.iter().all(|p| matches!(p, Piece::Lit(_))) {
        let mut lit = Vec::new();
        for p in &v {
            if let Piece::Lit(x) = p {
                lit.extend_from_slice(x);
            }
        }
        let lit = String::from_utf8_lossy(&lit).into_owned();
        let kind = match (anchor_start, anchor_end) {
            (true, true) => Kind::Exact,
            (true, false) => Kind::Prefix,
            (false, true) => Kind::Suffix,
            (false, false) => Kind::Contains,
        };
        b.literals.push((kind, lit));
        return Ok(());
    }
    let mut re = String::from(if cased { "(?s)" } else { "(?si)" });
    if anchor_start {
        re.push('^');
    }
    for p in &v {
        match p {
            Piece::Lit(x) => re.push_str(&regex::escape(&String::from_utf8_lossy(x))),
            Piece::Star => re.push_str(".*"),
            Piece::One => re.push('.'),
        }
    }
    if anchor_end {
        re.push('$');
    }
    let need = crate::hint::required_literals(&re, false);
    let re = RegexBuilder::new(&re)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("wildcard value too large for a regex: {e}"))?;
    b.regexes.push((re, need));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn base64offset_gives_pysigmas_three_variants() {
        // pySigma: "/bin/bash" -> L2Jpbi9iYXNo, 9iaW4vYmFza, vYmluL2Jhc2
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn windash_variants() {
        let v = vec![Piece::Lit(b"net -u x-y".to_vec())];
        let out = windash(&v).unwrap();
        assert_eq!(out.len(), 5);
        assert_eq!(out[1], vec![Piece::Lit(b"net /u x-y".to_vec())]);
    }
}
