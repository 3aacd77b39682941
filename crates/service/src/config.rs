//! `riposte.yaml`: parsed into raw values, then validated into types that
//! cannot be wrong, with every mistake reported at once.
//!
//! ```yaml
//! version: 1
//! data_dir: ./riposte-data            # default: riposte-data beside this file
//! store: sqlite://riposte-data/riposte.db   # or postgres://user@host/db
//! api: { listen: 127.0.0.1:8080 }     # see api_config.rs (TLS, hosts, proxies, limits)
//! auth: { secret_file: riposte-data/auth.secret }
//! rules: [rules/]                     # files or directories, relative to this file
//! sigma: { mapping: sigma-mapping.yml }  # optional, over the built-in mapping
//! playbooks: [playbooks/]
//! sources:                           # see source_config.rs
//!   - { type: file, path: /var/log/auth.log, format: syslog }
//! respond:                           # safety rails: see respond_config.rs
//!   allowlist: [10.0.0.0/8, 192.0.2.1]
//!   max_duration: 7d
//!   sweep_interval: 30s
//! enforcers:
//!   - { type: file, path: riposte-data/blocklist.txt }
//! notify:                            # see notify_config.rs
//!   smtp: { host: 127.0.0.1, tls: none, from: riposte@example.org }
//! ingest: { max_line_bytes: 1048576, batch_lines: 1000, poll_interval: 250ms }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use riposte_engine::IngestLimits;
use riposte_model::yaml::{check_keys, display_value, parse_document, scalar_text, take};
use riposte_model::{Problems, parse_duration};
use riposte_respond::{EnforcerConfig, ResponderConfig};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use crate::source_config::SourceConfig;

/// A validated configuration; paths are absolute or relative to the
/// directory of the config file.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub store_url: String,
    /// `api:`: the REST API's listener.
    pub api: crate::api_config::ApiConfig,
    /// `auth:`: where API keys' hashing secret lives.
    pub auth: crate::api_config::AuthConfig,
    pub rules: Vec<PathBuf>,
    /// `sigma.mapping`: a Sigma logsource/field mapping file applied over
    /// the built-in one.
    pub sigma_mapping: Option<PathBuf>,
    pub playbooks: Vec<PathBuf>,
    pub sources: Vec<SourceConfig>,
    pub respond: ResponderConfig,
    pub sweep_interval: Duration,
    pub enforcers: Vec<EnforcerConfig>,
    /// CrowdSec bouncers allowed to read decisions (`bouncers:`).
    pub bouncers: Vec<BouncerConfig>,
    /// `notify.smtp`: the relay email goes through.
    pub smtp: Option<riposte_notify::SmtpConfig>,
    /// `respond.review.digest`: the daily review digest's schedule.
    pub digest: Option<riposte_respond::DigestSchedule>,
    /// `executor:`: how playbook runs are executed.
    pub executor: ExecutorSettings,
    /// `actions:` (with `notify.smtp`): what playbook actions with outside
    /// effects may do.
    pub actions: riposte_actions::ActionsConfig,
    /// Named secrets for playbooks (`secrets.NAME`): the `secrets.file`
    /// and `RIPOSTE_SECRET_<NAME>` environment variables.
    pub secrets: riposte_playbooks::Secrets,
    pub ingest: IngestLimits,
    /// `intel.feeds`: threat-intel feeds `riposte serve` keeps imported.
    pub intel_feeds: Vec<riposte_intel::feed::FeedConfig>,
    /// `taxii:` when enabled: indicators shared with partners over TAXII 2.1.
    pub taxii: Option<riposte_server::TaxiiConfig>,
    /// The directory relative paths resolve against.
    pub base_dir: PathBuf,
}

/// `executor: { workers, backlog, action_timeout }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutorSettings {
    /// Runs executed at once.
    pub workers: usize,
    /// Runs due at most before new batches wait for the executor.
    pub backlog: u64,
    /// One attempt of an outside action, unless its step sets `timeout`.
    pub action_timeout: Duration,
    /// How soon a run an executor was running when it died is taken up
    /// again (its lease, renewed while it runs).
    pub lease: Duration,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        Self {
            workers: 8,
            backlog: 10_000,
            // Longer than the actions' own limits (HTTP 30 s, exec 60 s),
            // so theirs, which name what timed out, come first.
            action_timeout: Duration::from_secs(90),
            lease: Duration::from_secs(60),
        }
    }
}

/// A CrowdSec bouncer's name and API key, the key read from the
/// environment (`key_env`) or a file only its owner can read (`key_file`).
#[derive(Clone, PartialEq, Eq)]
pub struct BouncerConfig {
    pub name: String,
    pub key: String,
}

impl std::fmt::Debug for BouncerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach logs or debug output.
        f.debug_struct("BouncerConfig")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBouncer {
    name: String,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default)]
    key_file: Option<PathBuf>,
}

/// Bouncer keys shorter than this are refused: they are the only thing
/// between a bouncer's network and the decisions.
const MIN_BOUNCER_KEY: usize = 16;

impl RawBouncer {
    fn build(
        self,
        file: &str,
        loc: &str,
        resolve: &dyn Fn(&Path) -> PathBuf,
        p: &mut Problems,
    ) -> Option<BouncerConfig> {
        let key = match (&self.key_env, &self.key_file) {
            (Some(var), None) => read_secret(&SecretSource::Env(var), file, loc, "key", p)?,
            (None, Some(path)) => {
                read_secret(&SecretSource::File(resolve(path)), file, loc, "key", p)?
            }
            _ => {
                p.push(file, loc, "give exactly one of key_env and key_file");
                return None;
            }
        };
        if key.len() < MIN_BOUNCER_KEY {
            p.push(
                file,
                loc,
                format!(
                    "the key of bouncer {:?} is shorter than {MIN_BOUNCER_KEY} characters",
                    self.name
                ),
            );
            return None;
        }
        Some(BouncerConfig {
            name: self.name,
            key,
        })
    }
}

/// A webhook's URL must be http(s) and its secret's variable set.
fn check_webhook(w: &riposte_respond::WebhookConfig, file: &str, loc: &str, p: &mut Problems) {
    if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
        p.push(
            file,
            format!("{loc}.url"),
            format!("{:?} is not an http(s) URL", w.url),
        );
    }
    if let Some(var) = &w.secret_env
        && let Err(why) = env_secret(var, std::env::var(var))
    {
        p.push(file, format!("{loc}.secret_env"), why);
    }
}

/// A secret from the environment variable `var` (`got` is its lookup), or
/// why it cannot be used: unset, not Unicode, or empty (an HMAC with an
/// empty key signs nothing anyone could not forge).
fn env_secret(var: &str, got: Result<String, std::env::VarError>) -> Result<String, String> {
    match got {
        Ok(k) if k.trim().is_empty() => Err(format!("environment variable {var} is empty")),
        Ok(k) => Ok(k),
        Err(std::env::VarError::NotPresent) => {
            Err(format!("environment variable {var} is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable {var} is not valid UTF-8"))
        }
    }
}

/// Where a secret (an API key, a password) is read from: never the
/// configuration itself, which is shared and versioned.
pub(crate) enum SecretSource<'a> {
    /// `<name>_env`: an environment variable.
    Env(&'a str),
    /// `<name>_file`: a file only its owner can read (trailing whitespace
    /// trimmed).
    File(PathBuf),
}

/// Reads a secret; a problem at `{loc}.{name}_env` or `{loc}.{name}_file`
/// when the variable is unset or the file unreadable or readable by others.
pub(crate) fn read_secret(
    source: &SecretSource<'_>,
    file: &str,
    loc: &str,
    name: &str,
    p: &mut Problems,
) -> Option<String> {
    match source {
        SecretSource::Env(var) => match env_secret(var, std::env::var(var)) {
            Ok(k) => Some(k),
            Err(why) => {
                p.push(file, format!("{loc}.{name}_env"), why);
                None
            }
        },
        SecretSource::File(path) => {
            if let Some(why) = loose_permissions(path) {
                p.push(file, format!("{loc}.{name}_file"), why);
                return None;
            }
            match std::fs::read_to_string(path) {
                Ok(k) => Some(k.trim().to_owned()),
                Err(e) => {
                    p.push(
                        file,
                        format!("{loc}.{name}_file"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
    }
}

/// Environment variables `RIPOSTE_SECRET_<NAME>` define secret `<name>`
/// (lowercased).
pub const SECRET_ENV_PREFIX: &str = "RIPOSTE_SECRET_";

/// `secrets: { file: PATH }` (a YAML mapping of names to values, mode 600)
/// and the `RIPOSTE_SECRET_*` environment variables, which win.
fn read_secrets(
    section: &Mapping,
    file: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
    p: &mut Problems,
) -> riposte_playbooks::Secrets {
    let mut values = BTreeMap::new();
    match section.get("file") {
        None => {}
        Some(Value::String(path)) => {
            let path = resolve(Path::new(path));
            if let Some(text) = read_secret(
                &SecretSource::File(path.clone()),
                file,
                "secrets",
                "file",
                p,
            )
            .map(|_| ())
            .and_then(|()| std::fs::read_to_string(&path).ok())
            {
                match serde_yaml_ng::from_str::<BTreeMap<String, Value>>(&text) {
                    Ok(map) => {
                        for (k, v) in map {
                            match v {
                                Value::String(s) => {
                                    values.insert(k, s);
                                }
                                Value::Number(n) => {
                                    values.insert(k, n.to_string());
                                }
                                _ => p.push(
                                    file,
                                    "secrets.file",
                                    format!("{}: secret {k:?} must be a text", path.display()),
                                ),
                            }
                        }
                    }
                    Err(e) => p.push(
                        file,
                        "secrets.file",
                        format!(
                            "{} is not a mapping of names to values: {e}",
                            path.display()
                        ),
                    ),
                }
            }
        }
        Some(_) => p.push(file, "secrets.file", "must be a path"),
    }
    for (k, v) in std::env::vars() {
        if let Some(name) = k.strip_prefix(SECRET_ENV_PREFIX)
            && !name.is_empty()
        {
            values.insert(name.to_ascii_lowercase(), v);
        }
    }
    riposte_playbooks::Secrets::new(values)
}

/// Why a secrets file is readable by others, if it is.
fn loose_permissions(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is readable by group or others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        )
    })
}

const TOP_KEYS: [&str; 19] = [
    "version",
    "auth",
    "data_dir",
    "store",
    "api",
    "rules",
    "sigma",
    "playbooks",
    "sources",
    "respond",
    "enforcers",
    "bouncers",
    "notify",
    "secrets",
    "executor",
    "actions",
    "ingest",
    "intel",
    "taxii",
];

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let mut p = Problems::new();
            p.push(&file, "", format!("cannot read: {e}"));
            p
        })?;
        // Canonical, so that source names derived from paths (the checkpoint
        // keys) do not depend on how --config was written.
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
        Self::parse(&file, &text, &base)
    }

    /// The safety rails and enforcers this configuration names: the one
    /// place a responder is assembled from it (service, CLI, demo).
    pub fn responder(&self) -> riposte_respond::Responder {
        let enforcers = self.enforcers.iter().map(EnforcerConfig::build).collect();
        riposte_respond::Responder::new(self.respond.clone(), enforcers)
    }

    /// Validates config text; relative paths resolve against `base`.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<Config, Problems> {
        let mut p = Problems::new();
        let Some(doc) = parse_document(file, text, "config", &mut p) else {
            return Err(p);
        };
        check_keys(&doc, &TOP_KEYS, file, "", &mut p);
        let resolve = |s: &Path| {
            if s.is_absolute() {
                s.to_path_buf()
            } else {
                base.join(s)
            }
        };

        let data_dir = resolve(
            &string_at(&doc, "data_dir", file, &mut p)
                .map_or_else(|| PathBuf::from("riposte-data"), PathBuf::from),
        );
        let store_url = string_at(&doc, "store", file, &mut p)
            .map(|s| match s.strip_prefix("sqlite://") {
                Some(rel) if !Path::new(rel).is_absolute() => {
                    format!("sqlite://{}", base.join(rel).display())
                }
                _ => s,
            })
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("riposte.db").display()));
        if !(store_url.starts_with("sqlite:")
            || store_url.starts_with("postgres://")
            || store_url.starts_with("postgresql://"))
        {
            p.push(
                file,
                "store",
                format!(
                    "unsupported store URL {store_url:?} (expected sqlite://PATH or postgres://…)"
                ),
            );
        }

        let api = section(&doc, "api", &crate::api_config::API_KEYS, file, &mut p);
        let api = crate::api_config::parse_api(&api, file, &resolve, &mut p);
        let auth = section(&doc, "auth", &crate::api_config::AUTH_KEYS, file, &mut p);
        let auth = crate::api_config::parse_auth(&auth, &data_dir, file, &resolve, &mut p);

        let rules = paths_at(&doc, "rules", file, &mut p)
            .into_iter()
            .map(|x| resolve(&x))
            .collect();
        let sigma = section(&doc, "sigma", &["mapping"], file, &mut p);
        let sigma_mapping = match sigma.get("mapping") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(resolve(Path::new(s))),
            Some(_) => {
                p.push(file, "sigma.mapping", "must be a path");
                None
            }
        };
        let playbooks = paths_at(&doc, "playbooks", file, &mut p)
            .into_iter()
            .map(|x| resolve(&x))
            .collect();

        let sources =
            crate::source_config::parse_sources(doc.get("sources"), file, &resolve, &mut p);

        let respond = section(
            &doc,
            "respond",
            &crate::respond_config::RESPOND_KEYS,
            file,
            &mut p,
        );
        let respond = crate::respond_config::parse_respond(&respond, file, &mut p);
        let notify = section(
            &doc,
            "notify",
            &crate::notify_config::NOTIFY_KEYS,
            file,
            &mut p,
        );
        let smtp = crate::notify_config::parse_notify(&notify, file, &resolve, &mut p);
        let actions = match doc.get("actions") {
            None => Some(riposte_actions::RawActionsConfig::default()),
            Some(v) => {
                take::<riposte_actions::RawActionsConfig>(v.clone(), file, "actions", &mut p)
            }
        }
        .and_then(|raw| {
            let mut raw = raw;
            raw.geoip = raw.geoip.map(|g| resolve(&g));
            raw.asn = raw.asn.map(|a| resolve(&a));
            raw.validate(smtp.clone())
                .map_err(|errs| {
                    for e in errs {
                        match e.split_once(": ") {
                            Some((loc, msg)) => p.push(file, loc, msg),
                            None => p.push(file, "actions", e),
                        }
                    }
                })
                .ok()
        });
        let secrets_section = section(&doc, "secrets", &["file"], file, &mut p);
        let secrets = read_secrets(&secrets_section, file, &resolve, &mut p);
        let ex = section(
            &doc,
            "executor",
            &["workers", "backlog", "action_timeout", "lease"],
            file,
            &mut p,
        );
        let mut executor = ExecutorSettings::default();
        for (key, slot) in [("workers", 0usize), ("backlog", 1)] {
            if let Some(v) = ex.get(key) {
                match v.as_u64().filter(|n| *n > 0) {
                    Some(n) if slot == 0 => executor.workers = n.min(1024) as usize,
                    Some(n) => executor.backlog = n,
                    None => p.push(
                        file,
                        format!("executor.{key}"),
                        format!("{} must be a positive integer", display_value(v)),
                    ),
                }
            }
        }
        for key in ["action_timeout", "lease"] {
            let Some(v) = ex.get(key) else { continue };
            match parse_duration(&scalar_text(v))
                .ok()
                .and_then(|d| d.to_std().ok())
            {
                Some(d) if d >= Duration::from_secs(1) => match key {
                    "lease" => executor.lease = d,
                    _ => executor.action_timeout = d,
                },
                _ => p.push(
                    file,
                    format!("executor.{key}"),
                    format!(
                        "{} must be a duration of 1s or more, such as 60s",
                        display_value(v)
                    ),
                ),
            }
        }
        if let Some(r) = &respond
            && r.digest.as_ref().is_some_and(|d| !d.to.is_empty())
            && !crate::notify_config::has_smtp(&notify)
        {
            p.push(
                file,
                "respond.review.digest.to",
                "mailing the digest needs notify.smtp (the relay to send through)",
            );
        }

        let enforcers = match doc.get("enforcers") {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let loc = format!("enforcers[{i}]");
                    let e = take::<EnforcerConfig>(item.clone(), file, &loc, &mut p)?;
                    if let EnforcerConfig::Webhook(w) = &e {
                        check_webhook(w, file, &loc, &mut p);
                    }
                    Some(e)
                })
                .map(|e| match e {
                    EnforcerConfig::File {
                        path,
                        format,
                        reload,
                        reload_timeout,
                        dry_run,
                        mode,
                    } => EnforcerConfig::File {
                        path: resolve(&path),
                        format,
                        reload,
                        reload_timeout,
                        dry_run,
                        mode,
                    },
                    // `nft` is looked up on PATH like any program, not
                    // resolved against the configuration's directory.
                    other @ (EnforcerConfig::Nftables(_) | EnforcerConfig::Webhook(_)) => other,
                })
                .collect(),
            Some(_) => {
                p.push(file, "enforcers", "must be a list");
                Vec::new()
            }
        };

        let mut bouncers: Vec<BouncerConfig> = Vec::new();
        match doc.get("bouncers") {
            None => {}
            Some(Value::Sequence(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("bouncers[{i}]");
                    let Some(raw) = take::<RawBouncer>(item.clone(), file, &loc, &mut p) else {
                        continue;
                    };
                    if bouncers.iter().any(|b| b.name == raw.name) {
                        p.push(file, &loc, format!("duplicate bouncer name {:?}", raw.name));
                        continue;
                    }
                    if let Some(b) = raw.build(file, &loc, &resolve, &mut p) {
                        // Keys identify bouncers: a shared one would make
                        // either's pulls move the other's position.
                        if let Some(first) = bouncers.iter().find(|o| o.key == b.key) {
                            p.push(
                                file,
                                &loc,
                                format!(
                                    "bouncers {:?} and {:?} have the same key; give each its own",
                                    first.name, b.name
                                ),
                            );
                            continue;
                        }
                        bouncers.push(b);
                    }
                }
            }
            Some(_) => p.push(
                file,
                "bouncers",
                "must be a list of {name, key_env | key_file}",
            ),
        }

        let ingest_map = section(
            &doc,
            "ingest",
            &["max_line_bytes", "batch_lines", "poll_interval"],
            file,
            &mut p,
        );
        let defaults = IngestLimits::default();
        let mut positive = |key: &str, default: usize| match ingest_map.get(key) {
            None => default,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => n as usize,
                _ => {
                    p.push(
                        file,
                        format!("ingest.{key}"),
                        format!("{} must be a positive integer", display_value(v)),
                    );
                    default
                }
            },
        };
        let max_line_bytes = positive("max_line_bytes", defaults.max_line_bytes);
        let batch_lines = positive("batch_lines", defaults.batch_lines);
        let poll_interval = match ingest_map.get("poll_interval") {
            None => defaults.poll_interval,
            Some(v) => parse_duration(&scalar_text(v))
                .map_err(|e| p.push(file, "ingest.poll_interval", e))
                .ok()
                .and_then(|d| d.to_std().ok())
                .unwrap_or(defaults.poll_interval),
        };

        let intel_feeds = riposte_intel::config::parse(doc.get("intel"), file, &resolve, &mut p);
        let taxii = crate::taxii_config::parse_taxii(doc.get("taxii"), file, &resolve, &mut p);
        // TAXII's own listener carries client tokens in every request, like
        // the API's keys: the same rule (it is served with api.tls).
        if let (Some(api), Some(addr)) = (&api, taxii.as_ref().and_then(|t| t.listen))
            && !addr.ip().is_loopback()
            && api.tls.is_none()
            && !api.allow_plaintext
        {
            p.push(
                file,
                "taxii.listen",
                format!(
                    "{addr} is not a loopback address and api.tls is not set: client tokens would cross the network in clear text; set api.tls (TAXII is served with it), or api.allow_plaintext: true behind a TLS-terminating proxy on a trusted network"
                ),
            );
        }

        if !p.is_empty() {
            return Err(p);
        }
        let respond = respond.and_then(|r| Some((r.responder, r.sweep.to_std().ok()?, r.digest)));
        match (api, respond) {
            (Some(api), Some((respond, sweep_interval, digest))) => Ok(Config {
                data_dir,
                store_url,
                api,
                auth,
                rules,
                sigma_mapping,
                playbooks,
                sources,
                respond,
                sweep_interval,
                enforcers,
                bouncers,
                smtp,
                digest,
                secrets,
                executor,
                actions: actions.unwrap_or_default(),
                ingest: IngestLimits {
                    max_line_bytes,
                    batch_lines,
                    poll_interval,
                },
                intel_feeds,
                taxii,
                base_dir: base.to_path_buf(),
            }),
            _ => Err(p),
        }
    }
}

fn string_at(doc: &Mapping, key: &str, file: &str, p: &mut Problems) -> Option<String> {
    match doc.get(key) {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            p.push(file, key, "must be a non-empty string");
            None
        }
    }
}

fn paths_at(doc: &Mapping, key: &str, file: &str, p: &mut Problems) -> Vec<PathBuf> {
    match doc.get(key) {
        None => Vec::new(),
        Some(Value::String(s)) => vec![PathBuf::from(s)],
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| PathBuf::from(scalar_text(v)))
            .collect(),
        Some(_) => {
            p.push(file, key, "must be a path or a list of paths");
            Vec::new()
        }
    }
}

fn section(doc: &Mapping, key: &str, allowed: &[&str], file: &str, p: &mut Problems) -> Mapping {
    match doc.get(key) {
        None => Mapping::new(),
        Some(Value::Mapping(m)) => {
            check_keys(m, allowed, file, key, p);
            m.clone()
        }
        Some(_) => {
            p.push(
                file,
                key,
                format!("must be a mapping (keys: {})", allowed.join(", ")),
            );
            Mapping::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a `secret_env` naming a set but empty variable passed,
    /// and webhooks were signed with an empty HMAC key.
    #[test]
    fn empty_secrets_from_the_environment_are_refused() {
        assert_eq!(
            env_secret("HOOK", Ok(String::new())),
            Err("environment variable HOOK is empty".to_owned())
        );
        assert_eq!(
            env_secret("HOOK", Ok(" \n".to_owned())),
            Err("environment variable HOOK is empty".to_owned())
        );
        assert_eq!(
            env_secret("HOOK", Err(std::env::VarError::NotPresent)),
            Err("environment variable HOOK is not set".to_owned())
        );
        assert_eq!(
            env_secret("HOOK", Ok("s3cret".to_owned())),
            Ok("s3cret".to_owned())
        );
    }

    /// Regression: two bouncers with one key under different names passed.
    #[test]
    fn bouncers_sharing_a_key_are_refused_naming_both() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.key", "b.key", "c.key"] {
            let key = if name == "c.key" {
                "other-key-0123456789abcdef"
            } else {
                "shared-key-0123456789abcdef"
            };
            let path = dir.path().join(name);
            std::fs::write(&path, key).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = "version: 1\nbouncers:\n  - { name: nginx, key_file: a.key }\n  - { name: firewall, key_file: b.key }\n  - { name: traefik, key_file: c.key }\n";
        let problems = Config::parse("b.yaml", text, dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            problems,
            "1 problem:\n  b.yaml: bouncers[1]: bouncers \"nginx\" and \"firewall\" have the same key; give each its own"
        );
    }
}
