//! Decode throughput per format, one core: `cargo bench -p riposte-ingest`.
//! Criterion reports both elements/s (events) and bytes/s. Every case
//! checks first that its line decodes to an event.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_ingest::{DecodeCtx, Format, Line, decode_batch};

const EVE_ALERT: &str = r#"{"timestamp":"2026-03-14T09:25:31.007412+0000","flow_id":1457705212870443,"in_iface":"eth0","event_type":"alert","src_ip":"198.51.100.23","src_port":38740,"dest_ip":"192.0.2.80","dest_port":80,"proto":"TCP","app_proto":"http","alert":{"action":"allowed","gid":1,"signature_id":2034647,"rev":2,"signature":"ET EXPLOIT Apache log4j RCE Attempt (http uri) (CVE-2021-44228)","category":"Attempted Administrator Privilege Gain","severity":1}}"#;
const ZEEK_DNS: &str = r#"{"_path":"dns","_write_ts":"2018-03-24T17:15:20.866586Z","ts":"2018-03-24T17:15:20.865716Z","uid":"CqKst53mF3det3eDV9","id.orig_h":"10.47.1.100","id.orig_p":41772,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","trans_id":36329,"rtt":0.0008699893951416016,"query":"ise.wrccdc.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["ise.wrccdc.cpp.edu","134.71.3.16"],"TTLs":[2230.0,41830.0],"rejected":false}"#;
const SSHD: &str = "Mar 14 09:27:01 bastion sshd[2303]: Failed password for invalid user admin from 203.0.113.7 port 52230 ssh2";
const WEB_COMBINED: &str = r#"203.0.113.7 - - [14/Mar/2026:09:27:01 +0100] "GET /wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1 HTTP/1.1" 404 3650 "https://www.example.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36""#;
const SUDO: &str = "Mar 14 09:27:01 bastion sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx";
const EVE_DNS: &str = r#"{"timestamp":"2026-03-14T09:25:31.007412+0000","flow_id":1457705212870444,"in_iface":"eth0","event_type":"dns","src_ip":"10.0.0.5","src_port":53211,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":45872,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"www.example.com","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.example.com","rrtype":"A","ttl":300,"rdata":"93.184.216.34"}],"grouped":{"A":["93.184.216.34"]}}}"#;
const EVE_HTTP: &str = r#"{"timestamp":"2026-03-14T09:25:31.007412+0000","flow_id":1457705212870445,"in_iface":"eth0","event_type":"http","src_ip":"10.0.0.5","src_port":50412,"dest_ip":"93.184.216.34","dest_port":80,"proto":"TCP","tx_id":0,"http":{"hostname":"www.example.com","url":"/catalog/item.php?id=42&ref=home","http_user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0","http_content_type":"text/html","http_refer":"http://www.example.com/","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":1256}}"#;
const EVE_FLOW: &str = r#"{"timestamp":"2026-03-14T09:25:31.007412+0000","flow_id":1457705212870446,"in_iface":"eth0","event_type":"flow","src_ip":"10.0.0.5","src_port":50413,"dest_ip":"198.51.100.7","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":12,"pkts_toclient":10,"bytes_toserver":1820,"bytes_toclient":5230,"start":"2026-03-14T09:25:01.007412+0000","end":"2026-03-14T09:25:31.001001+0000","age":30,"state":"closed","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}"#;
const CRON: &str =
    "Mar 14 09:27:01 web1 CRON[12345]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)";
const ZEEK_TSV_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2026-03-14-09-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool";
const ZEEK_TSV_DNS: &str = "1521911720.865716\tCqKst53mF3det3eDV9\t10.47.1.100\t41772\t10.0.0.100\t53\tudp\t36329\t0.000870\tise.wrccdc.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tise.wrccdc.cpp.edu,134.71.3.16\t2230.000000,41830.000000\tF";
const SYSMON_JSON: &str = r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"}},"EventID":1,"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:26:53.123456Z"}},"EventRecordID":1042,"Correlation":null,"Execution":{"#attributes":{"ProcessID":3216,"ThreadID":4020}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1.example.test","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"RuleName":"-","UtcTime":"2026-03-14 09:26:53.120","ProcessGuid":"{4a1b2c3d-0042-65f2-1a00-000000001f00}","ProcessId":4242,"Image":"C:\\Windows\\System32\\cmd.exe","FileVersion":"10.0.19041.746 (WinBuild.160101.0800)","Description":"Windows Command Processor","Product":"Microsoft® Windows® Operating System","Company":"Microsoft Corporation","OriginalFileName":"Cmd.Exe","CommandLine":"cmd.exe /c whoami /all","CurrentDirectory":"C:\\Users\\alice\\","User":"EXAMPLE\\alice","LogonGuid":"{4a1b2c3d-0000-65f2-e803-0a0000000000}","LogonId":"0x3e7a1","TerminalSessionId":1,"IntegrityLevel":"High","Hashes":"SHA1=99AE9C73E9BEE6F9C76D6F4093A9882DF06832CF,MD5=A6177D080759CF4A03EF837A1F1B3C9B,SHA256=B99D114B267FFD068C3289199B6DF95A9F9E64872D6C2B666D63974BBCE75BF2,IMPHASH=272245E2988E1E430500B852C4FB5E18","ParentProcessGuid":"{4a1b2c3d-0001-65f2-1a00-000000001f00}","ParentProcessId":2424,"ParentImage":"C:\\Windows\\explorer.exe","ParentCommandLine":"C:\\Windows\\Explorer.EXE","ParentUser":"EXAMPLE\\alice"}}}"##;
const LOGON_XML: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}" /><EventID>4625</EventID><Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime="2026-03-14T09:26:53.9027913Z" /><EventRecordID>2559</EventRecordID><Correlation ActivityID="{31491fb2-5b07-0001-4d20-4931075bd801}" /><Execution ProcessID="712" ThreadID="20372" /><Channel>Security</Channel><Computer>dc1.example.test</Computer><Security /></System><EventData><Data Name="SubjectUserSid">S-1-0-0</Data><Data Name="TargetUserName">alice</Data><Data Name="TargetDomainName">EXAMPLE</Data><Data Name="Status">0xc000006d</Data><Data Name="LogonType">3</Data><Data Name="ProcessName">-</Data><Data Name="IpAddress">192.168.9.212</Data><Data Name="IpPort">1628</Data></EventData></Event>"#;
const WAZUH: &str = r#"{"timestamp":"2026-03-14T09:26:53.456+0000","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Non existent user.","id":"5712","mitre":{"id":["T1110"],"tactic":["Credential Access"],"technique":["Brute Force"]},"frequency":8,"firedtimes":1,"mail":false,"groups":["syslog","sshd","authentication_failures"],"gdpr":["IV_35.7.d","IV_32.2"]},"agent":{"id":"002","name":"bastion","ip":"10.0.0.5"},"manager":{"name":"wazuh-manager"},"id":"1773480413.2042","full_log":"Mar 14 09:26:53 bastion sshd[4242]: Invalid user admin from 203.0.113.7 port 51234","predecoder":{"program_name":"sshd","timestamp":"Mar 14 09:26:53","hostname":"bastion"},"decoder":{"parent":"sshd","name":"sshd"},"data":{"srcip":"203.0.113.7","srcport":"51234","srcuser":"admin"},"location":"/var/log/auth.log"}"#;
const CEF: &str = r"<134>Mar 14 09:26:53 fw01 CEF:0|Palo Alto Networks|PAN-OS|10.1.3|url|THREAT|5|rt=1773480413000 src=10.0.0.5 dst=198.51.100.7 spt=50412 dpt=443 proto=TCP act=block-url suser=EXAMPLE\\alice request=https://bad.example.net/path/index.html cs1Label=Rule cs1=Block-Malware cat=malware msg=URL blocked by policy";
const JSON: &str = r#"{"@timestamp":"2026-03-14T09:26:53.120Z","level":"warn","logger":"auth.login","message":"login failed for alice","user":{"name":"alice","id":1001},"source":{"ip":"203.0.113.7","port":52230},"http":{"method":"POST","path":"/api/login","status":401},"duration_ms":87,"tags":["auth","web"]}"#;

fn batch(line: &str, n: usize) -> Vec<Line> {
    (0..n)
        .map(|i| Line {
            offset: (i * (line.len() + 1)) as u64,
            bytes: line.as_bytes().to_vec(),
            truncated_from: None,
        })
        .collect()
}

fn batch_of<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Line> {
    lines
        .map(|l| Line {
            offset: 0,
            bytes: l.as_bytes().to_vec(),
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
        ("suricata-eve dns", Format::SuricataEve, EVE_DNS),
        ("suricata-eve http", Format::SuricataEve, EVE_HTTP),
        ("suricata-eve flow", Format::SuricataEve, EVE_FLOW),
        ("syslog sshd", Format::Syslog, SSHD),
        ("syslog plain (cron)", Format::Syslog, CRON),
        ("syslog sudo", Format::Syslog, SUDO),
        ("webserver combined", Format::Webserver, WEB_COMBINED),
        ("zeek json dns", Format::Zeek, ZEEK_DNS),
        ("zeek tsv dns", Format::Zeek, ZEEK_TSV_DNS),
        ("windows-json sysmon 1", Format::WindowsJson, SYSMON_JSON),
        ("windows-xml 4625", Format::WindowsXml, LOGON_XML),
        ("wazuh sshd", Format::Wazuh, WAZUH),
        ("cef", Format::Cef, CEF),
        ("json generic", Format::Json, JSON),
    ] {
        let mut lines = batch(line, 1000);
        let events = lines.len() as u64;
        if format == Format::Zeek && !line.starts_with('{') {
            // TSV needs its header first; it counts as ignored, not events.
            let header = batch_of(ZEEK_TSV_HEADER.lines());
            lines.splice(0..0, header);
        }
        let out = decode_batch(format, &lines, &ctx);
        assert_eq!(
            (out.events.len(), out.dead_letters.len()),
            (events as usize, 0),
            "{name}: every line must decode"
        );
        group.throughput(Throughput::Elements(events));
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
