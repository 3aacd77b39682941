//! Decode throughput per format, one core: `cargo bench -p riposte-ingest`.
//! Criterion reports both elements/s (events) and bytes/s.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};

const EVE_ALERT: &str = r#"{"timestamp":"2026-03-14T09:25:31.007412+0000","flow_id":1457705212870443,"in_iface":"eth0","event_type":"alert","src_ip":"198.51.100.23","src_port":38740,"dest_ip":"192.0.2.80","dest_port":80,"proto":"TCP","app_proto":"http","alert":{"action":"allowed","gid":1,"signature_id":2034647,"rev":2,"signature":"ET EXPLOIT Apache log4j RCE Attempt (http uri) (CVE-2021-44228)","category":"Attempted Administrator Privilege Gain","severity":1}}"#;
const ZEEK_DNS: &str = r#"{"_path":"dns","_write_ts":"2018-03-24T17:15:20.866586Z","ts":"2018-03-24T17:15:20.865716Z","uid":"CqKst53mF3det3eDV9","id.orig_h":"10.47.1.100","id.orig_p":41772,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","trans_id":36329,"rtt":0.0008699893951416016,"query":"ise.wrccdc.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["ise.wrccdc.cpp.edu","134.71.3.16"],"TTLs":[2230.0,41830.0],"rejected":false}"#;
const SSHD: &str = "Mar 14 09:27:01 bastion sshd[2303]: Failed password for invalid user admin from 203.0.113.7 port 52230 ssh2";
const WEB_COMBINED: &str = r#"203.0.113.7 - - [14/Mar/2026:09:27:01 +0100] "GET /wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1 HTTP/1.1" 404 3650 "https://www.example.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36""#;
const SUDO: &str = "Mar 14 09:27:01 bastion sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx";

fn batch(line: &str, n: usize) -> Vec<Line> {
    (0..n)
        .map(|i| Line {
            offset: (i * (line.len() + 1)) as u64,
            bytes: line.as_bytes().to_vec(),
            truncated_from: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = Utc
        .with_ymd_and_hms(2026, 3, 14, 10, 0, 0)
        .single()
        .unwrap_or_default();
    let ctx = DecodeCtx {
        source: "bench",
        now,
    };
    let mut group = c.benchmark_group("decode");
    for (name, format, line) in [
        ("suricata-eve alert", Format::SuricataEve, EVE_ALERT),
        ("syslog sshd", Format::Syslog, SSHD),
        ("zeek json dns", Format::Zeek, ZEEK_DNS),
        ("syslog sudo", Format::Syslog, SUDO),
        ("webserver combined", Format::Webserver, WEB_COMBINED),
    ] {
        let lines = batch(line, 1000);
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_function(format!("{name} (events)"), |b| {
            b.iter(|| black_box(decode_batch(format, black_box(&lines), &ctx)))
        });
        group.throughput(Throughput::Bytes(
            lines.iter().map(|l| l.bytes.len() as u64 + 1).sum(),
        ));
        group.bench_function(format!("{name} (bytes)"), |b| {
            b.iter(|| black_box(decode_batch(format, black_box(&lines), &ctx)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
