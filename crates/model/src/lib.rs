//! Domain types shared by every part of Riposte.
//!
//! Everything here is plain data: it can be stored, sent over the API and
//! compared in tests. Behaviour lives in the crates that own each stage
//! (ingest, detect, respond, playbooks); dependencies point toward this crate.

mod alert;
mod audit;
mod case;
mod clock;
mod dead_letter;
mod decision;
mod duration;
mod event;
pub mod fields;
mod identity;
mod ids;
mod intel;
mod problems;
mod run;
mod severity;
mod string_enum;
pub mod yaml;

pub use alert::{Alert, RuleInfo};
pub use audit::{Actor, AuditEntry};
pub use case::{Case, CaseComment, CaseStatus};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compact_str::{CompactString, ToCompactString};
pub use dead_letter::DeadLetter;
pub use decision::{
    Decision, DecisionKind, DecisionState, Mode, Origin, Review, ReviewStatus, Scope, canonical_net,
};
pub use duration::{format_duration, parse_duration};
pub use event::{Event, FieldValue, Observable, ObservableKind, SourcePos};
pub use fields::Fields;
pub use identity::{
    ApiKey, InvalidKeyId, InvalidName, InvalidScope, KeyId, KeyScope, KeyState, MAX_NAME_LEN,
    MAX_SCOPE_PLAYBOOK_LEN, Role, User, UserId, validate_key_name, validate_user_name,
};
pub use ids::{AlertId, ApprovalId, AuditId, CaseId, DecisionId, EventId, RunId};
pub use intel::{Indicator, IndicatorKind, Pap, Sighting, Tlp, name_uuid};
pub use problems::{Problem, Problems};
pub use run::{
    Approval, ApprovalStatus, PlaybookRun, RunStatus, RunTrigger, StepRecord, StepStatus,
    TriggerKind,
};
pub use severity::{Confidence, ConfidenceError, Severity};
pub use string_enum::UnknownName;

/// Timestamps are UTC everywhere inside Riposte; local time exists only at the
/// edges (syslog lines without a zone, CLI display).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
