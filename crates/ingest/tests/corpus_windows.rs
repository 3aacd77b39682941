#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Windows decoders against third-party data, read in place:
//! - SigmaHQ's regression data: every rule's EVTX file and its JSON export
//!   (written by an older `evtx_dump`) must decode without a dead letter,
//!   give the same events, and hold at least the manifest's match count;
//! - a damaged copy of one of those EVTX files must lose only what is
//!   damaged;
//! - CrowdSec's `wineventlog` test logs (one XML event per line) must decode.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use riposte_ingest::{
    DecodeCtx, DecodeOptions, DecodedBatch, Decoder, EvtxReader, Format, JsonValueReader, Line,
    read_evtx,
};
use riposte_model::{Event, FieldValue, Fields, Observable, Timestamp};

fn ctx(source: &str) -> DecodeCtx<'_> {
    DecodeCtx {
        source,
        now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
    }
}

const MAX_RECORD: usize = 1024 * 1024;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// What must agree between an EVTX record and its JSON export.
type Projection = (Timestamp, String, Fields, Vec<Observable>);

fn project(events: &[Event]) -> Vec<Projection> {
    events
        .iter()
        .map(|e| {
            (
                e.timestamp,
                e.dataset.to_string(),
                e.fields.clone(),
                e.observables.clone(),
            )
        })
        .collect()
}

fn decode_json_file(path: &Path) -> DecodedBatch {
    let source = path.display().to_string();
    let file = fs::File::open(path).unwrap();
    let mut reader = JsonValueReader::new(BufReader::new(file), MAX_RECORD);
    let mut decoder = Decoder::new(Format::WindowsJson, &DecodeOptions::default());
    let mut out = DecodedBatch::default();
    loop {
        let lines = reader.read_batch(64).unwrap();
        if lines.is_empty() {
            return out;
        }
        out.extend(decoder.decode_batch(&lines, &ctx(&source)));
    }
}

/// rule id → expected match count (1 when the manifest leaves it empty).
fn manifest_counts(manifest: &Path) -> BTreeMap<String, usize> {
    let text = fs::read_to_string(manifest).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, count) = (col("rule_id"), col("match_count"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            let n = match cells[count] {
                "" => 1,
                n => n.parse().unwrap(),
            };
            (cells[id].to_owned(), n)
        })
        .collect()
}

#[test]
fn sigma_regression_evtx_and_json_twins_decode_to_the_same_events() {
    let Some(root) = common::corpus("sigma/regression_data") else {
        return;
    };
    let counts = manifest_counts(&common::corpus("sigma/regression_manifest.tsv").unwrap());
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files.sort();

    let mut evtx_events: BTreeMap<PathBuf, Vec<Event>> = BTreeMap::new();
    let mut json_events: BTreeMap<PathBuf, Vec<Event>> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let stem = path.with_extension("");
        match path.extension().and_then(|e| e.to_str()) {
            Some("evtx") => {
                let out = read_evtx(path, &ctx(&path.display().to_string())).unwrap();
                for dl in &out.dead_letters {
                    failures.push(format!("{}: {}", path.display(), dl.reason));
                }
                assert_eq!(out.ignored, 0);
                evtx_events.insert(stem, out.events);
            }
            Some("json") => {
                let out = decode_json_file(path);
                for dl in &out.dead_letters {
                    failures.push(format!("{}: {}", path.display(), dl.reason));
                }
                assert_eq!(out.ignored, 0);
                json_events.insert(stem, out.events);
            }
            _ => {}
        }
    }
    assert_eq!(failures, Vec::<String>::new(), "dead letters");
    assert!(evtx_events.len() >= 100, "{} EVTX files", evtx_events.len());

    let mut pairs = 0;
    let mut checked_counts = 0;
    let mut known_seen = 0;
    for (stem, evtx) in &evtx_events {
        let rule_id = stem.file_name().unwrap().to_str().unwrap();
        if let Some(&want) = counts.get(rule_id) {
            assert!(
                evtx.len() >= want,
                "{}: {} events, the manifest expects at least {want}",
                stem.display(),
                evtx.len()
            );
            checked_counts += 1;
        }
        let Some(json) = json_events.get(stem) else {
            continue;
        };
        pairs += 1;
        let mut json = project(json);
        for &(rule, field, in_evtx, in_json) in KNOWN_DATA_DIFFERENCES {
            if rule == rule_id {
                for (_, _, fields, _) in &mut json {
                    let v = fields.get_mut(field).unwrap();
                    assert_eq!(v.as_str(), Some(in_json), "{rule} {field}");
                    *v = FieldValue::from(in_evtx);
                    known_seen += 1;
                }
            }
        }
        assert_eq!(
            project(evtx),
            json,
            "{}: EVTX and JSON differ",
            stem.display()
        );
        // Everything the EVTX reader made is a Windows event with an id
        // and a real origin.
        for ev in evtx {
            assert!(matches!(ev.fields.get("EventID"), Some(FieldValue::Int(_))));
            assert!(ev.dataset.starts_with("windows."));
            assert!(ev.origin.as_ref().unwrap().offset >= 4096 + 512);
        }
    }
    let evtx_total: usize = evtx_events.values().map(Vec::len).sum();
    let json_total: usize = json_events.values().map(Vec::len).sum();
    eprintln!(
        "sigma regression data: {} EVTX files ({evtx_total} events), {} JSON files ({json_total} events), {pairs} twin pairs identical, {checked_counts} manifest counts met",
        evtx_events.len(),
        json_events.len(),
    );
    assert_eq!(pairs, evtx_events.len(), "every EVTX has its JSON twin");
    assert_eq!(evtx_total, json_total);
    assert_eq!(checked_counts, counts.len());
    assert_eq!(known_seen, KNOWN_DATA_DIFFERENCES.len());
}

/// Where the corpus's JSON export says something else than its EVTX file
/// (the export was edited, not produced by a decoder): rule id, field, the
/// EVTX's value, the JSON's value. Checked to still be there, so that the
/// list cannot go stale.
const KNOWN_DATA_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "ad691d92-15f2-4181-9aa4-723c74f9ddc3",
        "ParentCommandLine",
        r"C:\Windows\Explorer.EXE",
        r"C:\Windows\Explorer.exe",
    ),
    (
        "ad691d92-15f2-4181-9aa4-723c74f9ddc3",
        "process.parent.command_line",
        r"C:\Windows\Explorer.EXE",
        r"C:\Windows\Explorer.exe",
    ),
];

/// Spot checks on one known Sysmon process creation (the sc.exe rule):
/// native names for Sigma, System fields, ECS and observables.
#[test]
fn sysmon_process_creation_from_evtx_has_native_and_ecs_fields() {
    let Some(path) = common::corpus(
        "sigma/regression_data/rules/windows/process_creation/proc_creation_win_sc_stop_service/81bcb81b-5b1f-474b-b373-52c871aaa7b1.evtx",
    ) else {
        return;
    };
    let out = read_evtx(&path, &ctx("sc.evtx")).unwrap();
    assert_eq!(out.events.len(), 1);
    let ev = &out.events[0];
    assert_eq!(ev.dataset, "windows.sysmon");
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2025, 10, 22, 20, 33, 27).unwrap()
            + chrono::TimeDelta::microseconds(276_702)
    );
    let int = |n: &str| ev.fields.get(n).and_then(FieldValue::as_i64);
    let text = |n: &str| ev.get_str(n);
    assert_eq!(int("EventID"), Some(1));
    assert_eq!(int("EventRecordID"), Some(256_875));
    assert_eq!(int("ProcessID"), Some(3168));
    assert_eq!(int("ThreadID"), Some(4580));
    assert_eq!(int("Level"), Some(4));
    assert_eq!(int("Version"), Some(5));
    assert_eq!(text("Keywords"), Some("0x8000000000000000"));
    assert_eq!(
        text("Channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(text("Provider_Name"), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(text("Computer"), Some("ar-win-1"));
    assert_eq!(text("SecurityUserID"), Some("S-1-5-18"));
    assert_eq!(text("Image"), Some(r"C:\Windows\System32\sc.exe"));
    assert_eq!(text("CommandLine"), Some("sc  stop mpssvc"));
    assert_eq!(text("ParentImage"), Some(r"C:\Windows\System32\cmd.exe"));
    // Trailing white space trimmed, as the JSON export has it.
    assert_eq!(
        text("ParentCommandLine"),
        Some(r#""C:\Windows\system32\cmd.exe""#)
    );
    assert_eq!(
        text("ProcessGuid"),
        Some("{5ab40fd1-3f97-68f9-5631-000000003b02}")
    );
    assert_eq!(int("ProcessId"), Some(3424));
    assert_eq!(int("TerminalSessionId"), Some(2));
    assert_eq!(text("LogonId"), Some("0x104be4"));
    assert_eq!(text("event.code"), Some("1"));
    assert_eq!(text("host.name"), Some("ar-win-1"));
    assert_eq!(
        text("winlog.channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(
        text("winlog.provider_name"),
        Some("Microsoft-Windows-Sysmon")
    );
    assert_eq!(int("winlog.record_id"), Some(256_875));
    assert_eq!(
        text("process.executable"),
        Some(r"C:\Windows\System32\sc.exe")
    );
    assert_eq!(text("process.command_line"), Some("sc  stop mpssvc"));
    assert_eq!(
        text("process.parent.executable"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(int("process.pid"), Some(3424));
    assert_eq!(int("process.parent.pid"), Some(8252));
    assert_eq!(text("user.name"), Some("Administrator"));
    assert_eq!(text("user.domain"), Some("AR-WIN-1"));
    assert_eq!(
        text("process.hash.md5"),
        Some("6fb10cd439b40d92935f8f6a0c99670a")
    );
    assert_eq!(
        text("process.hash.sha256"),
        Some("2bf663ea493cdc21ad33aebd8da40cc5d2afa55e24f9e1bbf3d73e99dcadf693")
    );
    assert_eq!(
        text("process.pe.imphash"),
        Some("803254e010814e69947095a2725b2afd")
    );
    let kinds: BTreeSet<String> = ev
        .observables
        .iter()
        .map(|o| format!("{:?}={}", o.kind, o.value))
        .collect();
    assert_eq!(
        kinds,
        [
            "Host=ar-win-1",
            "Md5=6fb10cd439b40d92935f8f6a0c99670a",
            r#"Process=C:\Windows\System32\cmd.exe"#,
            r#"Process=C:\Windows\System32\sc.exe"#,
            "Sha256=2bf663ea493cdc21ad33aebd8da40cc5d2afa55e24f9e1bbf3d73e99dcadf693",
            "User=Administrator",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
}

/// Flips bytes in the middle of one record of a real EVTX file (in memory):
/// the other records still decode, the damaged one is a dead letter with a
/// reason and the record's offset, and nothing panics.
#[test]
fn damaged_record_in_a_real_evtx_is_one_dead_letter_and_the_rest_decode() {
    let Some(root) = common::corpus("sigma/regression_data") else {
        return;
    };
    // The file with the most records.
    let mut files = Vec::new();
    files_under(&root, &mut files);
    let (path, good) = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .map(|p| (p.clone(), read_evtx(p, &ctx("x")).unwrap()))
        .max_by_key(|(_, out)| out.events.len())
        .unwrap();
    assert!(good.events.len() >= 4, "{}", path.display());
    let bytes = fs::read(&path).unwrap();

    // Damage the second record: overwrite the start of its BinXML (just
    // past its 24-byte header) with bytes that are no BinXML token.
    let victim = &good.events[1];
    let at = usize::try_from(victim.origin.as_ref().unwrap().offset).unwrap();
    let mut damaged = bytes.clone();
    for b in &mut damaged[at + 24..at + 24 + 16] {
        *b = 0xEE;
    }
    let mut reader = EvtxReader::from_bytes(damaged).unwrap();
    let mut out = DecodedBatch::default();
    while let Some(batch) = reader.next_batch(2, &ctx("damaged.evtx")).unwrap() {
        out.extend(batch);
    }
    assert_eq!(out.events.len(), good.events.len() - 1);
    assert_eq!(out.dead_letters.len(), 1, "{:?}", out.dead_letters);
    let dl = &out.dead_letters[0];
    assert_eq!(dl.format, "evtx");
    assert_eq!(dl.offset, Some(at as u64));
    // Named by the id in its record header (these files were re-exported:
    // header ids count from 1 while `EventRecordID` kept the original).
    assert!(
        dl.reason.starts_with("record 2: ")
            && dl.reason.contains("invalid byte `0xee` as binxml token"),
        "{}",
        dl.reason
    );
    assert!(dl.raw.len() > 24 && dl.raw.starts_with(b"**\0\0"));
    let survivors: Vec<Projection> = project(&good.events)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(project(&out.events), survivors);

    // A damaged record header: the walk resyncs on the next record.
    let mut damaged = bytes.clone();
    damaged[at..at + 4].copy_from_slice(b"XXXX");
    let out = read_all(EvtxReader::from_bytes(damaged).unwrap());
    assert_eq!(out.events.len(), good.events.len() - 1);
    assert_eq!(out.dead_letters.len(), 1, "{:?}", out.dead_letters);
    assert_eq!(out.dead_letters[0].offset, Some(at as u64));
    assert!(
        out.dead_letters[0].reason.contains("unreadable record"),
        "{}",
        out.dead_letters[0].reason
    );

    // A damaged chunk header: the chunk is one dead letter at its offset.
    let mut damaged = bytes.clone();
    damaged[4096..4096 + 8].copy_from_slice(b"NotChnk!");
    let out = read_all(EvtxReader::from_bytes(damaged).unwrap());
    assert_eq!(out.events.len(), 0);
    assert_eq!(out.dead_letters.len(), 1, "{:?}", out.dead_letters);
    assert_eq!(out.dead_letters[0].offset, Some(4096));
    assert!(
        out.dead_letters[0]
            .reason
            .starts_with("chunk 0: unreadable chunk header: "),
        "{}",
        out.dead_letters[0].reason
    );

    // A file cut short in its last chunk: the records before the cut (here
    // all: the chunk's end is free space) decode, the cut is reported.
    assert_eq!(bytes.len(), 4096 + 65536, "one chunk");
    let cut = bytes[..bytes.len() - 100].to_vec();
    let out = read_all(EvtxReader::from_bytes(cut).unwrap());
    assert_eq!(project(&out.events), project(&good.events));
    assert_eq!(out.dead_letters.len(), 1, "{:?}", out.dead_letters);
    assert_eq!(out.dead_letters[0].offset, Some(4096));
    assert_eq!(
        out.dead_letters[0].reason,
        "the file is cut short: it ends 65436 bytes into its last chunk (of 65536); \
         records past the cut are lost"
    );

    // Not EVTX at all: an error for the whole file.
    let err = EvtxReader::from_bytes(b"{\"Event\":{}}".to_vec()).unwrap_err();
    assert!(err.to_string().starts_with("not an EVTX file: "), "{err}");
}

fn read_all(mut reader: EvtxReader<std::io::Cursor<Vec<u8>>>) -> DecodedBatch {
    let mut out = DecodedBatch::default();
    while let Some(batch) = reader.next_batch(100, &ctx("damaged.evtx")).unwrap() {
        out.extend(batch);
    }
    out
}

/// CrowdSec's Windows event log fixtures: every line is one XML event.
#[test]
fn crowdsec_wineventlog_fixtures_decode_as_windows_xml() {
    let fixtures = [
        "crowdsec-hub/.tests/cve-2023-23397/cve-2023-23397.log",
        "crowdsec-hub/.tests/windows-bf/windows-bf.log",
        "crowdsec-hub/.tests/windows-logs/windows-logs.log",
        "crowdsec-hub/.tests/iis-xml-logs/iis-logs.log",
    ];
    let mut total = 0;
    let mut all = Vec::new();
    for rel in fixtures {
        let Some(path) = common::corpus(rel) else {
            return;
        };
        let text = fs::read_to_string(&path).unwrap();
        let mut offset = 0u64;
        let lines: Vec<Line> = text
            .split_inclusive('\n')
            .map(|l| {
                let line = Line {
                    offset,
                    bytes: l.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
                    truncated_from: None,
                };
                offset += l.len() as u64;
                line
            })
            .filter(|l| !l.bytes.is_empty())
            .collect();
        let out = Decoder::new(Format::WindowsXml, &DecodeOptions::default())
            .decode_batch(&lines, &ctx(rel));
        assert_eq!(
            out.dead_letters
                .iter()
                .map(|d| &d.reason)
                .collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{rel}"
        );
        assert_eq!(out.events.len(), lines.len(), "{rel}");
        total += out.events.len();
        all.extend(out.events);
    }
    eprintln!("crowdsec wineventlog fixtures: {total} XML events decoded");
    assert_eq!(total, 10);

    // windows-bf: 4625 failed logons from 192.168.9.212 (what the CrowdSec
    // parser extracts), with the Security ECS fields.
    let bf: Vec<&Event> = all
        .iter()
        .filter(|e| e.fields.get("EventID") == Some(&FieldValue::Int(4625)))
        .collect();
    assert_eq!(bf.len(), 7);
    let first = bf[0];
    assert_eq!(first.dataset, "windows.security");
    assert_eq!(first.get_str("Channel"), Some("Security"));
    assert_eq!(first.get_str("Computer"), Some("exchange-1.mydomain.test"));
    assert_eq!(first.get_str("TargetUserName"), Some("asdfasdf"));
    assert_eq!(first.get_str("IpAddress"), Some("192.168.9.212"));
    assert_eq!(first.get_str("source.ip"), Some("192.168.9.212"));
    assert_eq!(first.get_str("user.name"), Some("asdfasdf"));
    assert_eq!(first.get_str("user.domain"), Some("MYDOMAIN"));
    assert_eq!(first.fields.get("LogonType"), Some(&FieldValue::Int(3)));
    assert_eq!(first.get_str("Status"), Some("0xc000006d"));
    assert_eq!(
        first.get_str("Correlation"),
        None,
        "System elements other than the listed ones are not fields"
    );

    // The IIS event: hyphenated native names and an empty element.
    let iis = all
        .iter()
        .find(|e| e.fields.get("EventID") == Some(&FieldValue::Int(6200)))
        .unwrap();
    assert_eq!(iis.dataset, "windows.microsoft_iis_logging_logs");
    assert_eq!(iis.get_str("c-ip"), Some("192.168.9.212"));
    assert_eq!(iis.fields.get("sc-status"), Some(&FieldValue::Int(400)));
    assert_eq!(
        iis.get_str("cs-uri-query"),
        Some("bla=powershell&CorrelationID=;&cafeReqId=f1351975-5024-4240-9508-3b4ea50eaf70;")
    );
    assert_eq!(iis.get_str("CustomFields"), Some(""));
}

/// Random damage in the chunk of a real one-record EVTX file: every run
/// ends, nothing panics (not even inside the evtx crate, where the reader
/// would catch it and say so), and the record is an event or dead letters
/// say why not.
#[test]
fn randomly_damaged_evtx_never_panics() {
    let Some(path) = common::corpus(
        "sigma/regression_data/rules/windows/process_creation/proc_creation_win_sc_stop_service/81bcb81b-5b1f-474b-b373-52c871aaa7b1.evtx",
    ) else {
        return;
    };
    let bytes = fs::read(&path).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut events, mut dead) = (0, 0);
    for round in 0..300 {
        let mut damaged = bytes.clone();
        for _ in 0..=(next() % 8) {
            // Mostly the used part of the chunk: its header and records.
            let span = if round % 4 == 0 { 65536 } else { 4096 };
            let at = 4096 + (next() % span) as usize;
            damaged[at] = next() as u8;
        }
        let out = read_all(EvtxReader::from_bytes(damaged).unwrap());
        for dl in &out.dead_letters {
            assert!(
                !dl.reason.contains("panicked"),
                "round {round}: {}",
                dl.reason
            );
            assert!(!dl.reason.is_empty());
        }
        assert!(
            out.events.len() + out.dead_letters.len() >= 1,
            "round {round}: the record vanished"
        );
        events += out.events.len();
        dead += out.dead_letters.len();
    }
    eprintln!("300 damaged copies: {events} events, {dead} dead letters");
}
