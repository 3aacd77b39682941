//! Enforcers make the outside world match the effective decisions. They are
//! reconciled, not driven by deltas: each `apply` receives every effective
//! decision, so a restart or a missed update heals itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use riposte_model::{Decision, DecisionKind, Timestamp};
use serde::Deserialize;

use crate::nft::{NftConfig, NftEnforcer};

/// In-tree enforcers, as configured (`enforcers:` in riposte.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnforcerConfig {
    /// A list file for firewalls and proxies that load lists from disk: a
    /// plain list, an nginx `deny` include or an HAProxy map.
    File {
        path: PathBuf,
        #[serde(default)]
        format: ListFormat,
        /// Run after the file changed, as argv (no shell), e.g.
        /// `[nginx, -s, reload]`.
        #[serde(default)]
        reload: Vec<String>,
        /// How long the reload command may run before it is killed.
        #[serde(default = "default_reload_timeout", with = "std_duration")]
        reload_timeout: Duration,
        /// Log what would change; write and reload nothing.
        #[serde(default)]
        dry_run: bool,
        /// The list's permission bits (default `0600`, owner only), for a
        /// reader running as another user: `mode: "0640"` and a group.
        #[serde(default)]
        mode: Option<FileMode>,
    },
    /// Sets with element timeouts in a dedicated nftables table.
    Nftables(NftConfig),
    /// Signed JSON POSTs of the decisions, for connectors.
    Webhook(crate::webhook::WebhookConfig),
}

fn default_reload_timeout() -> Duration {
    Duration::from_secs(10)
}

/// A `std::time::Duration` written in the configuration's duration syntax
/// (`10s`, `1m30s`): every enforcer timeout.
pub(crate) mod std_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        riposte_model::parse_duration(&text)
            .map_err(serde::de::Error::custom)?
            .to_std()
            .map_err(serde::de::Error::custom)
    }
}

/// A file's permission bits, written in the configuration as a quoted
/// octal string (`"0640"`): unquoted, YAML would read `0640` as a decimal or
/// an octal number depending on its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMode(u32);

impl FileMode {
    /// Owner read and write, nobody else: what Riposte writes by default.
    pub const PRIVATE: FileMode = FileMode(0o600);

    /// `"0640"` or `"640"`. The owner (Riposte, which reads the list back
    /// to compare) must be able to read and write; other users may not
    /// write (a list anyone can write is a list anyone can empty); no
    /// setuid, setgid or sticky bits.
    pub fn parse(text: &str) -> Result<FileMode, String> {
        let digits = text.trim();
        if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!(
                "{text:?} is not an octal file mode (3 or 4 digits 0-7, e.g. \"0640\")"
            ));
        }
        let bits = u32::from_str_radix(digits, 8).map_err(|e| format!("{text:?}: {e}"))?;
        if bits > 0o777 {
            return Err(format!(
                "{text:?}: setuid, setgid and sticky bits are not allowed on a list file"
            ));
        }
        if bits & 0o600 != 0o600 {
            return Err(format!(
                "{text:?}: the owner must be able to read and write the list (e.g. \"0640\")"
            ));
        }
        if bits & 0o002 != 0 {
            return Err(format!("{text:?}: other users may not write a list file"));
        }
        Ok(FileMode(bits))
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for FileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl serde::de::Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a quoted octal file mode, e.g. \"0640\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileMode, E> {
                FileMode::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "{v} is a number: give the mode as a quoted octal string, e.g. mode: \"0640\""
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "{v} is a number: give the mode as a quoted octal string, e.g. mode: \"0640\""
                )))
            }
        }
        d.deserialize_any(ModeVisitor)
    }
}

/// What a list file looks like.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// One address or CIDR per line (single addresses bare): ipset,
    /// firewall and proxy list readers.
    #[default]
    Plain,
    /// `deny ADDR;` lines, for an nginx `include` inside `http`, `server`
    /// or `location`.
    Nginx,
    /// `ADDR KIND` lines, for HAProxy's `map_ip` (`ban`, `throttle` and
    /// `captcha` decisions, the kind as the value).
    Haproxy,
}

impl EnforcerConfig {
    /// Builds the enforcer. Paths are used as given: the configuration
    /// resolves relative ones against its own directory when it is loaded.
    pub fn build(&self) -> Enforcer {
        match self {
            EnforcerConfig::File {
                path,
                format,
                reload,
                reload_timeout,
                dry_run,
                mode,
            } => Enforcer::File(
                FileEnforcer::new(path.clone())
                    .with_format(*format)
                    .with_reload(reload.clone(), *reload_timeout)
                    .with_dry_run(*dry_run)
                    .with_mode(mode.unwrap_or(FileMode::PRIVATE)),
            ),
            EnforcerConfig::Nftables(config) => {
                Enforcer::Nftables(NftEnforcer::new(config.clone()))
            }
            EnforcerConfig::Webhook(config) => {
                Enforcer::Webhook(crate::webhook::WebhookEnforcer::new(config))
            }
        }
    }

    /// The file an enforcer writes, for those that write one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            EnforcerConfig::File { path, .. } => Some(path),
            EnforcerConfig::Nftables(_) | EnforcerConfig::Webhook(_) => None,
        }
    }
}

/// A configured enforcer.
#[derive(Clone, Debug)]
pub enum Enforcer {
    File(FileEnforcer),
    Nftables(NftEnforcer),
    Webhook(crate::webhook::WebhookEnforcer),
}

impl Enforcer {
    pub fn name(&self) -> String {
        match self {
            Enforcer::File(f) => format!("file:{}", f.path.display()),
            Enforcer::Nftables(n) => n.name(),
            Enforcer::Webhook(w) => w.name(),
        }
    }

    /// Makes the enforced state equal to `effective`. `now` is the time the
    /// decisions were judged effective at, from which enforcers with their
    /// own expiry (nftables element timeouts) compute the time left.
    /// Blocking: it may run external programs (bounded by their timeouts).
    pub fn apply(&self, effective: &[Decision], now: Timestamp) -> std::io::Result<()> {
        match self {
            Enforcer::File(f) => f.apply(effective),
            Enforcer::Nftables(n) => n.apply(effective, now),
            Enforcer::Webhook(w) => w.apply(effective, now),
        }
    }

    /// What [`Self::apply`] would change now, for people (`riposte
    /// enforcers plan`, dry runs); empty when nothing would. Reads the
    /// enforced state (the file, the nftables table), writes nothing.
    pub fn plan(&self, effective: &[Decision], now: Timestamp) -> std::io::Result<String> {
        match self {
            Enforcer::File(f) => Ok(f.plan(effective)),
            Enforcer::Nftables(n) => n.plan(effective, now).map(|p| p.script().to_owned()),
            Enforcer::Webhook(w) => w.plan(effective),
        }
    }

    /// Whether this enforcer only logs what it would do.
    pub fn dry_run(&self) -> bool {
        match self {
            Enforcer::File(f) => f.dry_run,
            Enforcer::Nftables(n) => n.config().dry_run,
            Enforcer::Webhook(w) => w.dry_run(),
        }
    }
}

/// Rewrites a list file atomically (write a temporary file beside it,
/// fsync, rename), so a reader never sees a half-written list, then runs
/// the reload command, if any, when the content changed.
#[derive(Clone, Debug)]
pub struct FileEnforcer {
    path: PathBuf,
    format: ListFormat,
    reload: Vec<String>,
    reload_timeout: Duration,
    /// Set while the last reload failed, and before the first: the next
    /// apply reloads even if the list did not change (so a start makes
    /// sure the reader has the list, whatever happened before a crash).
    reload_owed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    dry_run: bool,
    mode: FileMode,
}

impl FileEnforcer {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            format: ListFormat::Plain,
            reload: Vec::new(),
            reload_timeout: default_reload_timeout(),
            reload_owed: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            dry_run: false,
            mode: FileMode::PRIVATE,
        }
    }

    /// The list's permission bits (default [`FileMode::PRIVATE`]), set
    /// exactly whatever the process's umask.
    pub fn with_mode(mut self, mode: FileMode) -> Self {
        self.mode = mode;
        self
    }

    /// Only log what would change (`dry_run: true`).
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    pub fn with_format(mut self, format: ListFormat) -> Self {
        self.format = format;
        self
    }

    /// Runs `argv` after each change (nothing when empty), killed after
    /// `timeout`.
    pub fn with_reload(mut self, argv: Vec<String>, timeout: Duration) -> Self {
        self.reload = argv;
        self.reload_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plain list's content: banned addresses and ranges, sorted, one
    /// per line.
    pub fn render(effective: &[Decision]) -> String {
        render(ListFormat::Plain, effective)
    }

    /// The lines the list would gain (`+ `) and lose (`- `), one per line.
    pub fn plan(&self, effective: &[Decision]) -> String {
        let new = render(self.format, effective);
        let old = std::fs::read_to_string(&self.path).unwrap_or_default();
        let old_lines: std::collections::BTreeSet<&str> = old.lines().collect();
        let new_lines: std::collections::BTreeSet<&str> = new.lines().collect();
        let mut out = String::new();
        for line in new_lines.difference(&old_lines) {
            out.push_str("+ ");
            out.push_str(line);
            out.push('\n');
        }
        for line in old_lines.difference(&new_lines) {
            out.push_str("- ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    pub fn apply(&self, effective: &[Decision]) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        if self.dry_run {
            let plan = self.plan(effective);
            if !plan.is_empty() {
                tracing::info!(path = %self.path.display(), changes = %plan.trim_end(),
                    "dry run: list file not written");
            }
            return Ok(());
        }
        let content = render(self.format, effective);
        // A list written before with another mode (by an older Riposte, or
        // under another `mode:`) is written again, as a new file with the
        // mode: that works wherever writing does, chmod only for its owner.
        if std::fs::read_to_string(&self.path).is_ok_and(|old| old == content) && self.has_mode() {
            if self.reload_owed.load(Ordering::Relaxed) {
                self.reload()?;
            }
            return Ok(());
        }
        write_atomically_with_mode(&self.path, content.as_bytes(), self.mode)?;
        tracing::debug!(path = %self.path.display(), entries = content.lines().count(), "blocklist written");
        self.reload()
    }

    fn has_mode(&self) -> bool {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&self.path)
            .is_ok_and(|m| m.permissions().mode() & 0o7777 == self.mode.bits())
    }

    fn reload(&self) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        if self.reload.is_empty() {
            return Ok(());
        }
        let result = run_reload(&self.reload, self.reload_timeout);
        self.reload_owed.store(result.is_err(), Ordering::Relaxed);
        result
    }
}

/// Writes a file so that a reader sees the old content or the new, never
/// half of it: a temporary file beside it, fsynced, then renamed over it
/// (the directory is created if missing, mode 0755). The file is private
/// (0600) whatever the umask; see [`write_atomically_with_mode`].
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, content, FileMode::PRIVATE)
}

/// [`write_atomically`] with the file's permission bits: exactly `mode`,
/// from the moment the temporary file exists (never looser, never widened
/// or narrowed by the umask).
pub fn write_atomically_with_mode(
    path: &Path,
    content: &[u8],
    mode: FileMode,
) -> std::io::Result<()> {
    write_via_temp(path, content, mode)
        .map_err(|e| std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

fn write_via_temp(path: &Path, content: &[u8], mode: FileMode) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // 0755, not the umask's say: under umask 000 a world-writable
    // directory would let anyone swap the list.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per write, not only per process: two writes of the same list
    // at once must not share (and truncate, or rename away) one file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.tmp.{}.{seq}", std::process::id()));
    let result = (|| {
        // A fresh file (never one planted at the name), created with the
        // mode and then set to it exactly (the umask only narrows).
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.bits())
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode.bits()))?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The list's lines in `format`: addresses and ranges sorted, each once
/// (per kind, for HAProxy maps).
fn render(format: ListFormat, effective: &[Decision]) -> String {
    let kinds: &[DecisionKind] = match format {
        ListFormat::Plain | ListFormat::Nginx => &[DecisionKind::Ban],
        ListFormat::Haproxy => &[
            DecisionKind::Ban,
            DecisionKind::Throttle,
            DecisionKind::Captcha,
        ],
    };
    let mut entries: Vec<(ipnet::IpNet, DecisionKind)> = effective
        .iter()
        .filter(|d| kinds.contains(&d.kind))
        .filter_map(|d| Some((d.scope.network(&d.value)?, d.kind)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.as_str().cmp(b.1.as_str())));
    // One line per network: a ban wins over a captcha or throttle on the
    // same network (kinds are sorted so that `ban` comes first).
    entries.dedup_by(|later, first| later.0 == first.0);
    // HAProxy's map_ip takes the longest match, so a captcha on an address
    // inside a banned range would answer `captcha` for it; a ban wins, so
    // weaker entries a ban already covers are left out. (Plain and nginx
    // lists hold bans only, where any match denies.)
    let banned: std::collections::HashSet<ipnet::IpNet> = entries
        .iter()
        .filter(|(_, kind)| *kind == DecisionKind::Ban)
        .map(|(net, _)| net.trunc())
        .collect();
    entries.retain(|(net, kind)| {
        *kind == DecisionKind::Ban
            || !(0..=net.prefix_len()).any(|len| {
                ipnet::IpNet::new(net.addr(), len)
                    .is_ok_and(|wider| banned.contains(&wider.trunc()))
            })
    });
    let mut out = String::new();
    for (net, kind) in entries {
        // Single addresses are written bare, as most list readers expect.
        let addr = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        match format {
            ListFormat::Plain => out.push_str(&addr),
            ListFormat::Nginx => {
                out.push_str("deny ");
                out.push_str(&addr);
                out.push(';');
            }
            ListFormat::Haproxy => {
                out.push_str(&addr);
                out.push(' ');
                out.push_str(kind.as_str());
            }
        }
        out.push('\n');
    }
    out
}

/// Runs a reload command as argv (never through a shell), killing it after
/// `timeout`. A non-zero exit or a timeout is an error carrying the end of
/// its stderr.
fn run_reload(argv: &[String], timeout: Duration) -> std::io::Result<()> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty reload command"))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("reload {program:?}: {e}")))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("reload {program:?} killed after {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.by_ref().take(4096).read_to_string(&mut stderr);
    }
    Err(std::io::Error::other(format!(
        "reload {program:?} failed ({status}): {}",
        stderr.trim()
    )))
}
