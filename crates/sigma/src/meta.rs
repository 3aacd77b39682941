//! Rule metadata, in the shape the detector turns into an alert.

use riposte_model::{Confidence, Severity};
use rsigma_parser::{Level, Status};

/// ATT&CK references parsed from `attack.*` tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attack {
    /// Tactic ids (`TA0002`), from tags like `attack.execution`.
    pub tactics: Vec<String>,
    /// Technique ids (`T1059.001`), from tags like `attack.t1059.001`.
    pub techniques: Vec<String>,
}

/// What a rule says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    pub id: Option<String>,
    /// The rule's `name`, by which correlations may reference it.
    pub name: Option<String>,
    pub title: String,
    pub description: Option<String>,
    /// Sigma's level as written (`informational` … `critical`).
    pub level: Option<String>,
    /// The level as a Riposte severity (`informational` → `info`; a rule
    /// without a level is `medium`).
    pub severity: Severity,
    pub status: Option<String>,
    pub confidence: Confidence,
    pub tags: Vec<String>,
    pub attack: Attack,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

pub(crate) fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Info,
        Some(Level::Low) => Severity::Low,
        None | Some(Level::Medium) => Severity::Medium,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
    }
}

/// [`derived_confidence`] from the words a rule writes (`stable`, `high`);
/// unknown words count as absent.
pub fn confidence_for(status: Option<&str>, level: Option<&str>) -> Confidence {
    derived_confidence(
        status.and_then(|s| s.parse().ok()),
        level.and_then(|l| l.parse().ok()),
    )
}

/// Confidence from status and level when the rule sets none (docs/sigma.md
/// has the table): a base by status, adjusted by level, kept in 5..=95.
pub fn derived_confidence(status: Option<Status>, level: Option<Level>) -> Confidence {
    let base: i32 = match status {
        Some(Status::Stable) => 80,
        Some(Status::Test) => 65,
        Some(Status::Experimental) | None => 50,
        Some(Status::Deprecated) | Some(Status::Unsupported) => 30,
    };
    let adjust: i32 = match level {
        Some(Level::Critical) => 15,
        Some(Level::High) => 10,
        Some(Level::Medium) | None => 0,
        Some(Level::Low) => -10,
        Some(Level::Informational) => -20,
    };
    let v = (base + adjust).clamp(5, 95);
    Confidence::new(u8::try_from(v).unwrap_or(50)).unwrap_or(Confidence::MAX)
}

const TACTICS: &[(&str, &str)] = &[
    ("reconnaissance", "TA0043"),
    ("resource_development", "TA0042"),
    ("initial_access", "TA0001"),
    ("execution", "TA0002"),
    ("persistence", "TA0003"),
    ("privilege_escalation", "TA0004"),
    ("defense_evasion", "TA0005"),
    ("credential_access", "TA0006"),
    ("discovery", "TA0007"),
    ("lateral_movement", "TA0008"),
    ("collection", "TA0009"),
    ("exfiltration", "TA0010"),
    ("command_and_control", "TA0011"),
    ("impact", "TA0040"),
];

/// Tactic and technique ids from `attack.*` tags; other tags are ignored.
pub fn parse_attack(tags: &[String]) -> Attack {
    let mut a = Attack::default();
    for tag in tags {
        let Some(rest) = tag
            .trim()
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_owned)
        else {
            continue;
        };
        let norm = rest.replace('-', "_");
        if let Some((_, id)) = TACTICS.iter().find(|(name, _)| *name == norm) {
            push_unique(&mut a.tactics, (*id).to_owned());
        } else if rest.len() > 1
            && rest.starts_with('t')
            && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
            && rest.as_bytes()[1].is_ascii_digit()
        {
            push_unique(&mut a.techniques, rest.to_ascii_uppercase());
        } else if rest.starts_with("ta") && rest[2..].chars().all(|c| c.is_ascii_digit()) {
            push_unique(&mut a.tactics, rest.to_ascii_uppercase());
        }
    }
    a
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_give_ids() {
        let tags: Vec<String> = [
            "attack.execution",
            "attack.t1059.001",
            "attack.defense-evasion",
            "attack.g0032",
            "cve.2021-44228",
            "attack.T1059.001",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let a = parse_attack(&tags);
        assert_eq!(a.tactics, ["TA0002", "TA0005"]);
        assert_eq!(a.techniques, ["T1059.001"]);
    }

    #[test]
    fn confidence_table() {
        let c = |s, l| derived_confidence(s, l).get();
        assert_eq!(c(Some(Status::Stable), Some(Level::Critical)), 95);
        assert_eq!(c(Some(Status::Stable), Some(Level::High)), 90);
        assert_eq!(c(Some(Status::Test), Some(Level::High)), 75);
        assert_eq!(c(Some(Status::Experimental), Some(Level::Medium)), 50);
        assert_eq!(c(None, None), 50);
        assert_eq!(c(Some(Status::Deprecated), Some(Level::Informational)), 10);
        assert_eq!(c(Some(Status::Experimental), Some(Level::Low)), 40);
    }

    #[test]
    fn levels_map_to_severities() {
        assert_eq!(severity(Some(Level::Informational)), Severity::Info);
        assert_eq!(severity(None), Severity::Medium);
        assert_eq!(severity(Some(Level::Critical)), Severity::Critical);
    }
}
