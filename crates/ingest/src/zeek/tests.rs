#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use riposte_model::{Observable, ObservableKind};

use super::*;
use crate::{DecodeOptions, Decoder, Format, Line};

fn ctx() -> DecodeCtx<'static> {
    ctx_from("test")
}

fn ctx_from(source: &'static str) -> DecodeCtx<'static> {
    DecodeCtx {
        source,
        now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
    }
}

fn s(v: &str) -> FieldValue {
    FieldValue::from(v)
}

fn int(i: i64) -> FieldValue {
    FieldValue::Int(i)
}

fn list(items: &[&str]) -> FieldValue {
    FieldValue::List(items.iter().map(|i| s(i)).collect())
}

const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-";

/// Decodes a TSV log (header and rows) with one decoder; every line must
/// be a header or an event.
fn tsv_events(text: &str, ctx: &DecodeCtx<'_>) -> Vec<Event> {
    let mut d = ZeekDecoder::default();
    let mut out = Vec::new();
    for line in text.lines() {
        match d.decode(line, ctx).unwrap() {
            Some(ev) => out.push(ev),
            None => assert!(line.starts_with('#'), "ignored a row: {line}"),
        }
    }
    out
}

fn json_event(line: &str, ctx: &DecodeCtx<'_>) -> Event {
    ZeekDecoder::default().decode(line, ctx).unwrap().unwrap()
}

fn fields(ev: &Event) -> Vec<(&str, FieldValue)> {
    ev.fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect()
}

/// The event's ECS fields: everything not under `zeek.<path>.`.
fn ecs_fields(ev: &Event) -> Vec<(&str, FieldValue)> {
    let native = format!("{}.", ev.dataset);
    ev.fields
        .iter()
        .filter(|(k, _)| !k.starts_with(&native))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect()
}

fn assert_same(json: &Event, tsv: &Event) {
    assert_eq!(json.timestamp, tsv.timestamp);
    assert_eq!(json.dataset, tsv.dataset);
    assert_eq!(fields(json), fields(tsv));
    assert_eq!(json.observables, tsv.observables);
}

/// One record of every TSV type, with escapes, `(empty)` and `-`.
const DEMO_TSV: &str = "#path\tdemo
#open\t2026-03-14-09-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttext\tempty\ttags\tnone\trtt\tcnt\tn\tratio\tok\tref_time\tports\tgone\tbig\tdash\tlit
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tset[string]\tvector[string]\tinterval\tcount\tint\tdouble\tbool\ttime\tvector[count]\tstring\tcount\tstring\tstring
1773480413.123456\tCAbc1\t192.0.2.1\t52211\t198.51.100.2\t53\tudp\ttab\\x09and\\\\back\\x0anl \\x01ctl\t(empty)\ta\\x2cb,c\t(empty)\t0.000870\t7\t-3\t0.139741\tT\t-1418429426.887384\t1,2\t-\t18446744073709551615\t\\x2d\t\\x28empty)
#close\t2026-03-14-10-00-00";

/// The same record as the JSON streaming package writes it.
const DEMO_JSON: &str = r#"{"_path":"demo","_write_ts":"2026-03-14T09:27:00.000000Z","ts":"2026-03-14T09:26:53.123456Z","uid":"CAbc1","id.orig_h":"192.0.2.1","id.orig_p":52211,"id.resp_h":"198.51.100.2","id.resp_p":53,"proto":"udp","text":"tab\tand\\back\nnl \\x01ctl","empty":"","tags":["a,b","c"],"none":[],"rtt":0.0008699893951416016,"cnt":7,"n":-3,"ratio":0.13974087420570516,"ok":true,"ref_time":"1925-01-19T23:49:33.112616Z","ports":[1,2],"gone":null,"big":18446744073709551615,"dash":"-","lit":"(empty)"}"#;

/// The same record as plain Zeek JSON with epoch times writes it.
const DEMO_EPOCH_JSON: &str = r#"{"_path":"demo","ts":1773480413.123456,"uid":"CAbc1","id.orig_h":"192.0.2.1","id.orig_p":52211,"id.resp_h":"198.51.100.2","id.resp_p":53,"proto":"udp","text":"tab\tand\\back\nnl \\x01ctl","empty":"","tags":["a,b","c"],"none":[],"rtt":0.0008699893951416016,"cnt":7,"n":-3,"ratio":0.13974087420570516,"ok":true,"ref_time":-1418429426.887384,"ports":[1,2],"big":18446744073709551615,"dash":"-","lit":"(empty)"}"#;

#[test]
fn every_tsv_type_decodes_to_the_normalized_fields() {
    let events = tsv_events(&format!("{HEADER}\n{DEMO_TSV}"), &ctx());
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.dataset, "zeek.demo");
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap()
            + chrono::TimeDelta::microseconds(123_456)
    );
    let want = vec![
        ("destination.ip", s("198.51.100.2")),
        ("destination.port", int(53)),
        ("event.id", s("CAbc1")),
        ("event.kind", s("event")),
        ("event.module", s("zeek")),
        ("network.transport", s("udp")),
        ("source.ip", s("192.0.2.1")),
        ("source.port", int(52211)),
        ("zeek.demo.big", s("18446744073709551615")),
        ("zeek.demo.cnt", int(7)),
        ("zeek.demo.dash", s("-")),
        ("zeek.demo.empty", s("")),
        ("zeek.demo.id.orig_h", s("192.0.2.1")),
        ("zeek.demo.id.orig_p", int(52211)),
        ("zeek.demo.id.resp_h", s("198.51.100.2")),
        ("zeek.demo.id.resp_p", int(53)),
        ("zeek.demo.lit", s("(empty)")),
        ("zeek.demo.n", int(-3)),
        ("zeek.demo.none", FieldValue::List(vec![])),
        ("zeek.demo.ok", FieldValue::Bool(true)),
        ("zeek.demo.ports", FieldValue::List(vec![int(1), int(2)])),
        ("zeek.demo.proto", s("udp")),
        ("zeek.demo.ratio", FieldValue::Float(0.139741)),
        ("zeek.demo.ref_time", s("1925-01-19T23:49:33.112616Z")),
        ("zeek.demo.rtt", FieldValue::Float(0.00087)),
        ("zeek.demo.tags", list(&["a,b", "c"])),
        ("zeek.demo.text", s("tab\tand\\back\nnl \\x01ctl")),
        ("zeek.demo.uid", s("CAbc1")),
        ("zeek.session_id", s("CAbc1")),
    ];
    assert_eq!(fields(ev), want);
    assert_eq!(
        ev.observables,
        vec![
            Observable::new(ObservableKind::Ip, "192.0.2.1", Some("source.ip")),
            Observable::new(ObservableKind::Ip, "198.51.100.2", Some("destination.ip")),
        ]
    );
}

#[test]
fn json_iso_and_json_epoch_decode_like_tsv() {
    let tsv = tsv_events(&format!("{HEADER}\n{DEMO_TSV}"), &ctx());
    let iso = json_event(DEMO_JSON, &ctx());
    let epoch = json_event(DEMO_EPOCH_JSON, &ctx());
    assert_same(&iso, &tsv[0]);
    assert_same(&epoch, &tsv[0]);
}

#[test]
fn json_times_in_milliseconds_are_read_as_zeek_writes_them() {
    let ev = json_event(
        r#"{"_path":"ntp","ts":1521911720865,"ref_time":0,"xmt_time":1521911713139}"#,
        &ctx(),
    );
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2018, 3, 24, 17, 15, 20).unwrap()
            + chrono::TimeDelta::milliseconds(865)
    );
    assert_eq!(
        ev.get_str("zeek.ntp.ref_time"),
        Some("1970-01-01T00:00:00.000000Z")
    );
    assert_eq!(
        ev.get_str("zeek.ntp.xmt_time"),
        Some("2018-03-24T17:15:13.139000Z")
    );
}

#[test]
fn headers_are_ignored_and_rows_are_checked_against_them() {
    let lines: Vec<Line> = format!("{HEADER}\n{DEMO_TSV}")
        .lines()
        .chain(["1773480413.5\tonly two"])
        .enumerate()
        .map(|(i, l)| Line {
            offset: i as u64 * 100,
            bytes: l.as_bytes().to_vec(),
            truncated_from: None,
        })
        .collect();
    let out = Decoder::new(Format::Zeek, &DecodeOptions::default()).decode_batch(&lines, &ctx());
    assert_eq!(
        out.ignored, 9,
        "4 separator lines, #path, #open, #fields, #types, #close"
    );
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.dead_letters.len(), 1);
    assert_eq!(
        out.dead_letters[0].reason,
        "not a zeek record: TSV row has 2 columns but #fields names 22: \"1773480413.5\\tonly two\""
    );
    assert_eq!(out.dead_letters[0].format, "zeek");
}

fn err(lines: &[&str]) -> String {
    let mut d = ZeekDecoder::default();
    let (last, head) = lines.split_last().unwrap();
    for l in head {
        d.decode(l, &ctx()).unwrap();
    }
    d.decode(last, &ctx()).unwrap_err().to_string()
}

#[test]
fn errors_name_the_problem() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["1521911720.865716\tCq\t10.0.0.1"],
            "not a zeek record: TSV data row before any #fields header",
        ),
        (
            vec!["#fields\tts\tok", "#types\ttime\tbool\tcount", "1.0\tT"],
            "not a zeek record: #types lists 3 types but #fields names 2 fields",
        ),
        (
            vec!["#fields\tts\tok", "#types\ttime\tbool", "1.0\tyes"],
            "not a zeek record: field \"ok\" is not a valid bool: \"yes\"",
        ),
        (
            vec!["#fields\tts\tp", "#types\ttime\tport", "1.0\t70000"],
            "not a zeek record: field \"p\" is not a valid port: \"70000\"",
        ),
        (
            vec!["#fields\tts\tn", "#types\ttime\tset[count]", "1.0\t1,x"],
            "not a zeek record: field \"n\" is not a valid count: \"x\"",
        ),
        (
            vec!["#fields\tts", "#types\ttime", "yesterday"],
            "not a zeek record: field \"ts\" is not a valid time: \"yesterday\"",
        ),
        (
            vec!["#path\tdns/../x"],
            "not a zeek record: invalid #path \"dns/../x\"",
        ),
        (
            vec!["#fields\tts\t\tx"],
            "not a zeek record: empty field name in #fields \"ts\\t\\tx\"",
        ),
        (
            vec!["#separator "],
            "not a zeek record: empty #separator in header \"#separator \"",
        ),
        (
            vec![r#"{"_path":"a b","ts":1.0}"#],
            "not a zeek record: invalid _path \"a b\"",
        ),
        (
            vec![r#"{"_path":7}"#],
            "field \"_path\" must be a string, found number 7",
        ),
        (
            vec![r#"{"_path":"dns","ts":"yesterday"}"#],
            "invalid timestamp \"\\\"yesterday\\\"\" (expected ISO 8601 text or epoch seconds)",
        ),
        (
            vec![r#"{"_path":"dns","ts":true}"#],
            "invalid timestamp \"true\" (expected ISO 8601 text or epoch seconds)",
        ),
        (
            vec![r#"{"_path":"dns","ts":1.0"#],
            "truncated JSON: EOF while parsing an object at line 1 column 23",
        ),
        (
            vec![r#"{"_path":"dns",}"#],
            "invalid JSON: trailing comma at line 1 column 16",
        ),
    ];
    for (lines, want) in cases {
        assert_eq!(err(&lines), want, "{lines:?}");
    }
}

#[test]
fn a_new_header_block_replaces_the_old_one() {
    let text = format!(
        "{HEADER}\n#path\tfirst\n#fields\tts\tx\n#types\ttime\tcount\n1.0\t1\n\
         #separator \\x2c\n#path,second\n#fields,ts,y,z\n#types,time,string,vector[string]\n2.0,a\\x2cb,c\n\
         #set_separator,;\n3.0,-,(empty)\n#unset_field,none\n4.0,none,d;e"
    );
    let events = tsv_events(&text, &ctx());
    let got: Vec<(String, Vec<(&str, FieldValue)>)> = events
        .iter()
        .map(|e| {
            (
                e.dataset.to_string(),
                fields(e)
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("event."))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("zeek.first".into(), vec![("zeek.first.x", int(1))]),
            (
                "zeek.second".into(),
                vec![("zeek.second.y", s("a,b")), ("zeek.second.z", list(&["c"]))]
            ),
            (
                "zeek.second".into(),
                vec![("zeek.second.z", FieldValue::List(vec![]))]
            ),
            (
                "zeek.second".into(),
                vec![("zeek.second.z", list(&["d", "e"]))]
            ),
        ]
    );
}

#[test]
fn rows_starting_with_hash_or_brace_are_rows_and_other_comments_are_ignored() {
    let text = format!(
        "{HEADER}\n#path\tloaded_scripts\n#fields\tname\n#types\tstring\n#!/weird/name.zeek\n{{braces}}.zeek\n"
    );
    let events = tsv_events(&text, &ctx());
    let names: Vec<_> = events
        .iter()
        .map(|e| e.get_str("zeek.loaded_scripts.name").unwrap().to_owned())
        .collect();
    assert_eq!(names, ["#!/weird/name.zeek", "{braces}.zeek"]);
    // No `ts`: the event happens when it is read.
    assert_eq!(events[0].timestamp, ctx().now);

    let mut d = ZeekDecoder::default();
    d.decode("#fields\ta\tb", &ctx()).unwrap();
    assert!(d.decode("# just a comment", &ctx()).unwrap().is_none());
}

#[test]
fn conn_from_tsv_and_plain_json_maps_to_ecs() {
    let tsv = tsv_events(
        &format!(
            "{HEADER}\n#path\tconn\n\
             #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
             #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n\
             1521911721.255387\tC8Tful1TvM3Zf5x8fl\t10.164.94.120\t39681\t10.47.3.155\t3389\ttcp\tssl,rdp\t0.004266\t97\t19\tRSTR\tT\tF\t0\tShADTdtr\t10\t730\t6\t342\t(empty)"
        ),
        &ctx(),
    );
    // Plain Zeek JSON: epoch `ts`, no `_path`; the log is named by the file.
    let json = json_event(
        r#"{"ts":1521911721.255387,"uid":"C8Tful1TvM3Zf5x8fl","id.orig_h":"10.164.94.120","id.orig_p":39681,"id.resp_h":"10.47.3.155","id.resp_p":3389,"proto":"tcp","service":"ssl,rdp","duration":0.004266023635864258,"orig_bytes":97,"resp_bytes":19,"conn_state":"RSTR","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"ShADTdtr","orig_pkts":10,"orig_ip_bytes":730,"resp_pkts":6,"resp_ip_bytes":342,"tunnel_parents":[]}"#,
        &ctx_from("/var/log/zeek/current/conn.log"),
    );
    assert_same(&json, &tsv[0]);
    assert_eq!(
        ecs_fields(&json),
        vec![
            ("destination.bytes", int(19)),
            ("destination.ip", s("10.47.3.155")),
            ("destination.packets", int(6)),
            ("destination.port", int(3389)),
            ("event.category", s("network")),
            ("event.duration", int(4_266_000)),
            ("event.id", s("C8Tful1TvM3Zf5x8fl")),
            ("event.kind", s("event")),
            ("event.module", s("zeek")),
            ("network.bytes", int(116)),
            ("network.direction", s("outbound")),
            ("network.packets", int(16)),
            ("network.protocol", s("ssl")),
            ("network.transport", s("tcp")),
            ("source.bytes", int(97)),
            ("source.ip", s("10.164.94.120")),
            ("source.packets", int(10)),
            ("source.port", int(39681)),
            ("zeek.session_id", s("C8Tful1TvM3Zf5x8fl")),
        ]
    );
    assert_eq!(
        json.get("zeek.conn.duration"),
        Some(FieldValue::Float(0.004266))
    );
    assert_eq!(
        json.get("zeek.conn.tunnel_parents"),
        Some(FieldValue::List(vec![]))
    );
}

#[test]
fn http_maps_to_url_and_http_fields() {
    let tsv = tsv_events(
        &format!(
            "{HEADER}\n#path\thttp\n\
             #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\treferrer\tversion\tuser_agent\torigin\trequest_body_len\tresponse_body_len\tstatus_code\tstatus_msg\tinfo_code\tinfo_msg\ttags\tusername\tpassword\tproxied\torig_fuids\torig_filenames\torig_mime_types\tresp_fuids\tresp_filenames\tresp_mime_types\n\
             #types\ttime\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tstring\tstring\tstring\tstring\tcount\tcount\tcount\tstring\tcount\tstring\tset[enum]\tstring\tstring\tset[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\n\
             1521911721.5\tCHhAvVGS1DHFjwGM9\t10.164.94.120\t40000\t10.47.8.218\t8080\t1\tGET\tWWW.Example.com:8080\t/index.php?id=1\t-\t1.1\tMozilla/5.0 (X11; Linux x86_64)\t-\t0\t1234\t200\tOK\t-\t-\t(empty)\t-\t-\t-\t-\t-\t-\tFWb6Q43fiIyTxgQRJ8\t-\ttext/html"
        ),
        &ctx(),
    );
    let json = json_event(
        r#"{"_path":"http","_write_ts":"2018-03-24T17:15:22.000000Z","ts":"2018-03-24T17:15:21.500000Z","uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"10.164.94.120","id.orig_p":40000,"id.resp_h":"10.47.8.218","id.resp_p":8080,"trans_depth":1,"method":"GET","host":"WWW.Example.com:8080","uri":"/index.php?id=1","version":"1.1","user_agent":"Mozilla/5.0 (X11; Linux x86_64)","request_body_len":0,"response_body_len":1234,"status_code":200,"status_msg":"OK","tags":[],"resp_fuids":["FWb6Q43fiIyTxgQRJ8"],"resp_mime_types":["text/html"]}"#,
        &ctx(),
    );
    assert_same(&json, &tsv[0]);
    assert_eq!(
        ecs_fields(&json),
        vec![
            ("destination.ip", s("10.47.8.218")),
            ("destination.port", int(8080)),
            ("event.category", s("web")),
            ("event.id", s("CHhAvVGS1DHFjwGM9")),
            ("event.kind", s("event")),
            ("event.module", s("zeek")),
            ("http.request.body.bytes", int(0)),
            ("http.request.method", s("GET")),
            ("http.response.body.bytes", int(1234)),
            ("http.response.mime_type", s("text/html")),
            ("http.response.status_code", int(200)),
            ("http.version", s("1.1")),
            ("network.protocol", s("http")),
            ("source.ip", s("10.164.94.120")),
            ("source.port", int(40000)),
            ("url.domain", s("WWW.Example.com")),
            ("url.full", s("http://WWW.Example.com:8080/index.php?id=1")),
            ("url.original", s("/index.php?id=1")),
            ("url.path", s("/index.php")),
            ("url.query", s("id=1")),
            ("user_agent.original", s("Mozilla/5.0 (X11; Linux x86_64)")),
            ("zeek.session_id", s("CHhAvVGS1DHFjwGM9")),
        ]
    );
    let mut obs = json.observables.clone();
    obs.sort();
    let mut want = vec![
        Observable::new(ObservableKind::Ip, "10.164.94.120", Some("source.ip")),
        Observable::new(ObservableKind::Ip, "10.47.8.218", Some("destination.ip")),
        Observable::new(
            ObservableKind::Domain,
            "www.example.com",
            Some("url.domain"),
        ),
        Observable::new(
            ObservableKind::Url,
            "http://WWW.Example.com:8080/index.php?id=1",
            Some("url.full"),
        ),
    ];
    want.sort();
    assert_eq!(obs, want);
}

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn files_maps_hashes_to_file_fields_and_observables() {
    let tsv = tsv_events(
        &format!(
            "{HEADER}\n#path\tfiles\n\
             #fields\tts\tfuid\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tsource\tdepth\tanalyzers\tmime_type\tfilename\tduration\tlocal_orig\tis_orig\tseen_bytes\ttotal_bytes\tmissing_bytes\toverflow_bytes\ttimedout\tparent_fuid\tmd5\tsha1\tsha256\textracted\textracted_cutoff\textracted_size\n\
             #types\ttime\tstring\tstring\taddr\tport\taddr\tport\tstring\tcount\tset[string]\tstring\tstring\tinterval\tbool\tbool\tcount\tcount\tcount\tcount\tbool\tstring\tstring\tstring\tstring\tstring\tbool\tcount\n\
             1521911754.475076\tF0xzjz3rr4CCtVDBJc\tC6WWAQ2G8MqT1hrQHd\t10.47.8.142\t445\t10.128.0.214\t41717\tSMB\t0\tPE,MD5,SHA1,SHA256\tapplication/x-dosexec\tevil.exe\t0.000123\t-\tT\t4096\t-\t0\t0\tF\t-\t{MD5}\t{SHA1}\t{SHA256}\t-\t-\t-"
        ),
        &ctx(),
    );
    let json = json_event(
        &format!(
            r#"{{"_path":"files","ts":"2018-03-24T17:15:54.475076Z","fuid":"F0xzjz3rr4CCtVDBJc","uid":"C6WWAQ2G8MqT1hrQHd","id.orig_h":"10.47.8.142","id.orig_p":445,"id.resp_h":"10.128.0.214","id.resp_p":41717,"source":"SMB","depth":0,"analyzers":["PE","MD5","SHA1","SHA256"],"mime_type":"application/x-dosexec","filename":"evil.exe","duration":0.00012302398681640625,"is_orig":true,"seen_bytes":4096,"missing_bytes":0,"overflow_bytes":0,"timedout":false,"md5":"{MD5}","sha1":"{SHA1}","sha256":"{SHA256}"}}"#
        ),
        &ctx(),
    );
    assert_same(&json, &tsv[0]);
    let ecs: Vec<_> = ecs_fields(&json)
        .into_iter()
        .filter(|(k, _)| k.starts_with("file.") || *k == "event.category")
        .collect();
    assert_eq!(
        ecs,
        vec![
            ("event.category", s("file")),
            ("file.hash.md5", s(MD5)),
            ("file.hash.sha1", s(SHA1)),
            ("file.hash.sha256", s(SHA256)),
            ("file.mime_type", s("application/x-dosexec")),
            ("file.name", s("evil.exe")),
            ("file.size", int(4096)),
        ]
    );
    let hashes: Vec<_> = json
        .observables
        .iter()
        .filter(|o| o.kind != ObservableKind::Ip)
        .cloned()
        .collect();
    assert_eq!(
        hashes,
        vec![
            Observable::new(ObservableKind::Md5, MD5, Some("file.hash.md5")),
            Observable::new(ObservableKind::Sha1, SHA1, Some("file.hash.sha1")),
            Observable::new(ObservableKind::Sha256, SHA256, Some("file.hash.sha256")),
        ]
    );
}

#[test]
fn intel_and_notice_are_alerts() {
    let intel = json_event(
        r#"{"_path":"intel","ts":"2026-03-14T09:26:53.000000Z","uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":5353,"id.resp_h":"10.0.0.1","id.resp_p":53,"seen.indicator":"evil.example.com","seen.indicator_type":"Intel::DOMAIN","seen.where":"DNS::IN_REQUEST","seen.node":"zeek","matched":["Intel::DOMAIN"],"sources":["feed-a"]}"#,
        &ctx(),
    );
    assert_eq!(intel.dataset, "zeek.intel");
    let ecs: Vec<_> = ecs_fields(&intel)
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("event.") || k.starts_with("threat.") || k.starts_with("related.")
        })
        .collect();
    assert_eq!(
        ecs,
        vec![
            ("event.category", s("threat")),
            ("event.id", s("C1")),
            ("event.kind", s("alert")),
            ("event.module", s("zeek")),
            ("event.type", s("indicator")),
            ("related.hosts", list(&["evil.example.com"])),
            ("threat.indicator.provider", list(&["feed-a"])),
            ("threat.indicator.type", s("domain-name")),
            ("threat.indicator.url.domain", s("evil.example.com")),
        ]
    );
    assert!(intel.observables.contains(&Observable::new(
        ObservableKind::Domain,
        "evil.example.com",
        Some("related.hosts")
    )));

    let addr = json_event(
        r#"{"_path":"intel","ts":1.0,"seen.indicator":"2001:db8::1","seen.indicator_type":"Intel::ADDR"}"#,
        &ctx(),
    );
    assert_eq!(addr.get_str("threat.indicator.type"), Some("ipv6-addr"));
    assert_eq!(addr.get_str("threat.indicator.ip"), Some("2001:db8::1"));

    // A notice without a connection: its own src/dst/p give the tuple.
    let notice = json_event(
        r#"{"_path":"notice","ts":1.0,"note":"Scan::Port_Scan","msg":"203.0.113.7 scanned 15 ports","src":"203.0.113.7","dst":"198.51.100.10","p":22,"actions":["Notice::ACTION_LOG"]}"#,
        &ctx(),
    );
    let ecs: Vec<_> = ecs_fields(&notice);
    assert_eq!(
        ecs,
        vec![
            ("destination.ip", s("198.51.100.10")),
            ("destination.port", int(22)),
            ("event.category", s("intrusion_detection")),
            ("event.kind", s("alert")),
            ("event.module", s("zeek")),
            ("message", s("203.0.113.7 scanned 15 ports")),
            ("rule.name", s("Scan::Port_Scan")),
            ("source.ip", s("203.0.113.7")),
        ]
    );
}

#[test]
fn ssl_and_x509_share_the_certificate_hash() {
    let ssl = json_event(
        &format!(
            r#"{{"_path":"ssl","ts":1.0,"uid":"C2","id.orig_h":"10.0.0.5","id.orig_p":50000,"id.resp_h":"93.184.216.34","id.resp_p":443,"version":"TLSv13","cipher":"TLS_AES_128_GCM_SHA256","server_name":"Example.ORG","resumed":false,"established":true,"cert_chain_fps":["{SHA256}","{SHA1}"],"client_cert_chain_fps":["{SHA1}"]}}"#
        ),
        &ctx(),
    );
    let tls: Vec<_> = ecs_fields(&ssl)
        .into_iter()
        .filter(|(k, _)| k.starts_with("tls."))
        .collect();
    assert_eq!(
        tls,
        vec![
            ("tls.cipher", s("TLS_AES_128_GCM_SHA256")),
            ("tls.client.hash.sha1", s(SHA1)),
            ("tls.client.server_name", s("Example.ORG")),
            ("tls.established", FieldValue::Bool(true)),
            ("tls.resumed", FieldValue::Bool(false)),
            ("tls.server.hash.sha256", s(SHA256)),
            ("tls.version", s("1.3")),
            ("tls.version_protocol", s("tls")),
        ]
    );
    assert!(ssl.observables.contains(&Observable::new(
        ObservableKind::Domain,
        "example.org",
        Some("tls.client.server_name")
    )));
    assert!(ssl.observables.contains(&Observable::new(
        ObservableKind::Sha256,
        SHA256,
        Some("tls.server.hash.sha256")
    )));

    let x509 = json_event(
        &format!(
            r#"{{"_path":"x509","ts":1.0,"fingerprint":"{SHA256}","certificate.version":3,"certificate.subject":"CN=www.example.org,O=Example\\, Inc.,C=US","certificate.issuer":"CN=Example CA,O=Example","certificate.not_valid_before":"2026-01-01T00:00:00.000000Z","certificate.not_valid_after":1798761600.0,"certificate.key_length":2048,"certificate.exponent":"65537","san.dns":["www.example.org","*.example.org"],"san.ip":["192.0.2.10"],"host_cert":true}}"#
        ),
        &ctx(),
    );
    let ecs: Vec<_> = ecs_fields(&x509)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("event."))
        .collect();
    assert_eq!(
        ecs,
        vec![
            ("file.hash.sha256", s(SHA256)),
            (
                "file.x509.alternative_names",
                list(&["www.example.org", "*.example.org", "192.0.2.10"])
            ),
            ("file.x509.issuer.common_name", list(&["Example CA"])),
            (
                "file.x509.issuer.distinguished_name",
                s("CN=Example CA,O=Example")
            ),
            ("file.x509.not_after", s("2027-01-01T00:00:00.000000Z")),
            ("file.x509.not_before", s("2026-01-01T00:00:00.000000Z")),
            ("file.x509.public_key_exponent", int(65537)),
            ("file.x509.public_key_size", int(2048)),
            ("file.x509.subject.common_name", list(&["www.example.org"])),
            (
                "file.x509.subject.distinguished_name",
                s("CN=www.example.org,O=Example\\, Inc.,C=US")
            ),
            ("file.x509.version_number", s("3")),
            ("related.hosts", list(&["www.example.org"])),
            ("related.ip", list(&["192.0.2.10"])),
        ]
    );
}

#[test]
fn unknown_logs_decode_generically() {
    let ev = json_event(
        r#"{"_path":"my_custom-log","ts":"2026-03-14T09:26:53Z","uid":"C9","id.orig_h":"192.0.2.1","id.orig_p":1,"id.resp_h":"192.0.2.2","id.resp_p":2,"proto":"icmp","nested":{"a":1,"b":[1.5,null]},"deep":[{"x":1}]}"#,
        &ctx(),
    );
    assert_eq!(ev.dataset, "zeek.my_custom-log");
    assert_eq!(
        ecs_fields(&ev),
        vec![
            ("destination.ip", s("192.0.2.2")),
            ("destination.port", int(2)),
            ("event.id", s("C9")),
            ("event.kind", s("event")),
            ("event.module", s("zeek")),
            ("network.transport", s("icmp")),
            ("source.ip", s("192.0.2.1")),
            ("source.port", int(1)),
            ("zeek.session_id", s("C9")),
        ]
    );
    assert_eq!(ev.get("zeek.my_custom-log.nested.a"), Some(int(1)));
    assert_eq!(
        ev.get("zeek.my_custom-log.nested.b"),
        Some(FieldValue::List(vec![FieldValue::Float(1.5)]))
    );
    assert_eq!(ev.get_str("zeek.my_custom-log.deep"), Some(r#"[{"x":1}]"#));
}

#[test]
fn the_log_name_comes_from_path_file_name_or_fields() {
    let cases = [
        ("/var/log/zeek/dns.log", r#"{"ts":1.0,"x":1}"#, "zeek.dns"),
        (
            "conn.00:00:00-01:00:00.log.gz",
            r#"{"ts":1.0}"#,
            "zeek.conn",
        ),
        (
            "kafka",
            r#"{"ts":1.0,"query":"a.example","trans_id":1}"#,
            "zeek.dns",
        ),
        ("kafka", r#"{"ts":1.0,"conn_state":"S0"}"#, "zeek.conn"),
        ("kafka", r#"{"ts":1.0,"note":"X","msg":"y"}"#, "zeek.notice"),
        ("kafka", r#"{"ts":1.0,"x":1}"#, "zeek.unknown"),
        (
            "/var/log/zeek/dns.log",
            r#"{"_path":"http","ts":1.0}"#,
            "zeek.http",
        ),
    ];
    for (source, line, want) in cases {
        assert_eq!(
            json_event(line, &ctx_from(source)).dataset,
            want,
            "{source} {line}"
        );
    }
    let tsv = tsv_events(
        "#fields\tts\tqtype_name\n#types\ttime\tstring\n1.0\tA",
        &ctx(),
    );
    assert_eq!(tsv[0].dataset, "zeek.dns");
    assert_eq!(tsv[0].get_str("dns.question.type"), Some("A"));
}

#[test]
fn tsv_without_types_reads_text_and_ts() {
    let events = tsv_events("#fields\tts\tn\n1521911720.865716\t42", &ctx());
    assert_eq!(
        events[0].timestamp,
        Utc.with_ymd_and_hms(2018, 3, 24, 17, 15, 20).unwrap()
            + chrono::TimeDelta::microseconds(865_716)
    );
    assert_eq!(events[0].get_str("zeek.unknown.n"), Some("42"));
}

#[test]
fn hostile_input_never_panics() {
    let mut d = ZeekDecoder::default();
    for line in [
        "#",
        "#separator",
        "#separator \\x",
        "#fields",
        "#types\tset[",
        "#fields\tts",
        "\\",
        "\\x",
        "{",
        "{\"ts\":1e400}",
        "{\"ts\":-1e300,\"from\":1e300,\"rtt\":-1e300}",
        "#fields\tts\tv",
        "#types\ttime\tvector[time]",
        "1e300\t1e300,nan,-inf",
        "-1e300\t\\xff\\xfe",
        "é\t\\xc3",
    ] {
        let _ = d.decode(line, &ctx());
    }
    // A new header block still reads rows.
    for line in [HEADER, "#fields\tts\tv", "#types\ttime\tvector[time]"]
        .iter()
        .flat_map(|l| l.lines())
    {
        assert!(d.decode(line, &ctx()).unwrap().is_none());
    }
    assert_eq!(
        d.decode("1.0\t-1,0.5", &ctx())
            .unwrap()
            .unwrap()
            .get("zeek.unknown.v"),
        Some(list(&[
            "1969-12-31T23:59:59.000000Z",
            "1970-01-01T00:00:00.500000Z"
        ]))
    );
}
