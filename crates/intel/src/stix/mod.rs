//! STIX 2.1: the pattern language ([`pattern`]), matching patterns against
//! observed-data ([`eval`]), and reducing a pattern to the atomic
//! indicators the [`crate::IntelIndex`] matches events with ([`atoms`]).

pub mod eval;
pub mod pattern;

use riposte_model::IndicatorKind;

use pattern::{Comparison, Literal, ObjectPath, Pattern, Step, Test};

/// The indicator kind a STIX object path names, for the properties events
/// carry.
pub fn kind_of_path(path: &ObjectPath) -> Option<IndicatorKind> {
    use IndicatorKind as K;
    let keys: Vec<&str> = path
        .steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(match (path.object_type.as_str(), keys.as_slice()) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => K::Ip,
        ("domain-name", ["value"]) => K::Domain,
        ("url", ["value"]) => K::Url,
        ("email-addr", ["value"]) => K::Email,
        ("email-message", ["from_ref" | "sender_ref", "value"]) => K::Email,
        ("file", ["name"]) => K::Filename,
        ("file", ["hashes", algo]) => match algo.to_ascii_uppercase().replace('-', "").as_str() {
            "MD5" => K::Md5,
            "SHA1" => K::Sha1,
            "SHA256" => K::Sha256,
            _ => return None,
        },
        ("network-traffic", ["extensions", "http-request-ext", "request_header", ua])
            if ua.eq_ignore_ascii_case("user-agent") =>
        {
            K::UserAgent
        }
        _ => return None,
    })
}

fn comparison_atoms(c: &Comparison, out: &mut Vec<(IndicatorKind, String)>) -> Result<(), String> {
    match c {
        Comparison::Or(a, b) => {
            comparison_atoms(a, out)?;
            comparison_atoms(b, out)
        }
        Comparison::And(..) => Err("an AND of comparisons (all must hold on one object)".into()),
        Comparison::Test {
            path,
            negated: false,
            test,
        } => {
            let kind = kind_of_path(path)
                .ok_or_else(|| format!("property {path} is not one events carry"))?;
            let values: Vec<&Literal> = match test {
                Test::Equal {
                    value,
                    not_equal: false,
                } => vec![value],
                Test::In(set) => set.iter().collect(),
                Test::IsSubset(net) if kind == IndicatorKind::Ip => {
                    out.push((IndicatorKind::Cidr, net.clone()));
                    return Ok(());
                }
                _ => return Err(format!("an operator other than = or IN on {path}")),
            };
            for v in values {
                match v {
                    Literal::Str(s) => out.push((kind, s.clone())),
                    _ => return Err(format!("a non-string value for {path}")),
                }
            }
            Ok(())
        }
        Comparison::Test { .. } => Err("a negated comparison".into()),
    }
}

/// The atomic indicators a pattern amounts to, when it is a disjunction of
/// equality (or `IN`, or `ISSUBSET` for addresses) comparisons on properties
/// events carry, in one or several OR-ed observation expressions without
/// qualifiers: `[ipv4-addr:value = '…' OR domain-name:value = '…']`. Any
/// other pattern is not an indicator list, and the reason is returned.
pub fn atoms(p: &Pattern) -> Result<Vec<(IndicatorKind, String)>, String> {
    fn walk(p: &Pattern, out: &mut Vec<(IndicatorKind, String)>) -> Result<(), String> {
        match p {
            Pattern::Observation(c) => comparison_atoms(c, out),
            Pattern::Or(a, b) => {
                walk(a, out)?;
                walk(b, out)
            }
            Pattern::And(..) | Pattern::FollowedBy(..) => {
                Err("several observations (AND / FOLLOWEDBY)".into())
            }
            Pattern::Within(..) | Pattern::StartStop(..) | Pattern::Repeats(..) => {
                Err("a qualifier (WITHIN / START STOP / REPEATS)".into())
            }
        }
    }
    let mut out = Vec::new();
    walk(p, &mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn a(p: &str) -> Result<Vec<(IndicatorKind, String)>, String> {
        atoms(&pattern::parse(p).unwrap())
    }

    #[test]
    fn disjunctions_of_equalities_become_indicators() {
        assert_eq!(
            a("[domain-name:value = 'a.example' OR ipv4-addr:value = '198.51.100.1'] OR [file:hashes.'SHA-256' = 'ab']").unwrap(),
            [
                (IndicatorKind::Domain, "a.example".into()),
                (IndicatorKind::Ip, "198.51.100.1".into()),
                (IndicatorKind::Sha256, "ab".into())
            ]
        );
        assert_eq!(a("[file:hashes.md5 IN ('a', 'b')]").unwrap().len(), 2);
        assert_eq!(
            a("[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c']")
                .unwrap_err(),
            "an AND of comparisons (all must hold on one object)"
        );
        assert_eq!(
            a("[email-message:subject MATCHES '^x']").unwrap_err(),
            "property email-message:subject is not one events carry"
        );
        assert_eq!(
            a("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS").unwrap_err(),
            "a qualifier (WITHIN / START STOP / REPEATS)"
        );
    }
}
