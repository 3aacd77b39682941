//! ECS fields derived from a Windows event's native fields, so that
//! playbooks and enrichment see Windows events like any other: the native
//! names stay for Sigma, the ECS names are added beside them.
//!
//! The mappings follow what winlogbeat's Sysmon and Security modules do and
//! are applied to every channel, since a field such as `Image` or
//! `IpAddress` means the same wherever it appears:
//!
//! | ECS | native |
//! |---|---|
//! | `event.code` | `EventID`, as text |
//! | `host.name` | `Computer` |
//! | `winlog.channel`, `winlog.provider_name`, `winlog.record_id` | `Channel`, `Provider_Name`, `EventRecordID` |
//! | `process.executable` | `Image`, else `NewProcessName` (4688), else `ProcessName` |
//! | `process.command_line` | `CommandLine` |
//! | `process.parent.executable` | `ParentImage`, else `ParentProcessName` |
//! | `process.parent.command_line` | `ParentCommandLine` |
//! | `process.pid`, `process.parent.pid` | `ProcessId`/`ParentProcessId`; for 4688 `NewProcessId`/`ProcessId` (hex text is read as hex) |
//! | `user.name`, `user.domain` | `User` (`DOMAIN\name` is split), else `TargetUserName`/`TargetDomainName` |
//! | `source.ip`, `source.port` | `IpAddress`/`IpPort`, else `SourceIp`/`SourcePort` |
//! | `destination.ip`, `destination.port`, `destination.domain` | `DestinationIp`, `DestinationPort`, `DestinationHostname` |
//! | `file.path` | `TargetFilename`, else `ImageLoaded` |
//! | `dns.question.name` | `QueryName` |
//! | `registry.path` | `TargetObject` |
//! | `process.hash.*`, `process.pe.imphash` | `Hashes` (`MD5=…,SHA256=…`), lowercase |
//!
//! `Hashes` describes a file rather than the process for Sysmon's driver
//! and image loads, stream hashes and file deletions (events 6, 7, 15, 23,
//! 26, 29): there it gives `file.hash.*` and `file.pe.imphash`. Values that
//! say "none" (`-`, empty) are not mapped.

use riposte_model::{Event, FieldValue};

use super::SYSMON_CHANNEL;

/// Sysmon events whose `Hashes` are a file's.
const SYSMON_FILE_HASH_EVENTS: [i64; 6] = [6, 7, 15, 23, 26, 29];

/// ECS address and port names, and the native (address, port) name pairs
/// that fill them, the first present address winning.
type Endpoint = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Adds the ECS fields of the table above.
pub(super) fn add_ecs(ev: &mut Event) {
    let mut out: Vec<(&'static str, FieldValue)> = Vec::new();
    let f = &ev.fields;
    let text = |name: &str| -> Option<&str> {
        match f.get(name) {
            Some(FieldValue::Str(s)) if !s.is_empty() && s != "-" => Some(s),
            _ => None,
        }
    };
    let first = |names: &[&str]| names.iter().find_map(|n| text(n));
    // Fields that are numbers in some events: the value as it is, unless it
    // says "none".
    let value = |name: &str| -> Option<FieldValue> {
        match f.get(name)? {
            FieldValue::Str(s) if s.is_empty() || s == "-" => None,
            v => Some(v.clone()),
        }
    };

    let event_id = match f.get("EventID") {
        Some(FieldValue::Int(id)) => Some(*id),
        _ => None,
    };
    if let Some(id) = event_id {
        out.push(("event.code", id.to_string().into()));
    }
    for (ecs, native) in [
        ("host.name", "Computer"),
        ("winlog.channel", "Channel"),
        ("winlog.provider_name", "Provider_Name"),
        ("winlog.record_id", "EventRecordID"),
    ] {
        if let Some(v) = value(native) {
            out.push((ecs, v));
        }
    }

    let single = [
        (
            "process.executable",
            &["Image", "NewProcessName", "ProcessName"][..],
        ),
        ("process.command_line", &["CommandLine"]),
        (
            "process.parent.executable",
            &["ParentImage", "ParentProcessName"],
        ),
        ("process.parent.command_line", &["ParentCommandLine"]),
        ("destination.domain", &["DestinationHostname"]),
        ("file.path", &["TargetFilename", "ImageLoaded"]),
        ("dns.question.name", &["QueryName"]),
        ("registry.path", &["TargetObject"]),
    ];
    for (ecs, natives) in single {
        if let Some(s) = first(natives) {
            out.push((ecs, s.into()));
        }
    }

    let (pid, parent_pid) = if f.contains_key("NewProcessId") {
        (f.get("NewProcessId"), f.get("ProcessId"))
    } else {
        (f.get("ProcessId"), f.get("ParentProcessId"))
    };
    if let Some(pid) = pid.and_then(process_id) {
        out.push(("process.pid", FieldValue::Int(pid)));
    }
    if let Some(pid) = parent_pid.and_then(process_id) {
        out.push(("process.parent.pid", FieldValue::Int(pid)));
    }

    if let Some(user) = text("User") {
        match user.split_once('\\') {
            Some((domain, name)) if !name.is_empty() => {
                out.push(("user.name", name.into()));
                if !domain.is_empty() {
                    out.push(("user.domain", domain.into()));
                }
            }
            _ => out.push(("user.name", user.into())),
        }
    } else if let Some(name) = text("TargetUserName") {
        out.push(("user.name", name.into()));
        if let Some(domain) = text("TargetDomainName") {
            out.push(("user.domain", domain.into()));
        }
    }

    let endpoints: [Endpoint; 2] = [
        (
            "source.ip",
            "source.port",
            &[("IpAddress", "IpPort"), ("SourceIp", "SourcePort")],
        ),
        (
            "destination.ip",
            "destination.port",
            &[("DestinationIp", "DestinationPort")],
        ),
    ];
    for (ip_ecs, port_ecs, pairs) in endpoints {
        let found = pairs
            .iter()
            .find_map(|&(ip, port)| text(ip).map(|ip| (ip, port)));
        if let Some((ip, port_native)) = found {
            out.push((ip_ecs, ip.into()));
            if let Some(FieldValue::Int(port)) = f.get(port_native)
                && (0..=65535).contains(port)
            {
                out.push((port_ecs, FieldValue::Int(*port)));
            }
        }
    }

    if let Some(hashes) = text("Hashes") {
        let of_file = f.get("Channel").and_then(FieldValue::as_str) == Some(SYSMON_CHANNEL)
            && event_id.is_some_and(|id| SYSMON_FILE_HASH_EVENTS.contains(&id));
        let names = if of_file {
            [
                "file.hash.md5",
                "file.hash.sha1",
                "file.hash.sha256",
                "file.pe.imphash",
            ]
        } else {
            [
                "process.hash.md5",
                "process.hash.sha1",
                "process.hash.sha256",
                "process.pe.imphash",
            ]
        };
        for (algorithm, digest) in hashes.split(',').filter_map(|p| p.split_once('=')) {
            let ecs = match algorithm.trim().to_ascii_uppercase().as_str() {
                "MD5" => names[0],
                "SHA1" => names[1],
                "SHA256" => names[2],
                "IMPHASH" => names[3],
                _ => continue,
            };
            let digest = digest.trim();
            if !digest.is_empty() {
                out.push((ecs, digest.to_ascii_lowercase().into()));
            }
        }
    }

    for (name, v) in out {
        ev.fields.insert(name.into(), v);
    }
}

/// A process id: an integer, or hex text as the Security log writes it
/// (`0x14a0`).
fn process_id(v: &FieldValue) -> Option<i64> {
    match v {
        FieldValue::Int(i) if *i >= 0 => Some(*i),
        FieldValue::Str(s) => {
            let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
            i64::from_str_radix(hex, 16).ok().filter(|i| *i >= 0)
        }
        _ => None,
    }
}
