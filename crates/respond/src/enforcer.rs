//! Enforcers make the outside world match the effective decisions. They are
//! reconciled, not driven by deltas: each `apply` receives every effective
//! decision, so a restart or a missed update heals itself.

use std::io::Write;
use std::path::{Path, PathBuf};

use riposte_model::{Decision, DecisionKind, Timestamp};
use serde::Deserialize;

use crate::nft::{NftConfig, NftEnforcer};

/// In-tree enforcers, as configured (`enforcers:` in riposte.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnforcerConfig {
    /// A plain blocklist file, one address or CIDR per line, for firewalls
    /// and proxies that load lists from disk.
    File { path: PathBuf },
    /// Sets with element timeouts in a dedicated nftables table.
    Nftables(NftConfig),
}

impl EnforcerConfig {
    /// Builds the enforcer. Paths are used as given: the configuration
    /// resolves relative ones against its own directory when it is loaded.
    pub fn build(&self) -> Enforcer {
        match self {
            EnforcerConfig::File { path } => Enforcer::File(FileEnforcer::new(path.clone())),
            EnforcerConfig::Nftables(config) => {
                Enforcer::Nftables(NftEnforcer::new(config.clone()))
            }
        }
    }
}

/// A configured enforcer.
#[derive(Clone, Debug)]
pub enum Enforcer {
    File(FileEnforcer),
    Nftables(NftEnforcer),
}

impl Enforcer {
    pub fn name(&self) -> String {
        match self {
            Enforcer::File(f) => format!("file:{}", f.path.display()),
            Enforcer::Nftables(n) => n.name(),
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
        }
    }
}

/// Rewrites a blocklist file atomically (write a temporary file beside it,
/// fsync, rename), so a reader never sees a half-written list.
#[derive(Clone, Debug)]
pub struct FileEnforcer {
    path: PathBuf,
}

impl FileEnforcer {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The list's content: banned addresses and ranges, sorted, one per line.
    pub fn render(effective: &[Decision]) -> String {
        let mut entries: Vec<ipnet::IpNet> = effective
            .iter()
            .filter(|d| d.kind == DecisionKind::Ban)
            .filter_map(|d| d.scope.network(&d.value))
            .collect();
        entries.sort();
        entries.dedup();
        let mut out = String::new();
        for net in entries {
            // Single addresses are written bare, as most list readers expect.
            if net.prefix_len() == net.max_prefix_len() {
                out.push_str(&net.addr().to_string());
            } else {
                out.push_str(&net.to_string());
            }
            out.push('\n');
        }
        out
    }

    pub fn apply(&self, effective: &[Decision]) -> std::io::Result<()> {
        let content = Self::render(effective);
        if std::fs::read_to_string(&self.path).is_ok_and(|old| old == content) {
            return Ok(());
        }
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(content.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        tracing::debug!(path = %self.path.display(), entries = content.lines().count(), "blocklist written");
        Ok(())
    }
}
