//! Outgoing notifications. Today: email over SMTP, used by the daily
//! review digest; playbook `notify` actions build on the same mailer.

mod smtp;

pub use smtp::{Mail, Mailer, NotifyError, SmtpConfig, SmtpTls, parse_mailbox};
