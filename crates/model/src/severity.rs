use std::fmt;

use serde::{Deserialize, Serialize};

crate::string_enum::string_enum! {
    /// Alert and case severity, ordered from least to most urgent.
    #[derive(PartialOrd, Ord)]
    Severity("severity") {
        Info = "info",
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

/// How sure a rule or a person is that an alert or decision is right, 0-100.
/// Safety rails compare against it, so it cannot hold a value out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Confidence(u8);

#[derive(Debug, thiserror::Error)]
#[error("confidence {0} is out of range (0-100)")]
pub struct ConfidenceError(pub u64);

impl Confidence {
    pub const MAX: Confidence = Confidence(100);

    pub fn new(value: u8) -> Result<Self, ConfidenceError> {
        if value <= 100 {
            Ok(Self(value))
        } else {
            Err(ConfidenceError(value.into()))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Confidence {
    type Error = ConfidenceError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Confidence> for u8 {
    fn from(c: Confidence) -> u8 {
        c.0
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::High > Severity::Medium);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert_eq!(
            "severe".parse::<Severity>().unwrap_err().to_string(),
            "unknown severity \"severe\" (valid: info, low, medium, high, critical)"
        );
    }

    #[test]
    fn confidence_rejects_out_of_range() {
        assert_eq!(Confidence::new(100).unwrap().get(), 100);
        assert!(Confidence::new(101).is_err());
        assert!(serde_json::from_str::<Confidence>("150").is_err());
        assert_eq!(serde_json::from_str::<Confidence>("80").unwrap().get(), 80);
    }
}
