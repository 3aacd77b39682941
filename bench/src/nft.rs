//! `riposte-bench N nftables`: the nftables enforcer with 10,000 and 100,000
//! active decisions, in a network namespace of its own (deleted at the end),
//! so the host's ruleset is never touched. Needs root, `ip` and `nft`;
//! without them it says why and skips.
//!
//! Timed by wall time (most of the work is nft's and the kernel's): the
//! first apply (table created with every element), a no-op reconcile (list,
//! parse, compare, nothing written), a reconcile with one ban added and one
//! revoked, and nft's listing alone (the part of a no-op reconcile that is
//! not ours).

use std::process::Command;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use riposte_model::{Decision, DecisionKind, Origin, Scope};
use riposte_respond::{NftConfig, NftEnforcer, NftName};

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ok(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `n` distinct bans, none overlapping: 18 in 20 single IPv4 addresses, one
/// an IPv6 address, one an IPv4 /24 range; each with 1 to 24 hours left.
fn decisions(n: usize) -> Vec<Decision> {
    let now = Utc::now();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let ttl = TimeDelta::seconds(3600 + (seed >> 33) as i64 % (23 * 3600));
            let (scope, value) = match i % 20 {
                0 => (
                    Scope::Ip,
                    format!("2001:db8:{:x}::{:x}", i >> 16, i & 0xffff),
                ),
                1 => {
                    let k = i / 20;
                    (
                        Scope::Range,
                        format!("100.{}.{}.0/24", 64 + (k >> 8) % 64, k & 255),
                    )
                }
                _ => (
                    Scope::Ip,
                    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
                ),
            };
            let origin = Origin::User {
                name: "bench".into(),
            };
            Decision {
                expires_at: Some(now + ttl),
                ..Decision::active(DecisionKind::Ban, scope, value, origin, now)
            }
        })
        .collect()
}

pub fn bench_nftables() {
    if let Err(why) = ok(&["nft", "--version"]).and_then(|()| ok(&["ip", "-V"])) {
        println!("nftables: skipped ({why})");
        return;
    }
    for n in [10_000, 100_000] {
        let ns = Netns(format!("riposte-bench-{}", std::process::id()));
        if let Err(why) = ok(&["ip", "netns", "add", &ns.0]) {
            println!("nftables: skipped ({why}; needs root)");
            return;
        }
        let enforcer = NftEnforcer::new(NftConfig {
            netns: Some(NftName::new(&ns.0).unwrap_or_else(|e| panic!("{e}"))),
            timeout: std::time::Duration::from_secs(600),
            ..NftConfig::default()
        });
        let mut all = decisions(n + 1);
        let extra = all.pop().unwrap_or_else(|| panic!("no decisions"));

        let t = Instant::now();
        let plan = enforcer
            .reconcile(&all, Utc::now())
            .unwrap_or_else(|e| panic!("first apply: {e}"));
        let first = t.elapsed();
        let elements = plan.added;

        let t = Instant::now();
        let noop = enforcer
            .reconcile(&all, Utc::now())
            .unwrap_or_else(|e| panic!("no-op reconcile: {e}"));
        let idle = t.elapsed();
        assert!(
            noop.is_noop(),
            "second reconcile wrote: {} changes",
            noop.added + noop.deleted
        );

        all[0] = extra;
        let t = Instant::now();
        let delta = enforcer
            .reconcile(&all, Utc::now())
            .unwrap_or_else(|e| panic!("delta reconcile: {e}"));
        let one = t.elapsed();
        assert_eq!((delta.added, delta.deleted), (1, 1));

        // The listing alone: the share of a no-op reconcile that is nft's.
        let t = Instant::now();
        ok(&[
            "ip", "netns", "exec", &ns.0, "nft", "-j", "list", "table", "inet", "riposte",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let list = t.elapsed();
        let script_len = plan.script().len();

        println!(
            "nftables {n:>7} decisions ({elements} elements, script {:.1} MB): first apply {:>8.1} ms, \
             no-op reconcile {:>8.1} ms, one added + one revoked {:>8.1} ms; `nft -j list table` alone {:>8.1} ms",
            script_len as f64 / 1e6,
            first.as_secs_f64() * 1e3,
            idle.as_secs_f64() * 1e3,
            one.as_secs_f64() * 1e3,
            list.as_secs_f64() * 1e3,
        );
    }
}
