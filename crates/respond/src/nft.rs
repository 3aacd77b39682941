//! The nftables enforcer: bans as elements of two sets (`ban4`, `ban6`) in a
//! table of its own (`inet riposte` by default), each element carrying the
//! kernel timeout that ends it when the decision expires — so a ban lapses
//! on time even while Riposte is down.
//!
//! It never touches anything outside its table: it lists only its table,
//! and when the table is missing or not the shape it expects it replaces
//! that table (and only it) in one transaction. Every change is one
//! `nft -f -` transaction fed on stdin, run as argv (no shell); element
//! values are rendered from parsed addresses, never copied from decisions.
//!
//! Reconciling: the current elements are read back (`nft -j list table`) and
//! compared with the wanted ones; missing elements are added, extra ones
//! deleted, and elements whose remaining time differs from the decision's by
//! more than [`TIMEOUT_TOLERANCE_SECS`] are replaced. When nothing differs,
//! nothing is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use riposte_model::{Decision, DecisionKind, Timestamp};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Remaining times that differ by at most this are taken as equal: the kernel
/// reports whole seconds rounded down, and time passes between the listing
/// and the comparison.
pub const TIMEOUT_TOLERANCE_SECS: u64 = 5;

/// Elements this close to their kernel expiry are left to expire rather than
/// deleted: deleting an element that expires between the listing and the
/// transaction would fail the whole transaction.
const NEAR_EXPIRY_SECS: u64 = 2;

/// Elements per `add element`/`delete element` statement; all statements
/// still go in one transaction.
const ELEMENTS_PER_STATEMENT: usize = 1000;

/// How much of nft's standard error an error message carries.
const MAX_STDERR_CHARS: usize = 2000;

/// The largest listing read back from nft (about 100 bytes per element).
const MAX_LISTING_BYTES: u64 = 512 << 20;

/// `type: nftables` in riposte.yaml `enforcers:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NftConfig {
    /// The table of family `inet` that Riposte owns; nothing outside it is
    /// ever read or changed.
    #[serde(default = "NftName::default_table")]
    pub table: NftName,
    /// Which hooks get a drop chain: `input` protects the host itself,
    /// `forward` also the networks it routes for.
    #[serde(default = "default_hooks", deserialize_with = "deserialize_hooks")]
    pub hooks: Vec<NftHook>,
    /// The chains' priority; below 0 so bans apply before a typical
    /// `filter` table's accept rules at priority 0.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// Run nft inside this network namespace (`ip netns exec NAME nft …`).
    /// Used by tests; in production Riposte runs in the host namespace and
    /// still only touches its own table.
    #[serde(default)]
    pub netns: Option<NftName>,
    /// The nft program.
    #[serde(default = "default_nft")]
    pub nft: PathBuf,
    /// How long one nft run may take before it is killed and the
    /// reconciliation fails (to be retried at the next one).
    #[serde(default = "default_timeout", with = "crate::enforcer::std_duration")]
    pub timeout: Duration,
    /// Plan and log the changes, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Default for NftConfig {
    fn default() -> Self {
        Self {
            table: NftName::default_table(),
            hooks: default_hooks(),
            priority: default_priority(),
            netns: None,
            nft: default_nft(),
            timeout: default_timeout(),
            dry_run: false,
        }
    }
}

fn default_hooks() -> Vec<NftHook> {
    vec![NftHook::Input]
}

fn deserialize_hooks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NftHook>, D::Error> {
    let hooks = Vec::<NftHook>::deserialize(d)?;
    if hooks.is_empty() {
        return Err(serde::de::Error::custom(
            "hooks: at least one of input, forward",
        ));
    }
    if hooks.len() != hooks.iter().collect::<HashSet<_>>().len() {
        return Err(serde::de::Error::custom(format!(
            "hooks: {hooks:?} repeats a hook"
        )));
    }
    Ok(hooks)
}

fn default_priority() -> i32 {
    -10
}

fn default_nft() -> PathBuf {
    PathBuf::from("nft")
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// An nftables hook a drop chain attaches to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum NftHook {
    Input,
    Forward,
}

impl NftHook {
    pub fn as_str(self) -> &'static str {
        match self {
            NftHook::Input => "input",
            NftHook::Forward => "forward",
        }
    }
}

/// A name that goes into an nft script or an argv (table, namespace):
/// ASCII letters, digits, `_` and `-`, starting with a letter, at most 32
/// bytes — so it can never change the meaning of the script around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftName(String);

impl NftName {
    pub fn new(name: &str) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "invalid name {name:?} (expected a letter, then letters, digits, '_' or '-', at most 32)"
            ))
        }
    }

    fn default_table() -> Self {
        Self("riposte".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NftName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NftName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NftName::new(&text).map_err(serde::de::Error::custom)
    }
}

/// What one reconciliation does (or, in dry-run mode, would do). Its
/// `Display` is the nft script; an empty script means no change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftPlan {
    /// Why the table is (re)created, when it is.
    pub recreate: Option<String>,
    pub added: usize,
    pub deleted: usize,
    /// Elements deleted and added again with a new timeout.
    pub refreshed: usize,
    script: String,
}

impl NftPlan {
    pub fn is_noop(&self) -> bool {
        self.script.is_empty()
    }

    pub fn script(&self) -> &str {
        &self.script
    }
}

impl fmt::Display for NftPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.script)
    }
}

/// Applies bans to a dedicated nftables table.
#[derive(Clone, Debug)]
pub struct NftEnforcer {
    config: NftConfig,
}

impl NftEnforcer {
    pub fn new(config: NftConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &NftConfig {
        &self.config
    }

    pub fn name(&self) -> String {
        match &self.config.netns {
            Some(ns) => format!("nftables:inet {} (netns {ns})", self.config.table),
            None => format!("nftables:inet {}", self.config.table),
        }
    }

    /// Reconciles unless in dry-run mode, where the plan is only logged.
    pub fn apply(&self, effective: &[Decision], now: Timestamp) -> io::Result<()> {
        if self.config.dry_run {
            let plan = match self.plan(effective, now) {
                Ok(plan) => plan,
                Err(err) => {
                    tracing::warn!(enforcer = %self.name(), %err,
                        "dry run: cannot read the table; planning as if it were absent");
                    plan(&self.config, Current::Absent, wanted(effective, now))
                }
            };
            if !plan.is_noop() {
                tracing::info!(enforcer = %self.name(), added = plan.added, deleted = plan.deleted,
                    refreshed = plan.refreshed, recreate = ?plan.recreate,
                    script = %truncate(plan.script(), 4096), "dry run: nftables changes not applied");
            }
            return Ok(());
        }
        self.reconcile(effective, now).map(|_| ())
    }

    /// What [`Self::reconcile`] would do now: reads the table, writes nothing.
    pub fn plan(&self, effective: &[Decision], now: Timestamp) -> io::Result<NftPlan> {
        let current = self.read()?;
        Ok(plan(&self.config, current, wanted(effective, now)))
    }

    /// Makes the table equal to `effective` and returns what was done —
    /// even in dry-run mode, which only [`Self::apply`] honours.
    pub fn reconcile(&self, effective: &[Decision], now: Timestamp) -> io::Result<NftPlan> {
        let plan = self.plan(effective, now)?;
        if !plan.is_noop() {
            self.run(&["-f", "-"], Some(plan.script().as_bytes()))
                .map_err(|e| self.error(e))?;
            tracing::debug!(enforcer = %self.name(), added = plan.added, deleted = plan.deleted,
                refreshed = plan.refreshed, recreate = ?plan.recreate, "nftables reconciled");
        }
        Ok(plan)
    }

    /// Reads this enforcer's table from the kernel.
    fn read(&self) -> io::Result<Current> {
        let table = self.config.table.as_str();
        match self.run(&["-j", "list", "table", "inet", table], None) {
            Ok(out) => Ok(parse_listing(&self.config, &out)),
            Err(NftError::Failed { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                Ok(Current::Absent)
            }
            Err(err) => Err(self.error(err)),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, NftError> {
        let mut cmd = match &self.config.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.as_str()]).arg(&self.config.nft);
                c
            }
            None => Command::new(&self.config.nft),
        };
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = cmd.get_program().to_string_lossy().into_owned();
        let command = format!("{} {}", self.config.nft.display(), args.join(" "));
        run_bounded(cmd, stdin, self.config.timeout).map_err(|e| match e {
            RunError::Spawn(source) => NftError::Spawn { program, source },
            RunError::TimedOut => NftError::TimedOut {
                command,
                after: self.config.timeout,
            },
            RunError::Io(source) => NftError::Io { command, source },
            RunError::Failed { status, stderr } => NftError::Failed {
                command,
                status,
                stderr,
            },
        })
    }

    fn error(&self, err: NftError) -> io::Error {
        let kind = match &err {
            NftError::Spawn { source, .. } | NftError::Io { source, .. } => source.kind(),
            NftError::TimedOut { .. } => io::ErrorKind::TimedOut,
            NftError::Failed { stderr, .. }
                if stderr.contains("Operation not permitted")
                    || stderr.contains("Permission denied") =>
            {
                io::ErrorKind::PermissionDenied
            }
            NftError::Failed { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{}: {err}", self.name()))
    }
}

#[derive(Debug, thiserror::Error)]
enum NftError {
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("`{command}` did not finish within {after:?} and was killed")]
    TimedOut { command: String, after: Duration },
    #[error("`{command}`: {source}")]
    Io { command: String, source: io::Error },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

enum RunError {
    Spawn(io::Error),
    TimedOut,
    Io(io::Error),
    Failed {
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Runs a program with a deadline: stdin is fed and stdout/stderr drained by
/// threads (so a large script or listing cannot deadlock on a full pipe),
/// and the process is killed when the deadline passes.
fn run_bounded(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Vec<u8>, RunError> {
    let deadline = Instant::now() + timeout;
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(data)) => {
            let data = data.to_vec();
            // A child that exits early closes the pipe; its exit status
            // says why, so the write error is not the one to report.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let out = child.stdout.take().map(|pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            pipe.take(MAX_LISTING_BYTES)
                .read_to_end(&mut buf)
                .map(|_| buf)
        })
    });
    let err = child.stderr.take().map(|pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.take(64 << 10).read_to_end(&mut buf);
            buf
        })
    });
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Io(e));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The pipes closed with the process, so the threads end.
            return Err(RunError::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = match out.map(|t| t.join()) {
        Some(Ok(Ok(buf))) => buf,
        Some(Ok(Err(e))) => return Err(RunError::Io(e)),
        _ => Vec::new(),
    };
    let stderr = err.and_then(|t| t.join().ok()).unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        let text = String::from_utf8_lossy(&stderr);
        Err(RunError::Failed {
            status,
            stderr: truncate(text.trim(), MAX_STDERR_CHARS).into_owned(),
        })
    }
}

fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()).into(),
        None => text.into(),
    }
}

/// Address family of a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Family {
    V4,
    V6,
}

impl Family {
    const ALL: [Family; 2] = [Family::V4, Family::V6];

    fn set(self) -> &'static str {
        match self {
            Family::V4 => "ban4",
            Family::V6 => "ban6",
        }
    }

    fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Family::V4 => "ip saddr @ban4 counter drop",
            Family::V6 => "ip6 saddr @ban6 counter drop",
        }
    }

    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    fn addr(self, n: u128) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    fn parse(self, text: &str) -> Option<u128> {
        match (self, text.parse::<IpAddr>().ok()?) {
            (Family::V4, IpAddr::V4(a)) => Some(u32::from(a).into()),
            (Family::V6, IpAddr::V6(a)) => Some(u128::from(a)),
            _ => None,
        }
    }
}

/// An inclusive address interval inside one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Span {
    start: u128,
    end: u128,
}

impl Span {
    fn of(net: IpNet) -> (Family, Span) {
        match net {
            IpNet::V4(n) => (
                Family::V4,
                Span {
                    start: u32::from(n.network()).into(),
                    end: u32::from(n.broadcast()).into(),
                },
            ),
            IpNet::V6(n) => (
                Family::V6,
                Span {
                    start: u128::from(n.network()),
                    end: u128::from(n.broadcast()),
                },
            ),
        }
    }

    /// The element as nft writes it: an address, a prefix, or a range.
    fn render(self, family: Family, out: &mut String) {
        use std::fmt::Write as _;
        let size_minus_one = self.end - self.start;
        let start = family.addr(self.start);
        if size_minus_one == 0 {
            let _ = write!(out, "{start}");
        } else if (size_minus_one & size_minus_one.wrapping_add(1)) == 0
            && self.start & size_minus_one == 0
        {
            let host_bits = 128 - size_minus_one.leading_zeros();
            let _ = write!(out, "{start}/{}", family.bits() - host_bits);
        } else {
            let _ = write!(out, "{start}-{}", family.addr(self.end));
        }
    }
}

/// Elements wanted in one set: disjoint spans with their timeout in whole
/// seconds (`None`: permanent).
type Wanted = HashMap<Family, Vec<(Span, Option<u64>)>>;

/// The bans the kernel should hold. nftables refuses overlapping intervals,
/// so overlapping decisions are resolved here: each address is covered once,
/// by the longest-lived decision covering it (a /24 for 1h containing a /32
/// for 4h becomes the /32 for 4h plus the rest of the /24 for 1h).
fn wanted(effective: &[Decision], now: Timestamp) -> Wanted {
    let mut by_family: HashMap<Family, Vec<(Span, Option<u64>)>> = HashMap::new();
    for d in effective {
        if d.kind != DecisionKind::Ban {
            continue;
        }
        let Some(net) = d.scope.network(&d.value) else {
            continue;
        };
        let timeout = match d.expires_at {
            None => None,
            Some(exp) => {
                let ms = (exp - now).num_milliseconds();
                if ms <= 0 {
                    continue;
                }
                Some((ms as u64).div_ceil(1000).max(1))
            }
        };
        let (family, span) = Span::of(riposte_model::canonical_net(net));
        by_family.entry(family).or_default().push((span, timeout));
    }
    let mut out = Wanted::new();
    for family in Family::ALL {
        let mut items = by_family.remove(&family).unwrap_or_default();
        // Longest-lived first (permanent before any timeout), so what is
        // already covered is covered at least as long.
        items.sort_by(|a, b| {
            let life = |t: Option<u64>| t.unwrap_or(u64::MAX);
            life(b.1).cmp(&life(a.1)).then(a.0.cmp(&b.0))
        });
        let mut covered: BTreeMap<u128, u128> = BTreeMap::new();
        let mut elems = Vec::new();
        for (span, timeout) in items {
            for gap in uncovered(&covered, span) {
                elems.push((gap, timeout));
            }
            cover(&mut covered, span);
        }
        elems.sort();
        out.insert(family, elems);
    }
    out
}

/// The parts of `span` not in `covered` (disjoint, merged intervals keyed
/// by start).
fn uncovered(covered: &BTreeMap<u128, u128>, span: Span) -> Vec<Span> {
    let mut gaps = Vec::new();
    let mut next = span.start;
    let first = covered
        .range(..=span.start)
        .next_back()
        .map(|(s, _)| *s)
        .unwrap_or(span.start);
    for (&s, &e) in covered.range(first..=span.end) {
        if e < next {
            continue;
        }
        if s > next {
            gaps.push(Span {
                start: next,
                end: s - 1,
            });
        }
        if e >= span.end {
            return gaps;
        }
        next = e + 1;
    }
    gaps.push(Span {
        start: next,
        end: span.end,
    });
    gaps
}

fn cover(covered: &mut BTreeMap<u128, u128>, span: Span) {
    let mut start = span.start;
    let mut end = span.end;
    let from = covered
        .range(..=span.start)
        .next_back()
        .map(|(s, _)| *s)
        .unwrap_or(span.start);
    let touching: Vec<(u128, u128)> = covered
        .range(from..=span.end.saturating_add(1))
        .filter(|(_, e)| e.saturating_add(1) >= span.start)
        .map(|(s, e)| (*s, *e))
        .collect();
    for (s, e) in touching {
        covered.remove(&s);
        start = start.min(s);
        end = end.max(e);
    }
    covered.insert(start, end);
}

/// The table as read from the kernel.
#[derive(Debug)]
enum Current {
    Absent,
    /// There, but not the shape this configuration wants.
    Mismatch(String),
    /// Elements with their remaining seconds (`None`: no timeout).
    Ready(HashMap<Family, HashMap<Span, Option<u64>>>),
}

/// Reads `nft -j list table` output: checks the table is exactly the sets,
/// chains and rules this configuration creates, and collects the elements.
fn parse_listing(config: &NftConfig, json: &[u8]) -> Current {
    match parse_listing_inner(config, json) {
        Ok(current) => current,
        Err(why) => Current::Mismatch(why),
    }
}

fn parse_listing_inner(config: &NftConfig, json: &[u8]) -> Result<Current, String> {
    let doc: Value =
        serde_json::from_slice(json).map_err(|e| format!("unreadable listing: {e}"))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("listing without \"nftables\"")?;
    let mut sets: HashMap<Family, HashMap<Span, Option<u64>>> = HashMap::new();
    let mut chains: HashSet<String> = HashSet::new();
    let mut rules: HashMap<String, Vec<String>> = HashMap::new();
    for item in items {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            return Err("unexpected listing item".into());
        };
        match kind.as_str() {
            "metainfo" | "table" => {}
            "set" => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("");
                let family = Family::ALL
                    .into_iter()
                    .find(|f| f.set() == name)
                    .ok_or_else(|| format!("unexpected set {name:?}"))?;
                if body.get("type").and_then(Value::as_str) != Some(family.addr_type()) {
                    return Err(format!("set {name} has another type"));
                }
                let mut flags: Vec<&str> = body
                    .get("flags")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                flags.sort_unstable();
                if flags != ["interval", "timeout"] {
                    return Err(format!("set {name} has flags {flags:?}"));
                }
                let mut elems = HashMap::new();
                for e in body
                    .get("elem")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (span, expires) = parse_elem(family, e)
                        .ok_or_else(|| format!("unexpected element {e} in set {name}"))?;
                    elems.insert(span, expires);
                }
                sets.insert(family, elems);
            }
            "chain" => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("");
                let hook = config
                    .hooks
                    .iter()
                    .find(|h| h.as_str() == name)
                    .ok_or_else(|| format!("unexpected chain {name:?}"))?;
                let ok = body.get("type").and_then(Value::as_str) == Some("filter")
                    && body.get("hook").and_then(Value::as_str) == Some(hook.as_str())
                    && body.get("prio").and_then(Value::as_i64) == Some(config.priority.into())
                    && body.get("policy").and_then(Value::as_str) == Some("accept");
                if !ok {
                    return Err(format!("chain {name} has another hook, priority or policy"));
                }
                chains.insert(name.to_owned());
            }
            "rule" => {
                let chain = body.get("chain").and_then(Value::as_str).unwrap_or("");
                let shape = body
                    .get("expr")
                    .and_then(rule_shape)
                    .ok_or_else(|| format!("unexpected rule in chain {chain}"))?;
                rules.entry(chain.to_owned()).or_default().push(shape);
            }
            other => return Err(format!("unexpected {other} in the table")),
        }
    }
    for family in Family::ALL {
        if !sets.contains_key(&family) {
            return Err(format!("set {} missing", family.set()));
        }
    }
    let expected_rules: Vec<String> = Family::ALL.iter().map(|f| f.rule().to_owned()).collect();
    for hook in &config.hooks {
        if !chains.contains(hook.as_str()) {
            return Err(format!("chain {} missing", hook.as_str()));
        }
        if rules.get(hook.as_str()) != Some(&expected_rules) {
            return Err(format!("chain {} has other rules", hook.as_str()));
        }
    }
    if rules.keys().any(|c| !chains.contains(c)) {
        return Err("rules outside the expected chains".into());
    }
    Ok(Current::Ready(sets))
}

/// `ip saddr @ban4 counter drop` (or the ip6 one) when the rule is exactly
/// that, counter values aside.
fn rule_shape(expr: &Value) -> Option<String> {
    let [m, counter, drop] = expr.as_array()?.as_slice() else {
        return None;
    };
    let m = m.get("match")?;
    let payload = m.get("left")?.get("payload")?;
    let protocol = payload.get("protocol")?.as_str()?;
    if m.get("op")?.as_str()? != "==" || payload.get("field")?.as_str()? != "saddr" {
        return None;
    }
    let set = m.get("right")?.as_str()?;
    counter.get("counter")?;
    if !drop.as_object()?.contains_key("drop") {
        return None;
    }
    let shape = format!("{protocol} saddr {set} counter drop");
    Family::ALL
        .iter()
        .any(|f| f.rule() == shape)
        .then_some(shape)
}

/// One element of a listing: `"addr"`, `{"prefix": …}`, `{"range": […]}`, or
/// any of those wrapped in `{"elem": {"val": …, "timeout": …, "expires": …}}`.
fn parse_elem(family: Family, v: &Value) -> Option<(Span, Option<u64>)> {
    if let Some(inner) = v.get("elem") {
        let span = parse_key(family, inner.get("val")?)?;
        let expires = match (inner.get("expires"), inner.get("timeout")) {
            (Some(e), _) => Some(e.as_u64()?),
            (None, Some(t)) => Some(t.as_u64()?),
            (None, None) => None,
        };
        return Some((span, expires));
    }
    Some((parse_key(family, v)?, None))
}

fn parse_key(family: Family, v: &Value) -> Option<Span> {
    if let Some(addr) = v.as_str() {
        let a = family.parse(addr)?;
        return Some(Span { start: a, end: a });
    }
    if let Some(p) = v.get("prefix") {
        let addr = p.get("addr")?.as_str()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        let net = IpNet::new(addr.parse().ok()?, len).ok()?;
        let (f, span) = Span::of(net);
        return (f == family).then_some(span);
    }
    if let Some([a, b]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        let start = family.parse(a.as_str()?)?;
        let end = family.parse(b.as_str()?)?;
        return (start <= end).then_some(Span { start, end });
    }
    None
}

/// The transaction that takes `current` to `wanted`.
fn plan(config: &NftConfig, current: Current, wanted: Wanted) -> NftPlan {
    let table = config.table.as_str();
    let mut script = String::new();
    let mut plan = NftPlan {
        recreate: None,
        added: 0,
        deleted: 0,
        refreshed: 0,
        script: String::new(),
    };
    let have = match current {
        Current::Ready(have) => have,
        Current::Absent => {
            plan.recreate = Some("table absent".into());
            HashMap::new()
        }
        Current::Mismatch(why) => {
            plan.recreate = Some(why);
            HashMap::new()
        }
    };
    if plan.recreate.is_some() {
        // `add` first so that `delete` cannot fail on a missing table; the
        // three run in one transaction, so there is no moment without bans.
        script.push_str(&format!(
            "add table inet {table}\ndelete table inet {table}\n"
        ));
        script.push_str(&table_definition(config));
    }
    let empty = HashMap::new();
    for family in Family::ALL {
        let want = wanted.get(&family).map(Vec::as_slice).unwrap_or_default();
        let have = have.get(&family).unwrap_or(&empty);
        let mut add: Vec<(Span, Option<u64>)> = Vec::new();
        let mut delete: Vec<Span> = Vec::new();
        let mut refreshed = 0;
        let want_spans: HashSet<Span> = want.iter().map(|(s, _)| *s).collect();
        for &(span, timeout) in want {
            match have.get(&span) {
                None => add.push((span, timeout)),
                Some(&expires) if close(timeout, expires) => {}
                Some(&expires) => {
                    refreshed += 1;
                    // One about to expire is re-added without a delete:
                    // `add` of an existing element is a no-op that cannot
                    // fail, and once it lapses the next pass adds it back.
                    if expires.is_none_or(|e| e > NEAR_EXPIRY_SECS) {
                        delete.push(span);
                    }
                    add.push((span, timeout));
                }
            }
        }
        let mut extra: Vec<(Span, Option<u64>)> = have
            .iter()
            .filter(|(s, _)| !want_spans.contains(s))
            .map(|(s, e)| (*s, *e))
            .collect();
        extra.sort();
        add.sort();
        for (span, expires) in extra {
            // Left to lapse by itself when about to, unless an added element
            // overlaps it (nftables refuses overlapping intervals).
            let lapsing = expires.is_some_and(|e| e <= NEAR_EXPIRY_SECS);
            if !lapsing || overlaps_any(&add, span) {
                delete.push(span);
                plan.deleted += 1;
            }
        }
        plan.added += add.len() - refreshed;
        plan.refreshed += refreshed;
        delete.sort();
        let set = family.set();
        for chunk in delete.chunks(ELEMENTS_PER_STATEMENT) {
            script.push_str(&format!("delete element inet {table} {set} {{ "));
            for (i, span) in chunk.iter().enumerate() {
                if i > 0 {
                    script.push_str(", ");
                }
                span.render(family, &mut script);
            }
            script.push_str(" }\n");
        }
        for chunk in add.chunks(ELEMENTS_PER_STATEMENT) {
            script.push_str(&format!("add element inet {table} {set} {{ "));
            for (i, (span, timeout)) in chunk.iter().enumerate() {
                if i > 0 {
                    script.push_str(", ");
                }
                span.render(family, &mut script);
                if let Some(t) = timeout {
                    script.push_str(&format!(" timeout {t}s"));
                }
            }
            script.push_str(" }\n");
        }
    }
    plan.script = script;
    plan
}

fn close(want: Option<u64>, have: Option<u64>) -> bool {
    match (want, have) {
        (None, None) => true,
        (Some(w), Some(h)) => w.abs_diff(h) <= TIMEOUT_TOLERANCE_SECS,
        _ => false,
    }
}

/// Whether `span` overlaps any span of `sorted` (sorted by start).
fn overlaps_any(sorted: &[(Span, Option<u64>)], span: Span) -> bool {
    let i = sorted.partition_point(|(s, _)| s.start <= span.end);
    // Spans in `sorted` are disjoint, so only the last one starting at or
    // before `span.end` can reach into it.
    i > 0 && sorted[i - 1].0.end >= span.start
}

fn table_definition(config: &NftConfig) -> String {
    let mut s = format!("table inet {} {{\n", config.table);
    for family in Family::ALL {
        s.push_str(&format!(
            "\tset {} {{\n\t\ttype {}\n\t\tflags interval,timeout\n\t}}\n",
            family.set(),
            family.addr_type()
        ));
    }
    for hook in &config.hooks {
        s.push_str(&format!(
            "\tchain {h} {{\n\t\ttype filter hook {h} priority {p}; policy accept;\n",
            h = hook.as_str(),
            p = config.priority
        ));
        for family in Family::ALL {
            s.push_str(&format!("\t\t{}\n", family.rule()));
        }
        s.push_str("\t}\n");
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

    use chrono::{TimeDelta, TimeZone, Utc};
    use riposte_model::{Origin, Scope};

    use super::*;
    use crate::EnforcerConfig;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 27, 35).unwrap()
    }

    fn ban(scope: Scope, value: &str, ttl: Option<TimeDelta>) -> Decision {
        let alice = Origin::User {
            name: "alice".into(),
        };
        let value = scope.normalize(value).unwrap();
        Decision {
            expires_at: ttl.map(|t| now() + t),
            ..Decision::active(DecisionKind::Ban, scope, value, alice, now())
        }
    }

    fn config(json: serde_json::Value) -> Result<NftConfig, String> {
        match serde_json::from_value::<EnforcerConfig>(json).map_err(|e| e.to_string())? {
            EnforcerConfig::Nftables(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    fn current(elems: &[(Family, &str, Option<u64>)]) -> Current {
        let mut sets: HashMap<Family, HashMap<Span, Option<u64>>> = HashMap::new();
        for f in Family::ALL {
            sets.insert(f, HashMap::new());
        }
        for &(f, net, exp) in elems {
            let (fam, span) = Span::of(net.parse().unwrap());
            assert_eq!(fam, f);
            sets.get_mut(&f).unwrap().insert(span, exp);
        }
        Current::Ready(sets)
    }

    #[test]
    fn config_defaults_and_validation() {
        assert_eq!(
            config(serde_json::json!({"type": "nftables"})).unwrap(),
            NftConfig::default()
        );
        let c = config(serde_json::json!({"type": "nftables", "table": "fw_1",
            "hooks": ["input", "forward"], "priority": -5, "netns": "ns-1", "nft": "/usr/sbin/nft",
            "timeout": "2s", "dry_run": true}))
        .unwrap();
        assert_eq!(c.table.as_str(), "fw_1");
        assert_eq!(c.hooks, [NftHook::Input, NftHook::Forward]);
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert!(c.dry_run);
        for (bad, msg) in [
            (
                serde_json::json!({"type": "nftables", "tabel": "x"}),
                "unknown field `tabel`",
            ),
            (
                serde_json::json!({"type": "nftables", "table": "x; flush ruleset"}),
                "invalid name \"x; flush ruleset\"",
            ),
            (
                serde_json::json!({"type": "nftables", "netns": "../x"}),
                "invalid name \"../x\"",
            ),
            (
                serde_json::json!({"type": "nftables", "timeout": "soon"}),
                "invalid duration \"soon\"",
            ),
            (
                serde_json::json!({"type": "nftables", "hooks": []}),
                "at least one",
            ),
            (
                serde_json::json!({"type": "nftables", "hooks": ["input", "input"]}),
                "repeats a hook",
            ),
            (
                serde_json::json!({"type": "nftables", "hooks": ["output"]}),
                "unknown variant `output`",
            ),
        ] {
            let err = config(bad.clone()).unwrap_err();
            assert!(err.contains(msg), "{bad}: {err}");
        }
    }

    #[test]
    fn creates_the_table_with_every_ban_and_its_timeout() {
        let decisions = [
            ban(Scope::Ip, "203.0.113.7", Some(TimeDelta::hours(4))),
            // Rounded up to whole seconds.
            ban(
                Scope::Ip,
                "2001:db8::7",
                Some(TimeDelta::milliseconds(1500)),
            ),
            ban(Scope::Range, "198.51.100.0/24", None),
            // IPv4-mapped IPv6 is the IPv4 address; duplicates collapse.
            ban(Scope::Ip, "::ffff:203.0.113.7", Some(TimeDelta::hours(1))),
            ban(Scope::User, "mallory", None),
            // Already over: not enforced.
            ban(Scope::Ip, "192.0.2.1", Some(TimeDelta::seconds(-1))),
        ];
        let p = plan(
            &NftConfig::default(),
            Current::Absent,
            wanted(&decisions, now()),
        );
        assert_eq!(
            p.script(),
            "add table inet riposte\n\
             delete table inet riposte\n\
             table inet riposte {\n\
             \tset ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval,timeout\n\t}\n\
             \tset ban6 {\n\t\ttype ipv6_addr\n\t\tflags interval,timeout\n\t}\n\
             \tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\
             \t\tip saddr @ban4 counter drop\n\t\tip6 saddr @ban6 counter drop\n\t}\n\
             }\n\
             add element inet riposte ban4 { 198.51.100.0/24, 203.0.113.7 timeout 14400s }\n\
             add element inet riposte ban6 { 2001:db8::7 timeout 2s }\n"
        );
        assert_eq!(p.recreate.as_deref(), Some("table absent"));
        assert_eq!((p.added, p.deleted, p.refreshed), (3, 0, 0));
    }

    #[test]
    fn overlapping_bans_become_disjoint_elements_each_as_long_as_its_longest_ban() {
        let decisions = [
            ban(Scope::Range, "10.0.0.0/24", Some(TimeDelta::hours(1))),
            ban(Scope::Ip, "10.0.0.5", Some(TimeDelta::hours(4))),
            // Inside the /24 and shorter: covered by it.
            ban(Scope::Ip, "10.0.0.9", Some(TimeDelta::minutes(5))),
            ban(Scope::Range, "10.0.0.128/25", None),
        ];
        let w = wanted(&decisions, now());
        let mut s = String::new();
        for (span, t) in &w[&Family::V4] {
            span.render(Family::V4, &mut s);
            s.push_str(&format!(" {t:?}\n"));
        }
        assert_eq!(
            s,
            "10.0.0.0-10.0.0.4 Some(3600)\n\
             10.0.0.5 Some(14400)\n\
             10.0.0.6-10.0.0.127 Some(3600)\n\
             10.0.0.128/25 None\n"
        );
    }

    #[test]
    fn uncovered_and_cover_keep_disjoint_intervals() {
        let mut covered = BTreeMap::new();
        let sp = |start, end| Span { start, end };
        cover(&mut covered, sp(10, 19));
        cover(&mut covered, sp(30, 39));
        assert_eq!(
            uncovered(&covered, sp(0, 50)),
            [sp(0, 9), sp(20, 29), sp(40, 50)]
        );
        assert_eq!(uncovered(&covered, sp(12, 15)), []);
        assert_eq!(uncovered(&covered, sp(15, 32)), [sp(20, 29)]);
        cover(&mut covered, sp(20, 29));
        assert_eq!(covered.into_iter().collect::<Vec<_>>(), [(10, 39)]);
    }

    #[test]
    fn a_table_that_matches_is_left_alone() {
        let decisions = [
            ban(Scope::Ip, "203.0.113.7", Some(TimeDelta::hours(4))),
            ban(Scope::Range, "2001:db8::/48", None),
        ];
        let have = current(&[
            // Within the tolerance of 14,400 s.
            (Family::V4, "203.0.113.7/32", Some(14_396)),
            (Family::V6, "2001:db8::/48", None),
        ]);
        let p = plan(&NftConfig::default(), have, wanted(&decisions, now()));
        assert!(p.is_noop(), "{p}");
        assert_eq!((p.added, p.deleted, p.refreshed), (0, 0, 0));
    }

    #[test]
    fn the_diff_adds_deletes_and_refreshes_in_one_script() {
        let decisions = [
            ban(Scope::Ip, "203.0.113.7", Some(TimeDelta::hours(4))),
            ban(Scope::Ip, "203.0.113.8", Some(TimeDelta::hours(24))),
            ban(Scope::Ip, "2001:db8::1", Some(TimeDelta::hours(1))),
        ];
        let have = current(&[
            (Family::V4, "203.0.113.7/32", Some(14_400)),
            // Extended from 1h to 24h: replaced.
            (Family::V4, "203.0.113.8/32", Some(3_000)),
            // Revoked: deleted.
            (Family::V4, "192.0.2.0/24", Some(600)),
            (Family::V6, "2001:db8::2/128", None),
            // Revoked but about to lapse: left to lapse.
            (Family::V4, "192.0.2.200/32", Some(1)),
        ]);
        let p = plan(&NftConfig::default(), have, wanted(&decisions, now()));
        assert_eq!(
            p.script(),
            "delete element inet riposte ban4 { 192.0.2.0/24, 203.0.113.8 }\n\
             add element inet riposte ban4 { 203.0.113.8 timeout 86400s }\n\
             delete element inet riposte ban6 { 2001:db8::2 }\n\
             add element inet riposte ban6 { 2001:db8::1 timeout 3600s }\n"
        );
        assert_eq!(p.recreate, None);
        assert_eq!((p.added, p.deleted, p.refreshed), (1, 2, 1));
    }

    #[test]
    fn a_lapsing_element_in_the_way_of_a_new_one_is_deleted() {
        let decisions = [ban(Scope::Range, "192.0.2.0/24", Some(TimeDelta::hours(1)))];
        let have = current(&[(Family::V4, "192.0.2.200/32", Some(1))]);
        let p = plan(&NftConfig::default(), have, wanted(&decisions, now()));
        assert_eq!(
            p.script(),
            "delete element inet riposte ban4 { 192.0.2.200 }\n\
             add element inet riposte ban4 { 192.0.2.0/24 timeout 3600s }\n"
        );
    }

    /// `nft -j list table inet riposte` from nftables 1.0.6.
    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "riposte", "handle": 1}},
 {"set": {"family": "inet", "name": "ban4", "table": "riposte", "type": "ipv4_addr", "handle": 2, "flags": ["interval", "timeout"],
  "elem": [{"elem": {"val": "10.0.0.1", "timeout": 100, "expires": 99}},
           {"elem": {"val": {"prefix": {"addr": "10.1.0.0", "len": 16}}, "timeout": 3600, "expires": 3599}},
           {"range": ["10.2.0.1", "10.2.0.5"]}, {"prefix": {"addr": "10.3.0.0", "len": 24}}]}},
 {"set": {"family": "inet", "name": "ban6", "table": "riposte", "type": "ipv6_addr", "handle": 3, "flags": ["interval", "timeout"],
  "elem": [{"elem": {"val": "fd00::1", "timeout": 5, "expires": 4}}, {"prefix": {"addr": "fd01::", "len": 64}}]}},
 {"chain": {"family": "inet", "table": "riposte", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}},
 {"rule": {"family": "inet", "table": "riposte", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@ban4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}},
 {"rule": {"family": "inet", "table": "riposte", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@ban6"}}, {"counter": {"packets": 7, "bytes": 420}}, {"drop": null}]}}]}"#;

    #[test]
    fn reads_elements_back_from_a_listing() {
        let Current::Ready(sets) = parse_listing(&NftConfig::default(), LISTING.as_bytes()) else {
            panic!("not ready");
        };
        let mut v4: Vec<String> = sets[&Family::V4]
            .iter()
            .map(|(span, exp)| {
                let mut s = String::new();
                span.render(Family::V4, &mut s);
                format!("{s} {exp:?}")
            })
            .collect();
        v4.sort();
        assert_eq!(
            v4,
            [
                "10.0.0.1 Some(99)",
                "10.1.0.0/16 Some(3599)",
                "10.2.0.1-10.2.0.5 None",
                "10.3.0.0/24 None"
            ]
        );
        assert_eq!(sets[&Family::V6].len(), 2);
    }

    #[test]
    fn a_table_of_another_shape_is_recreated() {
        let forward = NftConfig {
            hooks: vec![NftHook::Input, NftHook::Forward],
            ..NftConfig::default()
        };
        let other_priority = NftConfig {
            priority: 0,
            ..NftConfig::default()
        };
        let extra_rule = LISTING.replace(
            "]}}]}",
            r#"]}}, {"rule": {"family": "inet", "table": "riposte", "chain": "input", "handle": 6, "expr": [{"accept": null}]}}]}"#,
        );
        for (config, listing, why) in [
            (&forward, LISTING.to_owned(), "chain forward missing"),
            (
                &other_priority,
                LISTING.to_owned(),
                "chain input has another hook, priority or policy",
            ),
            (
                &NftConfig::default(),
                extra_rule,
                "unexpected rule in chain input",
            ),
            (
                &NftConfig::default(),
                LISTING.replace("\"interval\", ", ""),
                "set ban4 has flags [\"timeout\"]",
            ),
        ] {
            match parse_listing(config, listing.as_bytes()) {
                Current::Mismatch(got) => assert_eq!(got, why),
                other => panic!("{why}: {other:?}"),
            }
        }
        let p = plan(
            &forward,
            parse_listing(&forward, LISTING.as_bytes()),
            Wanted::new(),
        );
        assert!(
            p.script()
                .starts_with("add table inet riposte\ndelete table inet riposte\n"),
            "{p}"
        );
        assert!(
            p.script().contains(
                "\tchain forward {\n\t\ttype filter hook forward priority -10; policy accept;\n"
            ),
            "{p}"
        );
    }

    fn fake_nft(dir: &tempfile::TempDir, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("nft");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_hanging_nft_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let e = NftEnforcer::new(NftConfig {
            nft: fake_nft(&dir, "exec sleep 30"),
            timeout: Duration::from_millis(200),
            ..NftConfig::default()
        });
        let decisions = [ban(Scope::Ip, "203.0.113.7", None)];
        let err = e.apply(&decisions, now()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string().starts_with("nftables:inet riposte: `"),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(
                "-j list table inet riposte` did not finish within 200ms and was killed"
            ),
            "{err}"
        );
    }

    #[test]
    fn nft_errors_name_the_enforcer_and_carry_bounded_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let e = NftEnforcer::new(NftConfig {
            nft: fake_nft(
                &dir,
                "printf 'Error: Operation not permitted%05000d' 0 >&2; exit 1",
            ),
            ..NftConfig::default()
        });
        let err = e.apply(&[], now()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let msg = err.to_string();
        assert!(msg.starts_with("nftables:inet riposte: `"), "{msg}");
        assert!(
            msg.contains("failed (exit status: 1): Error: Operation not permitted0000"),
            "{msg}"
        );
        assert!(msg.ends_with("… (5030 bytes in all)"), "{msg}");
        assert!(msg.len() < 2300, "{}", msg.len());

        let missing = NftEnforcer::new(NftConfig {
            nft: dir.path().join("no-such-nft"),
            ..NftConfig::default()
        });
        let err = missing.apply(&[], now()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with("nftables:inet riposte: cannot run "),
            "{err}"
        );
        assert!(err.to_string().contains("no-such-nft"), "{err}");
    }

    #[test]
    fn the_script_goes_to_nft_on_stdin_and_a_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // Reports the table absent, records every `-f -` script.
        let nft = fake_nft(
            &dir,
            &format!(
                "case \"$1\" in -j) echo 'Error: No such file or directory' >&2; exit 1;; \
                 -f) cat >> {log}; echo '--' >> {log};; esac",
                log = log.display()
            ),
        );
        let decisions = [ban(Scope::Ip, "203.0.113.7", Some(TimeDelta::hours(1)))];
        let dry = NftEnforcer::new(NftConfig {
            nft: nft.clone(),
            dry_run: true,
            ..NftConfig::default()
        });
        dry.apply(&decisions, now()).unwrap();
        assert!(!log.exists());
        let planned = dry.plan(&decisions, now()).unwrap();
        let live = NftEnforcer::new(NftConfig {
            nft,
            ..NftConfig::default()
        });
        let applied = live.reconcile(&decisions, now()).unwrap();
        assert_eq!(planned, applied);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("{}--\n", applied.script())
        );
    }
}
