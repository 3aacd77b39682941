//! Detection: rules that turn events into alerts.
//!
//! Rules are loaded from versioned YAML files ([`load_rules`]) and compiled
//! once into a [`RuleSet`]; a [`Detector`] holds the per-key state of
//! threshold rules and is fed events in order.
//!
//! Rule kinds today:
//! - `match`: every event that matches raises an alert (sensor alerts such as
//!   Suricata's);
//! - `threshold`: `count` matching events with the same `group_by` key within
//!   `window` raise one alert (fail2ban's maxretry/findtime).

mod detector;
pub mod fail2ban;
mod matcher;
mod rule;

pub use detector::{Detector, DetectorStats};
pub use matcher::Matcher;
pub use rule::{Rule, RuleKind, RuleSet, SeverityFrom, load_rules, parse_rules};
