//! Typed identifiers. UUIDv7 so that ids sort by creation time and can be
//! minted before an insert (a batch links alerts, cases and decisions inside
//! one transaction).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies one normalized event.
    EventId
);
id_type!(
    /// Identifies one alert raised by a rule.
    AlertId
);
id_type!(
    /// Identifies one case (a group of related alerts).
    CaseId
);
id_type!(
    /// Identifies one decision (ban, …).
    DecisionId
);
id_type!(
    /// Identifies one playbook run.
    RunId
);
id_type!(
    /// Identifies one audit log entry.
    AuditId
);
