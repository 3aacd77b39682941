//! The `notify:` section of riposte.yaml: how Riposte reaches people.
//!
//! ```yaml
//! notify:
//!   smtp:
//!     host: mail.example.org
//!     port: 587                           # default: 25, 587 or 465 by tls
//!     tls: starttls                       # none | starttls | tls
//!     username: riposte                   # optional
//!     password_env: RIPOSTE_SMTP_PASSWORD # or password_file: (mode 600)
//!     from: "Riposte <riposte@example.org>"
//!     timeout: 30s
//! ```

use std::path::{Path, PathBuf};

use riposte_model::yaml::take;
use riposte_model::{Problems, parse_duration};
use riposte_notify::{SmtpConfig, SmtpTls, parse_mailbox};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use crate::config::{SecretSource, read_secret};

pub(crate) const NOTIFY_KEYS: [&str; 1] = ["smtp"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    from: String,
    #[serde(default)]
    timeout: Option<String>,
}

/// Reads the section (its keys already checked); every problem is pushed.
pub(crate) fn parse_notify(
    notify: &Mapping,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> Option<SmtpConfig> {
    let loc = "notify.smtp";
    let raw = take::<RawSmtp>(notify.get("smtp")?.clone(), file, loc, p)?;
    let mut ok = true;
    let tls = match raw.tls.as_deref() {
        None => SmtpTls::default(),
        Some(t) => SmtpTls::parse(t).unwrap_or_else(|| {
            p.push(
                file,
                format!("{loc}.tls"),
                format!("{t:?} is not a TLS mode (valid: {})", SmtpTls::NAMES),
            );
            ok = false;
            SmtpTls::default()
        }),
    };
    if raw.host.trim().is_empty() {
        p.push(file, format!("{loc}.host"), "must not be empty");
        ok = false;
    }
    if let Err(e) = parse_mailbox(&raw.from) {
        p.push(file, format!("{loc}.from"), e.to_string());
        ok = false;
    }
    let timeout = match raw.timeout.as_deref() {
        None => Some(std::time::Duration::from_secs(30)),
        Some(t) => parse_duration(t)
            .map_err(|e| p.push(file, format!("{loc}.timeout"), e))
            .ok()
            .and_then(|d| d.to_std().ok()),
    };
    let password = match (&raw.password_env, &raw.password_file) {
        (None, None) => None,
        (Some(var), None) => Some(read_secret(
            &SecretSource::Env(var),
            file,
            loc,
            "password",
            p,
        )),
        (None, Some(path)) => Some(read_secret(
            &SecretSource::File(resolve(path)),
            file,
            loc,
            "password",
            p,
        )),
        (Some(_), Some(_)) => {
            p.push(
                file,
                loc,
                "give at most one of password_env and password_file",
            );
            Some(None)
        }
    };
    if password.is_some() && raw.username.is_none() {
        p.push(
            file,
            format!("{loc}.username"),
            "missing: a password is given, so the relay needs a user name",
        );
        ok = false;
    }
    // A password that could not be read was reported above.
    let password = match password {
        None => None,
        Some(None) => return None,
        Some(Some(pw)) => Some(pw),
    };
    if !ok {
        return None;
    }
    Some(SmtpConfig {
        host: raw.host,
        port: raw.port.unwrap_or_else(|| tls.default_port()),
        tls,
        username: raw.username,
        password,
        from: raw.from,
        timeout: timeout?,
    })
}

/// The `notify.smtp` key's presence, for checks of keys that need it.
pub(crate) fn has_smtp(notify: &Mapping) -> bool {
    notify
        .get("smtp")
        .is_some_and(|v| !matches!(v, Value::Null))
}
