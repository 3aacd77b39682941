//! Closed sets of names (severities, scopes, states): one definition gives
//! the serde names, `as_str`, `Display`, `FromStr` and the "valid:" list in
//! errors, so the list in a message can never drift from the set.

use std::fmt;

/// A name that is not in a closed set; the message lists the valid ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub valid: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?} (valid: {})",
            self.what,
            self.value,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

impl From<UnknownName> for String {
    fn from(e: UnknownName) -> String {
        e.to_string()
    }
}

/// Defines `pub enum $name` with variants spelled `$text` in serde, `as_str`,
/// `Display` (padded) and case-insensitive `FromStr`. Extra derives (e.g.
/// `PartialOrd, Ord`) go in the leading attributes.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| $crate::UnknownName {
                        what: $what,
                        value: s.to_owned(),
                        valid: Self::NAMES,
                    })
            }
        }
    };
}
pub(crate) use string_enum;
