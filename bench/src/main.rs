//! `cargo run --release -p riposte-bench`: throughput of the hot paths on
//! generated input, one core, printed as events/s and MB/s. Figures go into
//! BENCHMARKS.md with the machine they were measured on.
//!
//! `riposte-bench [N] [FILTER]`: N generated lines per run (default
//! 200,000); with FILTER, only the decode benchmarks whose name contains it
//! run (for profiling one format); `sigma` runs only the Sigma entries
//! (SigmaHQ Windows rules over the corpus's regression EVTX events, 100 /
//! 1,000 / all rules; skipped without the corpus); `respond` runs only the
//! active-response entries (decision latency, decisions/s, N active
//! decisions through the file enforcer and the bouncer API); `nftables`
//! runs only the nftables enforcer with 10,000 and 100,000 decisions (root,
//! in a network namespace of its own; skipped without; not part of the
//! default run); `intake` runs only `POST /api/v1/events` with 10,000
//! records per request (NDJSON, gzip, JSON arrays), with a service key;
//! `auth` runs only what authentication adds to an API request, with
//! 10,000 keys in the store; `intel` runs only the threat-intel matcher with N
//! generated indicators (load, memory per indicator, events/s matched,
//! incremental update).

/// mimalloc rather than glibc's malloc: decoding allocates and frees tens of
/// small objects per event, and glibc trims the heap between batches and
/// faults it back in (see BENCHMARKS.md).
/// Wrapped in a counter so the decode benchmarks can print heap
/// allocations per event: the measured number behind BENCHMARKS.md's
/// allocation figures (the counter's atomic adds cost every variant alike).
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc(mimalloc::MiMalloc);

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// mimalloc plus a count of `alloc` and `realloc` calls.
#[allow(missing_debug_implementations)] // MiMalloc has no Debug
struct CountingAlloc(mimalloc::MiMalloc);

// SAFETY: every method forwards to mimalloc with the caller's arguments
// unchanged; the counter is a relaxed atomic add with no other effect.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Allocations plus reallocations so far, process-wide.
fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

mod auth;
mod intake;
mod intel;
mod intel_store;
mod nft;
mod playbooks;
mod respond;
mod sigma;

use std::alloc::{GlobalAlloc, Layout};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use riposte_detect::{Detector, parse_rules};
use riposte_engine::Engine;
use riposte_ingest::{DecodeCtx, DecodeOptions, Decoder, Format, Line, decode_batch};
use riposte_model::{Clock, ManualClock, Timestamp};
use riposte_respond::{Responder, ResponderConfig};

const RULES: &str = include_str!("../../examples/demo/rules.yaml");

fn start() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Suricata EVE alerts from 256 sources, one per line.
fn eve_alert_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.{}","src_port":{},"dest_ip":"192.0.2.80","dest_port":80,"proto":"TCP","app_proto":"http","alert":{{"action":"allowed","gid":1,"signature_id":2034647,"rev":2,"signature":"ET EXPLOIT Apache log4j RCE Attempt (http uri) (CVE-2021-44228)","category":"Attempted Administrator Privilege Gain","severity":2}}}}"#,
            eve_time(i),
            1_000_000_000 + i,
            i % 256,
            1024 + i % 60000
        )
    }))
}

/// EVE's timestamp for line `i`: 50 records per second, microseconds vary.
fn eve_time(i: usize) -> String {
    let t = start() + chrono::TimeDelta::microseconds(i as i64 * 20_000 + (i as i64 % 997));
    t.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string()
}

/// EVE `dns` answers (v2 format with `answers` and `grouped`).
fn eve_dns_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"dns","src_ip":"10.0.{}.{}","src_port":{},"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{{"version":2,"type":"answer","id":{},"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"host{}.cdn.example.com","rrtype":"A","rcode":"NOERROR","answers":[{{"rrname":"host{}.cdn.example.com","rrtype":"A","ttl":300,"rdata":"93.184.{}.{}"}}],"grouped":{{"A":["93.184.{}.{}"]}}}}}}"#,
            eve_time(i),
            1_000_000_000 + i,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
            i % 65536,
            i % 5000,
            i % 5000,
            (i / 256) % 256,
            i % 256,
            (i / 256) % 256,
            i % 256,
        )
    }))
}

/// EVE `http` transactions.
fn eve_http_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"http","src_ip":"10.0.{}.{}","src_port":{},"dest_ip":"93.184.216.34","dest_port":80,"proto":"TCP","tx_id":0,"http":{{"hostname":"www{}.example.com","url":"/catalog/item.php?id={}&ref=home","http_user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0","http_content_type":"text/html","http_refer":"http://www.example.com/","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":{}}}}}"#,
            eve_time(i),
            1_000_000_000 + i,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
            i % 10,
            i,
            500 + i % 20000,
        )
    }))
}

/// EVE `flow` records (end of a TCP flow, with the `tcp` object).
fn eve_flow_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            r#"{{"timestamp":"{}","flow_id":{},"in_iface":"eth0","event_type":"flow","src_ip":"10.0.{}.{}","src_port":{},"dest_ip":"198.51.100.{}","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{{"pkts_toserver":{},"pkts_toclient":{},"bytes_toserver":{},"bytes_toclient":{},"start":"2026-03-14T08:59:31.007412+0000","end":"2026-03-14T09:00:01.101001+0000","age":30,"state":"closed","reason":"timeout","alerted":false}},"tcp":{{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}}}"#,
            eve_time(i),
            1_000_000_000 + i,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
            i % 256,
            10 + i % 50,
            8 + i % 40,
            1200 + i % 9000,
            4000 + i % 90000,
        )
    }))
}

fn syslog_time(i: usize) -> String {
    let t = start() + chrono::TimeDelta::seconds(i as i64 / 50);
    t.format("%b %e %H:%M:%S").to_string()
}

/// sshd failures from 512 sources, 50 lines per second: each source fails
/// every ~10 s, so the 6-in-60 s threshold fires.
fn sshd_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            "{} bastion sshd[{}]: Failed password for invalid user admin from 198.51.{}.{} port {} ssh2",
            syslog_time(i),
            2000 + i % 30000,
            (i / 256) % 2,
            i % 256,
            1024 + i % 60000
        )
    }))
}

/// A realistic auth.log at 50 lines per second: about half sshd failures
/// (2,000 sources, a few hundred of them fast enough to trip 5-in-10m),
/// sshd accepted logins and session noise, and other daemons (CRON, sudo,
/// systemd, kernel).
fn authlog_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let ts = syslog_time(i);
        let pid = 2000 + i % 30000;
        // Sources 0-199 fail often; 200-1999 rarely.
        let src = if i % 7 < 4 { i % 200 } else { 200 + (i * 7919) % 1800 };
        let ip = format!("198.51.{}.{}", src / 256, src % 256);
        match i % 20 {
            0..=9 => format!(
                "{ts} bastion sshd[{pid}]: Failed password for invalid user u{} from {ip} port {} ssh2",
                i % 50,
                1024 + i % 60000
            ),
            10 | 11 => format!(
                "{ts} bastion sshd[{pid}]: Accepted publickey for deploy from 10.0.{}.{} port {} ssh2: ED25519 SHA256:abcdef",
                (i / 256) % 4,
                i % 256,
                1024 + i % 60000
            ),
            12 | 13 => format!(
                "{ts} bastion sshd[{pid}]: Connection closed by {ip} port {} [preauth]",
                1024 + i % 60000
            ),
            14 => format!(
                "{ts} bastion sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"
            ),
            15 | 16 => format!(
                "{ts} bastion CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            ),
            17 => format!(
                "{ts} bastion sudo[{pid}]:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
            ),
            18 => format!("{ts} bastion systemd[1]: Started Session {i} of user deploy."),
            _ => format!(
                "{ts} bastion kernel: [UFW BLOCK] IN=eth0 OUT= SRC={ip} DST=192.0.2.1 PROTO=TCP SPT=4444 DPT=23"
            ),
        }
    }))
}

/// The sshd threshold rule of the issue: 5 failures per source in 10 min.
const SSHD_THRESHOLD: &str = r#"
version: 1
rules:
  - id: ssh-bruteforce
    title: SSH brute force
    kind: threshold
    match: { event.dataset: sshd, event.action: ssh_login, event.outcome: failure }
    group_by: [source.ip]
    count: 5
    window: 10m
    severity: high
"#;

/// `n` native rules: the sshd threshold rule, then alternately another
/// sshd threshold (different count, so every failure updates its state too)
/// and a match rule on a dataset this log does not have.
fn native_rules(n: usize) -> String {
    let mut text = SSHD_THRESHOLD.to_owned();
    for i in 1..n {
        if i % 2 == 1 {
            text.push_str(&format!(
                "  - id: ssh-threshold-{i}\n    title: t\n    kind: threshold\n    \
                 match: {{ event.dataset: sshd, event.outcome: failure }}\n    \
                 group_by: [source.ip]\n    count: {}\n    window: 10m\n    severity: low\n",
                5 + i
            ));
        } else {
            text.push_str(&format!(
                "  - id: suricata-{i}\n    title: t\n    kind: match\n    \
                 match: {{ event.dataset: suricata.alert, rule.name: sig-{i} }}\n    \
                 severity: low\n"
            ));
        }
    }
    text
}

/// Detection alone on events decoded before timing, then decode + detect,
/// then detection alone with 1, 10 and 100 native rules.
fn bench_threshold(lines: &[Line]) {
    let ctx = DecodeCtx {
        source: "bench",
        now: start(),
    };
    let detect_only = |rules: &str, label: &str, events: &[riposte_model::Event]| {
        let rules = Arc::new(parse_rules("rules.yaml", rules).unwrap_or_else(|p| panic!("{p}")));
        let mut best = f64::INFINITY;
        let mut alerts = 0;
        for _ in 0..3 {
            let mut detector = Detector::new(Arc::clone(&rules));
            let t = Stopwatch::start();
            alerts = 0;
            for e in events {
                alerts += detector.process(e, start()).len();
            }
            best = best.min(t.secs());
        }
        report(
            &format!("{label} ({alerts} alerts)"),
            events.len(),
            bytes(lines),
            best,
        );
    };
    let events = decode_batch(Format::Syslog, lines, &ctx).events;
    assert_eq!(events.len(), lines.len(), "every auth.log line must decode");
    detect_only(SSHD_THRESHOLD, "sshd threshold: detect", &events);
    // The same rule alerting once per source per 10 min, as a deployment
    // that bans on the first alert would see it.
    let once = SSHD_THRESHOLD.replace("window: 10m", "window: 10m\n    blackhole: 10m");
    detect_only(&once, "sshd threshold+blackhole: detect", &events);
    let rules =
        Arc::new(parse_rules("rules.yaml", SSHD_THRESHOLD).unwrap_or_else(|p| panic!("{p}")));
    let mut best = f64::INFINITY;
    let mut alerts = 0;
    for _ in 0..3 {
        let mut detector = Detector::new(Arc::clone(&rules));
        let mut decoder = Decoder::new(Format::Syslog, &DecodeOptions::default());
        let t = Stopwatch::start();
        alerts = 0;
        for chunk in lines.chunks(1000) {
            for e in decoder.decode_batch(chunk, &ctx).events {
                alerts += detector.process(&e, start()).len();
            }
        }
        best = best.min(t.secs());
    }
    report(
        &format!("sshd threshold: decode+detect ({alerts} alerts)"),
        lines.len(),
        bytes(lines),
        best,
    );
    for n in [1, 10, 100] {
        detect_only(
            &native_rules(n),
            &format!("sshd: detect, {n} native rules"),
            &events,
        );
    }
}

/// Plain syslog lines no application decoder claims: cron, kernel, systemd.
fn plain_syslog_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| match i % 3 {
        0 => format!(
            "{} web{} CRON[{}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
            syslog_time(i),
            i % 8,
            10_000 + i % 50_000
        ),
        1 => format!(
            "{} web{} kernel: [{}.{:06}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.{} DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={} DF PROTO=TCP SPT={} DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
            syslog_time(i),
            i % 8,
            100_000 + i / 50,
            i % 1_000_000,
            i % 256,
            i % 65536,
            1024 + i % 60000
        ),
        _ => format!(
            "{} web{} systemd[1]: Started session-{}.scope - Session {} of User deploy.",
            syslog_time(i),
            i % 8,
            i,
            i
        ),
    }))
}

/// sudo command lines.
fn sudo_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            "{} bastion sudo:    user{} : TTY=pts/{} ; PWD=/home/user{} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
            syslog_time(i),
            i % 40,
            i % 8,
            i % 40
        )
    }))
}

/// nginx combined access lines.
fn webserver_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::seconds(i as i64 / 50);
        format!(
            r#"203.0.113.{} - - [{}] "GET /shop/item.php?id={}&ref=home HTTP/1.1" {} {} "https://www.example.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36""#,
            i % 256,
            t.format("%d/%b/%Y:%H:%M:%S +0000"),
            i,
            [200, 200, 304, 404][i % 4],
            300 + i % 20000
        )
    }))
}

/// Zeek `dns.log` in the JSON streaming shape.
fn zeek_json_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::microseconds(i as i64 * 20_000 + 17);
        format!(
            r#"{{"_path":"dns","_write_ts":"{ts}","ts":"{ts}","uid":"C{:016x}","id.orig_h":"10.47.{}.{}","id.orig_p":{},"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","trans_id":{},"rtt":0.0008699893951416016,"query":"host{}.example.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["edge{}.example.net","134.71.{}.{}"],"TTLs":[2230.0,41830.0],"rejected":false}}"#,
            i as u64 * 0x9e37_79b9,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
            i % 65536,
            i % 5000,
            i % 100,
            (i / 256) % 256,
            i % 256,
            ts = t.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        )
    }))
}

/// Zeek `dns.log` in TSV, with its header (header lines count as ignored).
fn zeek_tsv_lines(n: usize) -> Vec<Line> {
    let header = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tdns",
        "#open\t2026-03-14-09-00-00",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool",
    ];
    let base = start().timestamp();
    lines(header.iter().map(|h| (*h).to_owned()).chain((0..n).map(|i| {
        format!(
            "{}.{:06}\tC{:016x}\t10.47.{}.{}\t{}\t10.0.0.100\t53\tudp\t{}\t0.000870\thost{}.example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tedge{}.example.net,134.71.{}.{}\t2230.000000,41830.000000\tF",
            base + i as i64 / 50,
            (i * 20_000) % 1_000_000,
            i as u64 * 0x9e37_79b9,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
            i % 65536,
            i % 5000,
            i % 100,
            (i / 256) % 256,
            i % 256,
        )
    })))
}

/// Sysmon process creation (EID 1) in the `evtx` crate's JSON shape.
fn windows_json_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::microseconds(i as i64 * 20_000);
        format!(
            r##"{{"Event":{{"#attributes":{{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"}},"System":{{"Provider":{{"#attributes":{{"Name":"Microsoft-Windows-Sysmon","Guid":"{{5770385f-c22a-43e0-bf4c-06f5698ffbd9}}"}}}},"EventID":1,"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{{"#attributes":{{"SystemTime":"{}"}}}},"EventRecordID":{},"Correlation":null,"Execution":{{"#attributes":{{"ProcessID":3216,"ThreadID":4020}}}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws{}.example.test","Security":{{"#attributes":{{"UserID":"S-1-5-18"}}}}}},"EventData":{{"RuleName":"-","UtcTime":"{}","ProcessGuid":"{{4a1b2c3d-{:04x}-65f2-1a00-000000001f00}}","ProcessId":{},"Image":"C:\\Windows\\System32\\cmd.exe","FileVersion":"10.0.19041.746 (WinBuild.160101.0800)","Description":"Windows Command Processor","Product":"Microsoft® Windows® Operating System","Company":"Microsoft Corporation","OriginalFileName":"Cmd.Exe","CommandLine":"cmd.exe /c whoami /all > C:\\Users\\user{}\\AppData\\Local\\Temp\\o.txt","CurrentDirectory":"C:\\Users\\user{}\\","User":"EXAMPLE\\user{}","LogonGuid":"{{4a1b2c3d-0000-65f2-e803-0a0000000000}}","LogonId":"0x3e7a1","TerminalSessionId":1,"IntegrityLevel":"High","Hashes":"SHA1=99AE9C73E9BEE6F9C76D6F4093A9882DF06832CF,MD5=A6177D080759CF4A03EF837A1F1B3C9B,SHA256=B99D114B267FFD068C3289199B6DF95A9F9E64872D6C2B666D63974BBCE75BF2,IMPHASH=272245E2988E1E430500B852C4FB5E18","ParentProcessGuid":"{{4a1b2c3d-0001-65f2-1a00-000000001f00}}","ParentProcessId":{},"ParentImage":"C:\\Windows\\explorer.exe","ParentCommandLine":"C:\\Windows\\Explorer.EXE","ParentUser":"EXAMPLE\\user{}"}}}}}}"##,
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            1000 + i,
            i % 50,
            t.format("%Y-%m-%d %H:%M:%S%.3f"),
            i % 65536,
            4000 + i % 60000,
            i % 50,
            i % 50,
            i % 50,
            2000 + i % 60000,
            i % 50,
        )
    }))
}

/// Security 4625 (failed logon) as one `<Event>` XML element per line.
fn windows_xml_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::microseconds(i as i64 * 20_000);
        format!(
            r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{{54849625-5478-4994-a5ba-3e3b0328c30d}}" /><EventID>4625</EventID><Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime="{}" /><EventRecordID>{}</EventRecordID><Correlation ActivityID="{{31491fb2-5b07-0001-4d20-4931075bd801}}" /><Execution ProcessID="712" ThreadID="20372" /><Channel>Security</Channel><Computer>dc{}.example.test</Computer><Security /></System><EventData><Data Name="SubjectUserSid">S-1-0-0</Data><Data Name="SubjectUserName">-</Data><Data Name="SubjectDomainName">-</Data><Data Name="SubjectLogonId">0x0</Data><Data Name="TargetUserSid">S-1-0-0</Data><Data Name="TargetUserName">user{}</Data><Data Name="TargetDomainName">EXAMPLE</Data><Data Name="Status">0xc000006d</Data><Data Name="FailureReason">%%2313</Data><Data Name="SubStatus">0xc000006a</Data><Data Name="LogonType">3</Data><Data Name="LogonProcessName">NtLmSsp </Data><Data Name="AuthenticationPackageName">NTLM</Data><Data Name="WorkstationName">WS{}</Data><Data Name="TransmittedServices">-</Data><Data Name="LmPackageName">-</Data><Data Name="KeyLength">0</Data><Data Name="ProcessId">0x0</Data><Data Name="ProcessName">-</Data><Data Name="IpAddress">192.168.{}.{}</Data><Data Name="IpPort">{}</Data></EventData></Event>"#,
            format_args!("{}{}Z", t.format("%Y-%m-%dT%H:%M:%S%.6f"), i % 10),
            2559 + i,
            i % 4,
            i % 40,
            i % 30,
            (i / 256) % 4,
            i % 256,
            1024 + i % 60000,
        )
    }))
}

/// Wazuh `alerts.json` lines: sshd brute force alerts.
fn wazuh_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::milliseconds(i as i64 * 20);
        let ts = t.format("%Y-%m-%dT%H:%M:%S%.3f+0000");
        let st = t.format("%b %e %H:%M:%S");
        format!(
            r#"{{"timestamp":"{ts}","rule":{{"level":10,"description":"sshd: brute force trying to get access to the system. Non existent user.","id":"5712","mitre":{{"id":["T1110"],"tactic":["Credential Access"],"technique":["Brute Force"]}},"frequency":8,"firedtimes":{},"mail":false,"groups":["syslog","sshd","authentication_failures"],"gdpr":["IV_35.7.d","IV_32.2"]}},"agent":{{"id":"{:03}","name":"bastion{}","ip":"10.0.0.{}"}},"manager":{{"name":"wazuh-manager"}},"id":"1773478800.{}","full_log":"{st} bastion sshd[{}]: Invalid user admin from 203.0.113.{} port {}","predecoder":{{"program_name":"sshd","timestamp":"{st}","hostname":"bastion"}},"decoder":{{"parent":"sshd","name":"sshd"}},"data":{{"srcip":"203.0.113.{}","srcport":"{}","srcuser":"admin"}},"location":"/var/log/auth.log"}}"#,
            1 + i % 100,
            i % 20,
            i % 20,
            i % 20,
            i * 731,
            2000 + i % 30000,
            i % 256,
            1024 + i % 60000,
            i % 256,
            1024 + i % 60000,
        )
    }))
}

/// CEF behind a syslog header (a firewall's threat log).
fn cef_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        format!(
            "<134>{} fw01 CEF:0|Palo Alto Networks|PAN-OS|10.1.3|url|THREAT|5|rt={} src=10.0.{}.{} dst=198.51.100.{} spt={} dpt=443 proto=TCP act=block-url suser=EXAMPLE\\\\user{} request=https://bad{}.example.net/path/index.html cs1Label=Rule cs1=Block-Malware cat=malware deviceInboundInterface=ethernet1/2 deviceOutboundInterface=ethernet1/1 msg=URL blocked by policy",
            syslog_time(i),
            1_773_478_800_000i64 + i as i64 * 20,
            (i / 256) % 4,
            i % 256,
            i % 256,
            1024 + i % 60000,
            i % 40,
            i % 500,
        )
    }))
}

/// Generic JSON application log lines, flattened without a mapping.
fn json_lines(n: usize) -> Vec<Line> {
    lines((0..n).map(|i| {
        let t = start() + chrono::TimeDelta::milliseconds(i as i64 * 20);
        format!(
            r#"{{"@timestamp":"{}","level":"warn","logger":"auth.login","message":"login failed for user{}","user":{{"name":"user{}","id":{}}},"source":{{"ip":"203.0.113.{}","port":{}}},"http":{{"method":"POST","path":"/api/login","status":401}},"duration_ms":{},"tags":["auth","web"]}}"#,
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            i % 40,
            i % 40,
            1000 + i % 40,
            i % 256,
            1024 + i % 60000,
            i % 500,
        )
    }))
}

fn lines(it: impl Iterator<Item = String>) -> Vec<Line> {
    let mut offset = 0;
    it.map(|s| {
        let line = Line {
            offset,
            bytes: s.into_bytes(),
            truncated_from: None,
        };
        offset += line.bytes.len() as u64 + 1;
        line
    })
    .collect()
}

fn report(name: &str, events: usize, bytes: usize, secs: f64) {
    println!(
        "{name:<34} {events:>9} events  {:>12.0} events/s  {:>8.1} MB/s",
        events as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// [`report`] plus heap allocations (incl. reallocations) per event.
fn report_allocs(name: &str, events: usize, bytes: usize, secs: f64, allocs: usize) {
    println!(
        "{name:<34} {events:>9} events  {:>12.0} events/s  {:>8.1} MB/s  {:>6.1} allocs/event",
        events as f64 / secs,
        bytes as f64 / secs / 1e6,
        allocs as f64 / events.max(1) as f64
    );
}

/// This thread's time on a CPU, from `/proc/thread-self/schedstat`
/// (Linux): unlike wall time it does not count the time the thread waited
/// for a core, so a busy machine disturbs single-core figures less.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A stopwatch over this thread's CPU time, or wall time without one.
struct Stopwatch {
    cpu: Option<Duration>,
    wall: Instant,
}

impl Stopwatch {
    fn start() -> Self {
        Self {
            cpu: thread_cpu(),
            wall: Instant::now(),
        }
    }

    fn secs(&self) -> f64 {
        match (self.cpu, thread_cpu()) {
            (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

fn bytes(lines: &[Line]) -> usize {
    lines.iter().map(|l| l.bytes.len() + 1).sum()
}

/// Decodes `lines` in batches of 1,000 with one decoder (Zeek TSV reads its
/// header from the stream), timing decode + normalize only. Reports the
/// fastest of three passes, so a busy machine disturbs the figure less.
fn bench_decode(name: &str, format: Format, lines: &[Line]) {
    let ctx = DecodeCtx {
        source: "bench",
        now: start(),
    };
    let mut best = f64::INFINITY;
    let mut events = 0;
    let mut allocs = 0;
    for _ in 0..3 {
        let mut decoder = Decoder::new(format, &DecodeOptions::default());
        let allocs_before = allocations();
        let t = Stopwatch::start();
        let mut ignored = 0;
        events = 0;
        for chunk in lines.chunks(1000) {
            let batch = decoder.decode_batch(chunk, &ctx);
            if let Some(dl) = batch.dead_letters.first() {
                panic!("{name}: generated line failed to decode: {}", dl.reason);
            }
            events += batch.events.len();
            ignored += batch.ignored;
        }
        best = best.min(t.secs());
        allocs = allocations() - allocs_before;
        assert_eq!(
            events + ignored as usize,
            lines.len(),
            "{name}: every generated line must decode"
        );
    }
    report_allocs(name, events, bytes(lines), best, allocs);
}

fn bench_detect(lines: &[Line]) {
    let ctx = DecodeCtx {
        source: "bench",
        now: start(),
    };
    let events = decode_batch(Format::Syslog, lines, &ctx).events;
    let rules = Arc::new(parse_rules("rules.yaml", RULES).unwrap_or_else(|p| panic!("{p}")));
    let mut detector = Detector::new(rules);
    let t = Stopwatch::start();
    let mut alerts = 0;
    for e in &events {
        alerts += detector.process(e, start()).len();
    }
    report(
        &format!("detect (threshold, {alerts} alerts)"),
        events.len(),
        bytes(lines),
        t.secs(),
    );
}

async fn bench_pipeline(lines: &[Line]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = riposte_store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("store: {e}"));
    let rules = Arc::new(parse_rules("rules.yaml", RULES).unwrap_or_else(|p| panic!("{p}")));
    let clock = Arc::new(ManualClock::new(start()));
    let responder = Arc::new(Responder::new(ResponderConfig::default(), Vec::new()));
    let mut engine = Engine::new(store, rules, Vec::new(), responder, clock.clone())
        .follow_event_time(clock.clone());
    let t = Instant::now();
    let mut events = 0;
    for chunk in lines.chunks(1000) {
        let batch = decode_batch(
            Format::Syslog,
            chunk,
            &DecodeCtx {
                source: "bench",
                now: clock.now(),
            },
        );
        let last = chunk
            .last()
            .map_or(0, |l| l.offset + l.bytes.len() as u64 + 1);
        events += engine
            .commit_batch(batch, Some(("bench", &last.into())))
            .await
            .unwrap_or_else(|e| panic!("commit: {e}"))
            .events;
    }
    report(
        "pipeline syslog->SQLite (1000/tx)",
        events as usize,
        bytes(lines),
        t.elapsed().as_secs_f64(),
    );
}

/// Events/s of the Sigma engine (`SigmaRules::for_each_match`, through
/// the logsource index) on one thread, CPU time, best of 3 passes of at
/// least 200,000 events each.
fn bench_sigma(only: Option<&str>) {
    let names = [
        "sigma windows (100 rules)",
        "sigma windows (1000 rules)",
        "sigma windows (all rules)",
    ];
    if only.is_some_and(|o| !names.iter().any(|n| n.contains(o))) {
        return;
    }
    let Some(root) = sigma::corpus_root() else {
        println!("sigma: skipped, corpus not found (set RIPOSTE_CORPORA)");
        return;
    };
    let all = sigma::windows_rules(&root);
    let events = sigma::regression_events(&root);
    let bytes: usize = events
        .iter()
        .map(|e| e.original.as_ref().map_or(0, String::len))
        .sum();
    for (name, n) in names.iter().zip([100, 1000, usize::MAX]) {
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let rules = sigma::spread(&all, n);
        let passes = (200_000 / events.len().max(1)).max(1);
        let mut best = f64::INFINITY;
        let mut hits = 0;
        let mut scratch = riposte_sigma::Scratch::default();
        for _ in 0..3 {
            hits = 0;
            let t = Stopwatch::start();
            for _ in 0..passes {
                for e in &events {
                    rules.for_each_match(e, &mut scratch, |_| hits += 1);
                }
            }
            best = best.min(t.secs());
        }
        report(
            &format!("{name}: {} rules, {} hits", rules.len(), hits / passes),
            events.len() * passes,
            bytes * passes,
            best,
        );
    }
}

/// Makes N lines of one format.
type Generator = fn(usize) -> Vec<Line>;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!(
        "riposte-bench: {n} generated lines per run, one thread; decode and detect \
         timed by the thread's CPU time (best of 3 for decode), the pipeline by wall time\n"
    );
    let decoders: [(&str, Format, Generator); 15] = [
        (
            "decode suricata-eve (alert)",
            Format::SuricataEve,
            eve_alert_lines,
        ),
        (
            "decode suricata-eve (dns)",
            Format::SuricataEve,
            eve_dns_lines,
        ),
        (
            "decode suricata-eve (http)",
            Format::SuricataEve,
            eve_http_lines,
        ),
        (
            "decode suricata-eve (flow)",
            Format::SuricataEve,
            eve_flow_lines,
        ),
        ("decode syslog (sshd)", Format::Syslog, sshd_lines),
        (
            "decode syslog (plain: cron/kernel)",
            Format::Syslog,
            plain_syslog_lines,
        ),
        ("decode syslog (sudo)", Format::Syslog, sudo_lines),
        (
            "decode webserver (combined)",
            Format::Webserver,
            webserver_lines,
        ),
        ("decode zeek (json dns)", Format::Zeek, zeek_json_lines),
        ("decode zeek (tsv dns)", Format::Zeek, zeek_tsv_lines),
        (
            "decode windows-json (sysmon 1)",
            Format::WindowsJson,
            windows_json_lines,
        ),
        (
            "decode windows-xml (4625)",
            Format::WindowsXml,
            windows_xml_lines,
        ),
        ("decode wazuh (sshd alert)", Format::Wazuh, wazuh_lines),
        ("decode cef (syslog header)", Format::Cef, cef_lines),
        ("decode json (generic)", Format::Json, json_lines),
    ];
    let only = std::env::args().nth(2);
    if only.as_deref() == Some("intel") {
        intel::run(n);
        return;
    }
    if only.as_deref() == Some("intel-store") {
        intel_store::store(n);
        return;
    }
    if only.as_deref() == Some("intel-big-feed") {
        intel_store::big_feed(n);
        return;
    }
    if only.as_deref() == Some("playbooks") {
        playbooks::run(n);
        return;
    }
    if only.as_deref() == Some("auth") {
        auth::run(n);
        return;
    }
    if only.as_deref() == Some("intake") {
        intake::run();
        return;
    }
    if only.as_deref() == Some("respond") {
        respond::run(n);
        return;
    }
    if only.as_deref() == Some("nftables") {
        nft::bench_nftables();
        return;
    }
    if only.as_deref().is_none_or(|o| "sshd threshold".contains(o)) {
        bench_threshold(&authlog_lines(n));
        if only.is_some() {
            return;
        }
    }
    for (name, format, generate) in decoders {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        bench_decode(name, format, &generate(n));
    }
    bench_sigma(only.as_deref());
    if only.is_some() {
        return;
    }
    let syslog = sshd_lines(n);
    bench_detect(&syslog);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(bench_pipeline(&syslog[..n.min(100_000)]));
}
