//! Playbooks: a team's response procedure as a versioned YAML file.
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
//! [`load_playbooks`] validates files and reports every problem with the file
//! and step; [`Playbook::run`] executes the steps through an [`ActionHost`],
//! which the engine implements over the store and the responder.

mod action;
mod format;
mod runner;

pub use action::{ACTIONS, Action, ActionCall, ActionError, ActionHost, ActionResult};
pub use format::{AlertTrigger, Mode, Playbook, Step, load_playbooks, parse_playbook};
pub use runner::RunContext;
