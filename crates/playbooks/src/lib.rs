//! Playbooks: a team's response procedure as a versioned YAML file, run
//! durably.
//!
//! ```yaml
//! version: 1
//! id: ssh-bruteforce
//! name: Block SSH brute force
//! mode: enforce
//! trigger:
//!   alert: { rules: [ssh-bruteforce], min_severity: medium, min_confidence: 70 }
//! steps:
//!   - id: case
//!     action: case.attach
//!     with: { key: "ssh:{{ alert.group['source.ip'] }}", title: "SSH brute force from {{ alert.group['source.ip'] }}" }
//!   - id: block
//!     action: decision.ban
//!     with: { scope: ip, value: "{{ alert.group['source.ip'] }}", duration: 4h }
//! ```
//!
//! [`load_playbooks`] validates files and reports every problem with the
//! file and step; [`run`] runs (or resumes) a run through a [`Runtime`]:
//! the engine's executor over the store, the batch transaction that
//! triggered it, or a test's mocks.

mod format;
pub mod mock;
mod runner;
pub mod spec;
mod step;
pub mod testcase;
mod value;

pub use format::{
    AlertTrigger, CaseEvent, CaseTrigger, InputSpec, InputType, Mode, Playbook, PlaybookSet,
    ScheduleTrigger, Triggers, load_playbooks, parse_playbook,
};
pub use runner::{
    ActionResult, Approvals, Effects, NoEffects, Performed, REDACTED, Runtime, Secrets, StepCall,
    run,
};
pub use spec::{ACTIONS, ActionSpec, Effect, Ty};
pub use step::{DEFAULT_MAX_ITEMS, OnError, Retry, Step, StepKind, has_outside_effects, walk};
pub use value::ValueTemplate;
