//! The nftables enforcer against the real kernel, inside network namespaces
//! made for each test: "fw" runs the enforcer, "attacker" is joined to it by
//! a veth pair and owns two IPv4 and two IPv6 addresses, one of each to ban.
//! The host's own ruleset is compared before and after.
//!
//! Needs root, `ip` (iproute2) and `nft`; without them the tests print why
//! and pass, unless `RIPOSTE_REQUIRE_NFT=1` (set by .ci/run) makes them fail.
//!
//! Traffic is probed by running this test binary again inside the attacker
//! namespace (`ip netns exec … <this binary> --exact probe_helper`), which
//! connects over TCP from a chosen source address: a refused connection (the
//! fw namespace answered with a reset) means the packet got through, a
//! timeout means it was dropped. No other tool is needed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use riposte_model::{Decision, DecisionKind, Origin, Scope, Timestamp};
use riposte_respond::{NftConfig, NftEnforcer, NftName};

const FW4: &str = "10.201.0.1";
const BANNED4: &str = "10.201.0.2";
const OTHER4: &str = "10.201.0.3";
const FW6: &str = "fd00:201::1";
const BANNED6: &str = "fd00:201::2";
const OTHER6: &str = "fd00:201::3";

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace, deleted when dropped (also when a test panics).
struct Netns(String);

impl Netns {
    fn new(name: String) -> Result<Self, String> {
        sh(&["ip", "netns", "add", &name])?;
        Ok(Netns(name))
    }

    fn run(&self, args: &[&str]) -> String {
        let mut argv = vec!["ip", "netns", "exec", &self.0];
        argv.extend_from_slice(args);
        sh(&argv).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.0]);
    }
}

struct Lab {
    fw: Netns,
    attacker: Netns,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The two namespaces and the veth pair, or `None` (after saying why) when
/// this machine cannot make them.
fn lab() -> Option<Lab> {
    match try_lab() {
        Ok(lab) => Some(lab),
        Err(why) if std::env::var("RIPOSTE_REQUIRE_NFT").is_ok_and(|v| v == "1") => {
            panic!("RIPOSTE_REQUIRE_NFT=1 but the nftables lab cannot be built: {why}")
        }
        Err(why) => {
            eprintln!("skipping: {why} (set RIPOSTE_REQUIRE_NFT=1 to fail instead)");
            None
        }
    }
}

fn try_lab() -> Result<Lab, String> {
    sh(&["nft", "--version"])?;
    sh(&["ip", "-V"])?;
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let id = format!("{}-{n}", std::process::id());
    let fw = Netns::new(format!("riposte-fw-{id}"))?;
    let attacker = Netns::new(format!("riposte-at-{id}"))?;
    let (f, a) = (fw.0.as_str(), attacker.0.as_str());
    // Fixed MACs and permanent neighbour entries: no ARP, no neighbour
    // discovery (and no duplicate address detection), so the first packet
    // of every probe goes straight out and only the firewall decides.
    const FW_MAC: &str = "02:00:5e:c9:00:01";
    const AT_MAC: &str = "02:00:5e:c9:00:02";
    sh(&[
        "ip", "-n", f, "link", "add", "veth0", "address", FW_MAC, "type", "veth", "peer", "name",
        "veth1", "address", AT_MAC, "netns", a,
    ])?;
    for addr in [BANNED4, OTHER4, BANNED6, OTHER6] {
        sh(&[
            "ip",
            "-n",
            f,
            "neigh",
            "add",
            addr,
            "lladdr",
            AT_MAC,
            "dev",
            "veth0",
            "nud",
            "permanent",
        ])?;
    }
    for addr in [FW4, FW6] {
        sh(&[
            "ip",
            "-n",
            a,
            "neigh",
            "add",
            addr,
            "lladdr",
            FW_MAC,
            "dev",
            "veth1",
            "nud",
            "permanent",
        ])?;
    }
    for (ns, addrs) in [
        (f, vec![format!("{FW4}/24"), format!("{FW6}/64")]),
        (
            a,
            vec![
                format!("{BANNED4}/24"),
                format!("{OTHER4}/24"),
                format!("{BANNED6}/64"),
                format!("{OTHER6}/64"),
            ],
        ),
    ] {
        let dev = if ns == f { "veth0" } else { "veth1" };
        for addr in &addrs {
            let mut argv = vec!["ip", "-n", ns, "addr", "add", addr.as_str(), "dev", dev];
            if addr.contains(':') {
                argv.push("nodad");
            }
            sh(&argv)?;
        }
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
    }
    Ok(Lab { fw, attacker })
}

impl Lab {
    fn enforcer(&self) -> NftEnforcer {
        NftEnforcer::new(NftConfig {
            netns: Some(NftName::new(&self.fw.0).unwrap()),
            ..NftConfig::default()
        })
    }

    /// Whether a TCP SYN from `src` reaches the fw namespace.
    fn reaches(&self, src: &str, dst: &str) -> bool {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.attacker.0])
            .arg(exe)
            .args(["--exact", "probe_helper", "--ignored", "--nocapture"])
            .env("RIPOSTE_NFT_PROBE", format!("{src} {dst}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.contains("probe: reached") {
            true
        } else if stdout.contains("probe: dropped") {
            false
        } else {
            panic!(
                "probe from {src} failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        }
    }

    fn assert_traffic(&self, expected: [(&str, bool); 4]) {
        let got: Vec<(&str, bool)> = expected
            .iter()
            .map(|&(src, _)| {
                let dst = if src.contains(':') { FW6 } else { FW4 };
                (src, self.reaches(src, dst))
            })
            .collect();
        assert_eq!(got, expected, "(source, reaches fw)");
    }
}

/// Not a test: the probe run inside the attacker namespace by [`Lab::reaches`].
#[test]
#[ignore = "helper run by the other tests inside a network namespace"]
fn probe_helper() {
    let Ok(spec) = std::env::var("RIPOSTE_NFT_PROBE") else {
        return;
    };
    let (src, dst) = spec.split_once(' ').unwrap();
    let src: std::net::IpAddr = src.parse().unwrap();
    let dst = std::net::SocketAddr::new(dst.parse().unwrap(), 9);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let socket = match src {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(std::net::SocketAddr::new(src, 0)).unwrap();
        tokio::time::timeout(Duration::from_secs(1), socket.connect(dst)).await
    });
    match outcome {
        // Nothing listens on port 9: a reset came back, so the SYN got in.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            println!("probe: reached")
        }
        Ok(Ok(_)) => println!("probe: reached"),
        Err(_) => println!("probe: dropped"),
        Ok(Err(e)) => println!("probe: error {e}"),
    }
}

fn ban(scope: Scope, value: &str, now: Timestamp, ttl: Option<TimeDelta>) -> Decision {
    let alice = Origin::User {
        name: "alice".into(),
    };
    Decision {
        expires_at: ttl.map(|t| now + t),
        ..Decision::active(DecisionKind::Ban, scope, value, alice, now)
    }
}

fn host_ruleset() -> String {
    sh(&["nft", "list", "ruleset"]).unwrap()
}

#[test]
fn banned_sources_are_dropped_until_revoked_or_expired_and_the_host_is_untouched() {
    let Some(lab) = lab() else { return };
    let host_before = host_ruleset();
    let enforcer = lab.enforcer();
    // Before any ban everything passes (this also resolves neighbours).
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);

    let now = Utc::now();
    let bans = [
        ban(Scope::Ip, BANNED4, now, Some(TimeDelta::hours(1))),
        ban(Scope::Ip, BANNED6, now, Some(TimeDelta::hours(1))),
    ];
    let first = enforcer.reconcile(&bans, now).unwrap();
    assert_eq!(first.recreate.as_deref(), Some("table absent"));
    assert_eq!((first.added, first.deleted, first.refreshed), (2, 0, 0));
    lab.assert_traffic([
        (BANNED4, false),
        (OTHER4, true),
        (BANNED6, false),
        (OTHER6, true),
    ]);

    // The same decisions again: nothing to write.
    let again = enforcer.reconcile(&bans, Utc::now()).unwrap();
    assert!(again.is_noop(), "{again}");

    // Revoked: apply without them.
    let revoke = enforcer.reconcile(&[], Utc::now()).unwrap();
    assert_eq!((revoke.added, revoke.deleted), (0, 2));
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);

    // Short bans lapse by the kernel's element timeout alone. Five seconds
    // leaves room for the four probes (two of them wait 1 s to conclude a
    // drop) on a loaded machine before the bans end.
    let now = Utc::now();
    let short = [
        ban(Scope::Ip, OTHER4, now, Some(TimeDelta::seconds(5))),
        ban(
            Scope::Range,
            "fd00:201::3/128",
            now,
            Some(TimeDelta::seconds(5)),
        ),
    ];
    enforcer.apply(&short, now).unwrap();
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, false),
        (BANNED6, true),
        (OTHER6, false),
    ]);
    let elapsed = (Utc::now() - now).to_std().unwrap();
    assert!(
        elapsed < Duration::from_secs(5),
        "the probes took {elapsed:?}, longer than the bans; the drops above prove nothing"
    );
    std::thread::sleep(Duration::from_millis(6000).saturating_sub(elapsed));
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);

    // A range covers both attacker addresses.
    let now = Utc::now();
    let range = [ban(Scope::Range, "10.201.0.2/31", now, None)];
    enforcer.apply(&range, now).unwrap();
    lab.assert_traffic([
        (BANNED4, false),
        (OTHER4, false),
        (BANNED6, true),
        (OTHER6, true),
    ]);
    assert!(
        lab.fw
            .run(&["nft", "list", "set", "inet", "riposte", "ban4"])
            .contains("elements = { 10.201.0.2/31 }"),
    );

    assert_eq!(host_ruleset(), host_before, "the host's ruleset changed");
}

#[test]
fn other_tables_are_left_alone_and_a_tampered_table_is_rebuilt() {
    let Some(lab) = lab() else { return };
    let other = "table inet other {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr 192.0.2.1 drop\n\t}\n}\n";
    let path = std::env::temp_dir().join(format!("riposte-other-{}.nft", lab.fw.0));
    std::fs::write(&path, other).unwrap();
    lab.fw.run(&["nft", "-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let other_before = lab.fw.run(&["nft", "list", "table", "inet", "other"]);

    let enforcer = lab.enforcer();
    let now = Utc::now();
    let bans = [ban(Scope::Ip, BANNED4, now, Some(TimeDelta::hours(1)))];
    enforcer.apply(&bans, now).unwrap();
    assert_eq!(
        lab.fw.run(&["nft", "list", "table", "inet", "other"]),
        other_before
    );

    // Someone adds an accept rule before ours: the table is rebuilt.
    lab.fw.run(&[
        "nft", "insert", "rule", "inet", "riposte", "input", "ip", "saddr", BANNED4, "accept",
    ]);
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);
    let rebuilt = enforcer.reconcile(&bans, Utc::now()).unwrap();
    assert_eq!(
        rebuilt.recreate.as_deref(),
        Some("unexpected rule in chain input")
    );
    lab.assert_traffic([
        (BANNED4, false),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);
    assert!(enforcer.reconcile(&bans, Utc::now()).unwrap().is_noop());
    assert_eq!(
        lab.fw.run(&["nft", "list", "table", "inet", "other"]),
        other_before
    );
}

#[test]
fn a_dry_run_changes_nothing() {
    let Some(lab) = lab() else { return };
    let enforcer = NftEnforcer::new(NftConfig {
        dry_run: true,
        ..lab.enforcer().config().clone()
    });
    let now = Utc::now();
    let bans = [ban(Scope::Ip, BANNED4, now, Some(TimeDelta::hours(1)))];
    let plan = enforcer.plan(&bans, now).unwrap();
    assert!(
        plan.script()
            .ends_with("add element inet riposte ban4 { 10.201.0.2 timeout 3600s }\n"),
        "{plan}"
    );
    enforcer.apply(&bans, now).unwrap();
    assert_eq!(lab.fw.run(&["nft", "list", "ruleset"]), "");
    lab.assert_traffic([
        (BANNED4, true),
        (OTHER4, true),
        (BANNED6, true),
        (OTHER6, true),
    ]);
}
