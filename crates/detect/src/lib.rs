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
//!   `window` raise one alert (fail2ban's maxretry/findtime), or `count`
//!   distinct values of `distinct` (value_count);
//! - `leaky`: CrowdSec's leaky bucket (`capacity`, `leak_speed`).
//!
//! Both stateful kinds take `blackhole` (silence per key after an alert).
//! [`CorrelationEngine`] runs Sigma correlation rules over base-rule
//! matches; the per-key windows of both live in one `window` module.

mod correlation;
mod detector;
pub mod fail2ban;
mod matcher;
mod rule;
mod sigma;
mod window;

pub use correlation::{
    Condition, Correlation, CorrelationEngine, CorrelationHit, CorrelationStats, CorrelationType,
    MAX_EVIDENCE, parse_correlation,
};
pub use detector::{Detector, DetectorStats};
pub use matcher::Matcher;
pub use rule::{Rule, RuleKind, RuleSet, SeverityFrom, load_rules, load_rules_with, parse_rules};
pub use sigma::SigmaSet;
