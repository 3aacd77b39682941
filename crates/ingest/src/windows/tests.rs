use chrono::{TimeZone, Utc};
use riposte_model::{Observable, ObservableKind};

use super::*;
use crate::{DecodeOptions, Decoder, Format, Line};

fn ctx() -> DecodeCtx<'static> {
    DecodeCtx {
        source: "t",
        now: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
    }
}

fn decode(format: Format, text: &str) -> Result<Event, DecodeError> {
    Decoder::new(format, &DecodeOptions::default())
        .decode(text.as_bytes(), 0, &ctx())
        .map(Option::unwrap)
}

fn dead_letter(format: Format, text: &[u8]) -> String {
    let line = Line {
        offset: 5,
        bytes: text.to_vec(),
        truncated_from: None,
    };
    let out = Decoder::new(format, &DecodeOptions::default()).decode_batch(&[line], &ctx());
    assert!(out.events.is_empty());
    assert_eq!(out.dead_letters.len(), 1);
    assert_eq!(out.dead_letters[0].offset, Some(5));
    out.dead_letters[0].reason.clone()
}

/// The same Security 4688 event as Windows' XML view writes it and as the
/// evtx crate renders it to JSON (typed values, lowercase GUIDs).
const PROCESS_XML: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-A5BA-3E3B0328C30D}" /><EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime="2026-03-14T09:26:53.1234567Z" /><EventRecordID>1042</EventRecordID><Correlation /><Execution ProcessID="4" ThreadID="7312" /><Channel>Security</Channel><Computer>dc1.example.test</Computer><Security /></System><EventData><Data Name="SubjectUserSid">S-1-5-18</Data><Data Name="SubjectUserName">DC1$</Data><Data Name="SubjectDomainName">EXAMPLE</Data><Data Name="SubjectLogonId">0x3e7</Data><Data Name="NewProcessId">0x1a2c</Data><Data Name="NewProcessName">C:\Windows\System32\cmd.exe</Data><Data Name="TokenElevationType">%%1936</Data><Data Name="ProcessId">0x2f0</Data><Data Name="CommandLine">cmd.exe /c "echo &lt;x&gt; &amp; whoami" </Data><Data Name="TargetUserSid">S-1-0-0</Data><Data Name="TargetUserName">-</Data><Data Name="TargetLogonId">0x0</Data><Data Name="ParentProcessName">C:\Windows\System32\services.exe</Data><Data Name="MandatoryLabel">S-1-16-16384</Data><Data Name="Unused"></Data></EventData></Event>"#;

const PROCESS_JSON: &str = r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{54849625-5478-4994-a5ba-3e3b0328c30d}"}},"EventID":4688,"Version":2,"Level":0,"Task":13312,"Opcode":0,"Keywords":"0x8020000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:26:53.1234567Z"}},"EventRecordID":1042,"Correlation":null,"Execution":{"#attributes":{"ProcessID":4,"ThreadID":7312}},"Channel":"Security","Computer":"dc1.example.test","Security":null},"EventData":{"SubjectUserSid":"S-1-5-18","SubjectUserName":"DC1$","SubjectDomainName":"EXAMPLE","SubjectLogonId":"0x3e7","NewProcessId":"0x1a2c","NewProcessName":"C:\\Windows\\System32\\cmd.exe","TokenElevationType":"%%1936","ProcessId":"0x2f0","CommandLine":"cmd.exe /c \"echo <x> & whoami\" ","TargetUserSid":"S-1-0-0","TargetUserName":"-","TargetLogonId":"0x0","ParentProcessName":"C:\\Windows\\System32\\services.exe","MandatoryLabel":"S-1-16-16384","Unused":null}}}"##;

#[test]
fn xml_and_evtx_json_of_one_event_give_identical_events() {
    let from_xml = decode(Format::WindowsXml, PROCESS_XML).unwrap();
    let from_json = decode(Format::WindowsJson, PROCESS_JSON).unwrap();
    assert_eq!(from_xml.timestamp, from_json.timestamp);
    assert_eq!(from_xml.dataset, from_json.dataset);
    assert_eq!(from_xml.fields, from_json.fields);
    assert_eq!(from_xml.observables, from_json.observables);

    let ev = from_xml;
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap()
            + chrono::TimeDelta::microseconds(123_456)
    );
    assert_eq!(ev.dataset, "windows.security");
    let mut want = Fields::new();
    for (k, v) in [
        ("EventID", FieldValue::Int(4688)),
        ("Version", FieldValue::Int(2)),
        ("Level", FieldValue::Int(0)),
        ("Task", FieldValue::Int(13312)),
        ("Opcode", FieldValue::Int(0)),
        ("Keywords", "0x8020000000000000".into()),
        ("EventRecordID", FieldValue::Int(1042)),
        ("ProcessID", FieldValue::Int(4)),
        ("ThreadID", FieldValue::Int(7312)),
        ("Channel", "Security".into()),
        ("Computer", "dc1.example.test".into()),
        (
            "Provider_Name",
            "Microsoft-Windows-Security-Auditing".into(),
        ),
        ("SubjectUserSid", "S-1-5-18".into()),
        ("SubjectUserName", "DC1$".into()),
        ("SubjectDomainName", "EXAMPLE".into()),
        ("SubjectLogonId", "0x3e7".into()),
        ("NewProcessId", "0x1a2c".into()),
        ("NewProcessName", r"C:\Windows\System32\cmd.exe".into()),
        ("TokenElevationType", "%%1936".into()),
        ("ProcessId", "0x2f0".into()),
        ("CommandLine", r#"cmd.exe /c "echo <x> & whoami""#.into()),
        ("TargetUserSid", "S-1-0-0".into()),
        ("TargetUserName", "-".into()),
        ("TargetLogonId", "0x0".into()),
        (
            "ParentProcessName",
            r"C:\Windows\System32\services.exe".into(),
        ),
        ("MandatoryLabel", "S-1-16-16384".into()),
        ("Unused", "".into()),
        ("event.code", "4688".into()),
        ("host.name", "dc1.example.test".into()),
        ("winlog.channel", "Security".into()),
        (
            "winlog.provider_name",
            "Microsoft-Windows-Security-Auditing".into(),
        ),
        ("winlog.record_id", FieldValue::Int(1042)),
        ("process.executable", r"C:\Windows\System32\cmd.exe".into()),
        (
            "process.command_line",
            r#"cmd.exe /c "echo <x> & whoami""#.into(),
        ),
        (
            "process.parent.executable",
            r"C:\Windows\System32\services.exe".into(),
        ),
        ("process.pid", FieldValue::Int(0x1a2c)),
        ("process.parent.pid", FieldValue::Int(0x2f0)),
    ] {
        want.insert(k.into(), v);
    }
    assert_eq!(ev.fields, want);
    assert_eq!(
        ev.observables,
        vec![
            Observable::new(ObservableKind::Host, "dc1.example.test", Some("host.name")),
            Observable::new(
                ObservableKind::Process,
                r"C:\Windows\System32\cmd.exe",
                Some("process.executable")
            ),
            Observable::new(
                ObservableKind::Process,
                r"C:\Windows\System32\services.exe",
                Some("process.parent.executable")
            ),
        ]
    );
    assert_eq!(ev.original.as_deref(), Some(PROCESS_XML));
}

/// A failed logon as CrowdSec's fixture has it in XML, and as winlogbeat 8
/// ships the same record.
const LOGON_XML: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>  <Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}" />   <EventID>4625</EventID>   <Version>0</Version>   <Level>0</Level>   <Task>12544</Task>   <Opcode>0</Opcode>   <Keywords>0x8010000000000000</Keywords>   <TimeCreated SystemTime="2022-04-29T12:36:01.9027913Z" />   <EventRecordID>2559</EventRecordID>   <Correlation ActivityID="{31491fb2-5b07-0001-4d20-4931075bd801}" />   <Execution ProcessID="712" ThreadID="20372" />   <Channel>Security</Channel>   <Computer>exchange-1.mydomain.test</Computer>   <Security />   </System><EventData>  <Data Name="SubjectUserSid">S-1-0-0</Data>   <Data Name="TargetUserName">asdfasdf</Data>   <Data Name="TargetDomainName">MYDOMAIN</Data>   <Data Name="Status">0xc000006d</Data>   <Data Name="LogonType">3</Data>   <Data Name="ProcessName">-</Data>   <Data Name="IpAddress">192.168.9.212</Data>   <Data Name="IpPort">1628</Data>   </EventData>  </Event>"#;

const LOGON_WINLOGBEAT: &str = r#"{"@timestamp":"2022-04-29T12:36:01.902Z","agent":{"type":"winlogbeat","version":"8.12.0"},"event":{"code":"4625","kind":"event","provider":"Microsoft-Windows-Security-Auditing","action":"logon-failed","outcome":"failure"},"host":{"name":"exchange-1"},"log":{"level":"information"},"message":"An account failed to log on.","winlog":{"api":"wineventlog","channel":"Security","computer_name":"exchange-1.mydomain.test","event_id":"4625","keywords":["Audit Failure"],"opcode":"Info","process":{"pid":712,"thread":{"id":20372}},"provider_guid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","provider_name":"Microsoft-Windows-Security-Auditing","record_id":2559,"task":"Logon","event_data":{"SubjectUserSid":"S-1-0-0","TargetUserName":"asdfasdf","TargetDomainName":"MYDOMAIN","Status":"0xc000006d","LogonType":"3","ProcessName":"-","IpAddress":"192.168.9.212","IpPort":"1628"}}}"#;

#[test]
fn winlogbeat_gives_the_same_native_and_ecs_fields_as_the_xml() {
    let xml = decode(Format::WindowsXml, LOGON_XML).unwrap();
    let beat = decode(Format::WindowsJson, LOGON_WINLOGBEAT).unwrap();
    assert_eq!(beat.dataset, "windows.security");
    assert_eq!(
        beat.timestamp,
        Utc.with_ymd_and_hms(2022, 4, 29, 12, 36, 1).unwrap()
            + chrono::TimeDelta::milliseconds(902)
    );
    // winlogbeat names Level, Task, Opcode and Keywords instead of giving
    // their numbers, and leaves a zero version out; everything else the XML
    // gives, it gives alike.
    for (name, value) in &xml.fields {
        if ["Level", "Task", "Opcode", "Keywords", "Version"].contains(&name.as_str()) {
            assert_eq!(beat.fields.get(name), None, "{name}");
        } else {
            assert_eq!(beat.fields.get(name), Some(value), "{name}");
        }
    }
    assert_eq!(beat.fields.get("LogonType"), Some(&FieldValue::Int(3)));
    assert_eq!(beat.get_str("source.ip"), Some("192.168.9.212"));
    assert_eq!(beat.fields.get("source.port"), Some(&FieldValue::Int(1628)));
    assert_eq!(beat.get_str("user.name"), Some("asdfasdf"));
    assert_eq!(beat.get_str("user.domain"), Some("MYDOMAIN"));
    assert_eq!(beat.get_str("process.executable"), None, "ProcessName is -");
    // The rest of the winlogbeat document is kept by its own names.
    assert_eq!(beat.get_str("winlog.task"), Some("Logon"));
    assert_eq!(beat.get_str("event.action"), Some("logon-failed"));
    assert_eq!(
        beat.get_str("message"),
        Some("An account failed to log on.")
    );
    // …but not where the normalization set the name: host.name is the
    // record's computer, not the agent's host.
    assert_eq!(beat.get_str("host.name"), Some("exchange-1.mydomain.test"));
    assert_eq!(beat.fields.get("winlog.event_data.IpAddress"), None);
    let mut ips: Vec<&Observable> = beat
        .observables
        .iter()
        .filter(|o| o.kind == ObservableKind::Ip)
        .collect();
    ips.dedup();
    assert_eq!(
        ips,
        vec![&Observable::new(
            ObservableKind::Ip,
            "192.168.9.212",
            Some("source.ip")
        )]
    );
}

#[test]
fn unnamed_data_becomes_a_list_and_event_id_qualifiers_are_dropped() {
    let json = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"MsiInstaller"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":1033},"Level":4,"TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00.0000000Z"}},"EventRecordID":77,"Channel":"Application","Computer":"ws1","Security":{"#attributes":{"UserID":"S-1-5-21-1-2-3-1001"}}},"EventData":{"Data":{"#text":["Tool","1.0","1033","0",""]},"Binary":"7B30"}}}"##;
    let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="MsiInstaller" /><EventID Qualifiers="0">1033</EventID><Level>4</Level><TimeCreated SystemTime="2026-03-14T09:00:00.0000000Z" /><EventRecordID>77</EventRecordID><Channel>Application</Channel><Computer>ws1</Computer><Security UserID="S-1-5-21-1-2-3-1001" /></System><EventData><Data>Tool</Data><Data>1.0</Data><Data>1033</Data><Data>0</Data><Data></Data><Binary>7B30</Binary></EventData></Event>"#;
    let a = decode(Format::WindowsJson, json).unwrap();
    let b = decode(Format::WindowsXml, xml).unwrap();
    assert_eq!(a.fields, b.fields);
    assert_eq!(a.timestamp, b.timestamp);
    assert_eq!(a.dataset, "windows.application");
    assert_eq!(
        a.fields.get("Data"),
        Some(&FieldValue::List(vec![
            "Tool".into(),
            "1.0".into(),
            FieldValue::Int(1033),
            FieldValue::Int(0),
            "".into(),
        ]))
    );
    assert_eq!(a.fields.get("EventID"), Some(&FieldValue::Int(1033)));
    assert_eq!(a.get_str("Binary"), Some("7B30"));
    assert_eq!(a.get_str("SecurityUserID"), Some("S-1-5-21-1-2-3-1001"));
    assert_eq!(a.get_str("event.code"), Some("1033"));
    assert!(!a.fields.contains_key("EventID.Qualifiers"));
}

#[test]
fn user_data_children_are_native_fields() {
    let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Eventlog" Guid="{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}" /><EventID>1102</EventID><TimeCreated SystemTime="2026-03-14T09:00:00Z" /><Channel>Security</Channel><Computer>dc1</Computer></System><UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>admin</SubjectUserName><Flags value="3"><Bit>a</Bit><Bit>b</Bit></Flags></LogFileCleared></UserData></Event>"#;
    let ev = decode(Format::WindowsXml, xml).unwrap();
    assert_eq!(ev.get_str("SubjectUserName"), Some("admin"));
    assert_eq!(ev.get_str("SubjectUserSid"), Some("S-1-5-21-1"));
    assert_eq!(ev.fields.get("Flags.value"), Some(&FieldValue::Int(3)));
    assert_eq!(
        ev.fields.get("Flags.Bit"),
        Some(&FieldValue::List(vec!["a".into(), "b".into()]))
    );
    assert_eq!(ev.fields.get("EventID"), Some(&FieldValue::Int(1102)));
    assert_eq!(ev.dataset, "windows.security");
}

#[test]
fn xml_view_fold_markers_cdata_and_character_references() {
    let xml = "- <Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">- <System><Provider Name=\"P\" /><EventID>1</EventID><TimeCreated SystemTime=\"2026-03-14T09:00:00Z\" /><Channel>Microsoft-Windows-PowerShell/Operational</Channel></System>- <EventData><Data Name=\"A\"><![CDATA[x<y]]></Data><Data Name=\"B\">caf&#233;&#x21;&#13;&#10;next</Data></EventData></Event>";
    let ev = decode(Format::WindowsXml, xml).unwrap();
    assert_eq!(ev.get_str("A"), Some("x<y"));
    assert_eq!(ev.get_str("B"), Some("café!\r\nnext"));
    assert_eq!(
        ev.dataset,
        "windows.microsoft_windows_powershell_operational"
    );
    assert_eq!(ev.get_str("Provider_Name"), Some("P"));
}

#[test]
fn system_names_win_over_event_data_of_the_same_name() {
    let json = r##"{"Event":{"System":{"EventID":4624,"TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00Z"}},"Channel":"Security"},"EventData":{"EventID":"1","Channel":"Microsoft-Windows-Sysmon/Operational","Image":"x"}}}"##;
    let ev = decode(Format::WindowsJson, json).unwrap();
    assert_eq!(ev.fields.get("EventID"), Some(&FieldValue::Int(4624)));
    assert_eq!(ev.get_str("Channel"), Some("Security"));
    assert_eq!(ev.dataset, "windows.security");
    assert_eq!(ev.get_str("Image"), Some("x"));
}

#[test]
fn event_without_event_wrapper_and_without_channel() {
    let json = r##"{"System":{"EventID":"7","TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00Z"}}}}"##;
    let ev = decode(Format::WindowsJson, json).unwrap();
    assert_eq!(ev.dataset, "windows");
    assert_eq!(ev.fields.get("EventID"), Some(&FieldValue::Int(7)));
}

#[test]
fn errors_name_what_is_wrong() {
    let cases: &[(Format, &str, &str)] = &[
        (
            Format::WindowsJson,
            "[1]",
            "expected a JSON object, found an array",
        ),
        (
            Format::WindowsJson,
            r#"{"foo":1,"bar":2}"#,
            r#"not a windows-json record: expected an evtx-style {"Event":…} or a winlogbeat-style {"winlog":…} object, found the keys foo, bar"#,
        ),
        (
            Format::WindowsJson,
            r#"{"winlog":"x"}"#,
            r#"not a windows-json record: "winlog" must be an object, found a string"#,
        ),
        (
            Format::WindowsJson,
            r#"{"Event":{"EventData":{}}}"#,
            r#"not a windows-json record: no "System" object in "Event""#,
        ),
        (
            Format::WindowsJson,
            r#"{"Event":{"System":{"Channel":"Security"}}}"#,
            r#"missing field "Event.System.EventID""#,
        ),
        (
            Format::WindowsJson,
            r#"{"Event":{"System":{"EventID":"4624x"}}}"#,
            r#"field "EventID" must be an integer, found 4624x"#,
        ),
        (
            Format::WindowsJson,
            r#"{"Event":{"System":{"EventID":1}}}"#,
            r#"missing field "Event.System.TimeCreated.SystemTime""#,
        ),
        (
            Format::WindowsJson,
            r##"{"Event":{"System":{"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"yesterday"}}}}}"##,
            r#"invalid timestamp "yesterday" (expected YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM|±HHMM])"#,
        ),
        (
            Format::WindowsJson,
            r#"{"winlog":{"event_id":"4625"}}"#,
            r#"missing field "Event.System.TimeCreated.SystemTime""#,
        ),
        (
            Format::WindowsXml,
            "<Record><EventID>1</EventID></Record>",
            "not a windows-xml record: the root element is <Record>, expected <Event>",
        ),
        (
            Format::WindowsXml,
            "<Event><System><EventID>1</EventID>",
            "not a windows-xml record: truncated: <System> is not closed",
        ),
        (
            Format::WindowsXml,
            "<Event><System><EventID>1</Channel></System></Event>",
            "not a windows-xml record: invalid XML at byte 25: ill-formed document: expected `</EventID>`, but `</Channel>` was…",
        ),
        (
            Format::WindowsXml,
            "<Event><System><Channel>&nope;</Channel></System></Event>",
            "not a windows-xml record: unknown entity &nope;",
        ),
        (
            Format::WindowsXml,
            "just text",
            "not a windows-xml record: no <Event> element",
        ),
        (
            Format::WindowsXml,
            r#"<Event><System><EventID>1</EventID></System></Event>"#,
            r#"missing field "Event.System.TimeCreated.SystemTime""#,
        ),
    ];
    for (format, input, want) in cases {
        assert_eq!(&dead_letter(*format, input.as_bytes()), want, "{input}");
    }
    let deep = format!("<Event>{}", "<a>".repeat(100));
    assert_eq!(
        dead_letter(Format::WindowsXml, deep.as_bytes()),
        "not a windows-xml record: elements nested deeper than 64"
    );
}

#[test]
fn evtx_as_a_line_format_dead_letters_every_line_with_the_reason() {
    let want = "not a evtx record: evtx is a binary file format, not lines: read .evtx \
                files with read_evtx or EvtxReader, or use windows-json or windows-xml \
                for exported events";
    assert_eq!(dead_letter(Format::Evtx, b"ElfFile\0\x01\xff\xfe"), want);
    assert_eq!(dead_letter(Format::Evtx, PROCESS_JSON.as_bytes()), want);
}

#[test]
fn value_canonicalization() {
    for (input, want) in [
        ("42", FieldValue::Int(42)),
        ("-7", FieldValue::Int(-7)),
        (" 42 ", FieldValue::Int(42)),
        ("042", "042".into()),
        ("-0", "-0".into()),
        ("+1", "+1".into()),
        ("0x1f", "0x1f".into()),
        ("99999999999999999999", "99999999999999999999".into()),
        ("1.5", "1.5".into()),
        (
            "5AB40FD1-3F97-68F9-5631-000000003B02",
            "{5ab40fd1-3f97-68f9-5631-000000003b02}".into(),
        ),
        (
            "{5AB40FD1-3F97-68F9-5631-000000003B02}",
            "{5ab40fd1-3f97-68f9-5631-000000003b02}".into(),
        ),
        (
            "{5AB40FD1-3F97-68F9-5631-000000003B02",
            "{5AB40FD1-3F97-68F9-5631-000000003B02".into(),
        ),
        (
            "x5AB40FD1-3F97-68F9-5631-000000003B0",
            "x5AB40FD1-3F97-68F9-5631-000000003B0".into(),
        ),
        ("  padded\t", "padded".into()),
        ("", "".into()),
    ] {
        assert_eq!(native_text(input.to_owned()), want, "{input:?}");
    }
    assert_eq!(native(Value::Bool(true)), "true".into());
    assert_eq!(native(Value::Null), "".into());
    assert_eq!(
        native(serde_json::json!(u64::MAX)),
        u64::MAX.to_string().into()
    );
    assert_eq!(native(serde_json::json!(2.5)), "2.5".into());
}

#[test]
fn datasets_of_channels() {
    assert_eq!(dataset_of(SYSMON_CHANNEL), "windows.sysmon");
    assert_eq!(dataset_of("Security"), "windows.security");
    assert_eq!(dataset_of("System"), "windows.system");
    assert_eq!(
        dataset_of("Microsoft-Windows-Windows Defender/Operational"),
        "windows.microsoft_windows_windows_defender_operational"
    );
    assert_eq!(dataset_of("Ünï"), "windows._n_");
}

#[test]
fn sysmon_file_hashes_network_and_dns_ecs() {
    let image_load = r##"{"Event":{"System":{"EventID":7,"TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00Z"}},"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\a.exe","ImageLoaded":"C:\\b.dll","Hashes":"SHA1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,IMPHASH=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB","User":"NT AUTHORITY\\SYSTEM"}}}"##;
    let ev = decode(Format::WindowsJson, image_load).unwrap();
    assert_eq!(ev.get_str("file.path"), Some(r"C:\b.dll"));
    assert_eq!(ev.get_str("file.hash.sha1"), Some(&*"a".repeat(40)));
    assert_eq!(ev.get_str("file.pe.imphash"), Some(&*"b".repeat(32)));
    assert_eq!(ev.get_str("process.hash.sha1"), None);
    assert_eq!(ev.get_str("user.domain"), Some("NT AUTHORITY"));
    assert_eq!(ev.get_str("user.name"), Some("SYSTEM"));

    let network = r##"{"Event":{"System":{"EventID":3,"TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00Z"}},"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\a.exe","SourceIp":"10.0.0.5","SourcePort":50123,"DestinationIp":"203.0.113.9","DestinationPort":443,"DestinationHostname":"evil.example","ProcessId":4242}}}"##;
    let ev = decode(Format::WindowsJson, network).unwrap();
    assert_eq!(ev.get_str("source.ip"), Some("10.0.0.5"));
    assert_eq!(ev.fields.get("source.port"), Some(&FieldValue::Int(50123)));
    assert_eq!(ev.get_str("destination.ip"), Some("203.0.113.9"));
    assert_eq!(
        ev.fields.get("destination.port"),
        Some(&FieldValue::Int(443))
    );
    assert_eq!(ev.get_str("destination.domain"), Some("evil.example"));
    assert_eq!(ev.fields.get("process.pid"), Some(&FieldValue::Int(4242)));
    for (kind, value) in [
        (ObservableKind::Ip, "10.0.0.5"),
        (ObservableKind::Ip, "203.0.113.9"),
        (ObservableKind::Domain, "evil.example"),
    ] {
        assert!(
            ev.observables
                .iter()
                .any(|o| o.kind == kind && o.value == value),
            "{value}"
        );
    }

    let dns = r##"{"Event":{"System":{"EventID":22,"TimeCreated":{"#attributes":{"SystemTime":"2026-03-14T09:00:00Z"}},"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"QueryName":"c2.example.net","IpAddress":"-","TargetObject":"HKLM\\x"}}}"##;
    let ev = decode(Format::WindowsJson, dns).unwrap();
    assert_eq!(ev.get_str("dns.question.name"), Some("c2.example.net"));
    assert_eq!(ev.get_str("registry.path"), Some(r"HKLM\x"));
    assert_eq!(ev.get_str("source.ip"), None, "- is no address");
}

#[test]
fn pretty_printed_export_with_garbage_frames_and_dead_letters_by_offset() {
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(PROCESS_JSON).unwrap())
            .unwrap();
    let input = format!("{pretty}\nWARNING: export interrupted\n{pretty}\n");
    let mut reader = crate::JsonValueReader::new(std::io::Cursor::new(input.clone()), 1 << 20);
    let lines = reader.read_batch(10).unwrap();
    assert_eq!(lines.len(), 3);
    let out =
        Decoder::new(Format::WindowsJson, &DecodeOptions::default()).decode_batch(&lines, &ctx());
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.events[0].fields, out.events[1].fields);
    assert_eq!(
        out.events[1].origin.as_ref().unwrap().offset,
        pretty.len() as u64 + 29
    );
    assert_eq!(out.dead_letters.len(), 1);
    let dl = &out.dead_letters[0];
    assert_eq!(dl.offset, Some(pretty.len() as u64 + 1));
    assert_eq!(dl.raw, b"WARNING: export interrupted");
    assert_eq!(dl.reason, "invalid JSON: expected value at line 1 column 1");
    assert!(reader.read_batch(10).unwrap().is_empty());
}

/// A small deterministic generator, for mutation tests without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Every prefix and thousands of random byte edits of valid records: each
/// is decoded or refused, never a panic.
#[test]
fn cut_and_mutated_records_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"<>/\"'&;#{}[]:,\\ =-0123456789aZ\xc3\xa9\x00\n";
    for (format, sample) in [
        (Format::WindowsXml, PROCESS_XML),
        (Format::WindowsXml, LOGON_XML),
        (Format::WindowsJson, PROCESS_JSON),
        (Format::WindowsJson, LOGON_WINLOGBEAT),
    ] {
        let mut decoder = Decoder::new(format, &DecodeOptions::default());
        let bytes = sample.as_bytes();
        let mut decoded = 0;
        for end in 0..bytes.len() {
            if decoder.decode(&bytes[..end], 0, &ctx()).is_ok() {
                decoded += 1;
            }
        }
        // Only the whole record (or, for XML, it less trailing layout)
        // decodes; a cut record never does.
        assert!(decoded <= 3, "{format}: {decoded} prefixes decoded");
        for _ in 0..3000 {
            let mut m = bytes.to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(m.len());
                match rng.below(3) {
                    0 => m[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        m.remove(at);
                    }
                    _ => m.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            let _ = decoder.decode(&m, 0, &ctx());
        }
    }
}

#[test]
fn json_value_reader_on_random_bytes_accounts_for_every_byte() {
    let mut rng = XorShift(42);
    let alphabet = b"{}[]\"\\, \n\rax:1";
    for _ in 0..500 {
        let len = rng.below(300);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let mut reader = crate::JsonValueReader::new(std::io::Cursor::new(input.clone()), 16);
        let mut last = None;
        loop {
            let lines = reader.read_batch(3).unwrap();
            if lines.is_empty() {
                break;
            }
            for line in lines {
                assert!(last.is_none_or(|l| line.offset > l), "{input:?}");
                assert!(line.bytes.len() <= 16);
                last = Some(line.offset);
            }
        }
        assert_eq!(reader.offset(), input.len() as u64);
    }
}

#[test]
fn rendering_info_message_becomes_message() {
    let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Service Control Manager" /><EventID Qualifiers="16384">7036</EventID><TimeCreated SystemTime="2026-03-14T09:00:00.000Z" /><Channel>System</Channel></System><EventData><Data Name="param1">Windows Update</Data><Data Name="param2">running</Data></EventData><RenderingInfo Culture="en-US"><Message>The Windows Update service entered the running state.</Message><Level>Information</Level></RenderingInfo></Event>"#;
    let ev = decode(Format::WindowsXml, xml).unwrap();
    assert_eq!(
        ev.get_str("message"),
        Some("The Windows Update service entered the running state.")
    );
    assert_eq!(ev.get_str("param1"), Some("Windows Update"));
    assert_eq!(
        ev.fields.get("Level"),
        None,
        "RenderingInfo's Level is a name"
    );
    assert_eq!(ev.dataset, "windows.system");
}

/// A minimal EVTX file: the file header, then one chunk cut short after its
/// records, whose BinXML is a plain element tree with inline names (no
/// templates). `events` are `(EventID, TargetUserName)` pairs.
fn tiny_evtx(events: &[(&str, &str)]) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, base: usize, text: &str) {
        let at = base + out.len() + 4;
        out.extend((at as u32).to_le_bytes());
        out.extend([0; 6]); // next name's offset, hash
        out.extend((text.len() as u16).to_le_bytes());
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out.extend([0; 2]);
    }
    fn text(out: &mut Vec<u8>, value: &str) {
        out.extend([0x05, 0x01]);
        out.extend((value.len() as u16).to_le_bytes());
        out.extend(value.encode_utf16().flat_map(u16::to_le_bytes));
    }
    /// `<tag attr="value">text</tag>`, or without the attribute or text.
    fn element(
        out: &mut Vec<u8>,
        base: usize,
        tag: &str,
        attr: Option<(&str, &str)>,
        body: &dyn Fn(&mut Vec<u8>),
    ) {
        out.push(if attr.is_some() { 0x41 } else { 0x01 });
        out.extend([0; 4]); // data size: not checked
        name(out, base, tag);
        if let Some((key, value)) = attr {
            out.extend([0; 4]); // attribute list size: not checked
            out.push(0x06);
            name(out, base, key);
            text(out, value);
        }
        out.push(0x02);
        body(out);
        out.push(0x04);
    }

    let mut chunk = vec![0u8; 512];
    for (i, (id, user)) in events.iter().enumerate() {
        let start = chunk.len();
        let base = start + 24;
        let mut xml = vec![0x0f, 0x01, 0x01, 0x00];
        element(&mut xml, base, "Event", None, &|o: &mut Vec<u8>| {
            element(o, base, "System", None, &|o: &mut Vec<u8>| {
                element(o, base, "EventID", None, &|o: &mut Vec<u8>| text(o, id));
                let time = ("SystemTime", "2026-03-14T09:26:53.5Z");
                element(o, base, "TimeCreated", Some(time), &|_: &mut Vec<u8>| {});
                element(o, base, "Channel", None, &|o: &mut Vec<u8>| {
                    text(o, "Security")
                });
            });
            element(o, base, "EventData", None, &|o: &mut Vec<u8>| {
                let attr = Some(("Name", "TargetUserName"));
                element(o, base, "Data", attr, &|o: &mut Vec<u8>| text(o, user));
            });
        });
        xml.push(0x00);
        let size = (24 + xml.len() + 4) as u32;
        chunk.extend(b"**\0\0");
        chunk.extend(size.to_le_bytes());
        chunk.extend((i as u64 + 1).to_le_bytes());
        chunk.extend(134_179_540_130_000_000u64.to_le_bytes()); // FILETIME
        chunk.extend(xml);
        chunk.extend(size.to_le_bytes());
    }
    let n = events.len() as u64;
    chunk[..8].copy_from_slice(b"ElfChnk\0");
    for (at, v) in [(8, 1), (16, n), (24, 1), (32, n)] {
        chunk[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    let free = chunk.len() as u32;
    chunk[48..52].copy_from_slice(&free.to_le_bytes());

    let mut file = vec![0u8; 4096];
    file[..8].copy_from_slice(b"ElfFile\0");
    file[32..34].copy_from_slice(&128u16.to_le_bytes());
    file[38..40].copy_from_slice(&3u16.to_le_bytes());
    file.extend(chunk);
    file
}

#[test]
fn evtx_reader_reads_a_file_held_in_memory() {
    let bytes = tiny_evtx(&[("4625", "alice"), ("oops", "bob")]);
    let len = bytes.len() as u64;
    let first_size = u32::from_le_bytes(bytes[4612..4616].try_into().unwrap());
    let mut reader = crate::EvtxReader::from_bytes(bytes).unwrap();
    let first = reader.next_batch(1, &ctx()).unwrap().unwrap();
    assert_eq!(first.dead_letters, vec![]);
    assert_eq!(first.events.len(), 1);
    let ev = &first.events[0];
    assert_eq!(ev.dataset, "windows.security");
    assert_eq!(ev.get_str("event.code"), Some("4625"));
    assert_eq!(ev.get_str("user.name"), Some("alice"));
    assert_eq!(
        ev.timestamp,
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap() + chrono::Duration::milliseconds(500)
    );
    assert_eq!(ev.origin.as_ref().map(|o| o.offset), Some(4096 + 512));

    let rest = reader.next_batch(10, &ctx()).unwrap().unwrap();
    assert!(rest.events.is_empty());
    let reasons: Vec<_> = rest
        .dead_letters
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            r#"field "EventID" must be an integer, found oops"#,
            &format!(
                "the file is cut short: it ends {} bytes into its last chunk (of 65536); \
                 records past the cut are lost",
                len - 4096
            ),
        ]
    );
    let offsets: Vec<_> = rest.dead_letters.iter().map(|d| d.offset).collect();
    let second = 4096 + 512 + u64::from(first_size);
    assert_eq!(offsets, [Some(second), Some(4096)]);
    assert_eq!(reader.next_batch(10, &ctx()).unwrap(), None);

    let err = crate::EvtxReader::from_bytes(PROCESS_JSON.as_bytes().to_vec()).unwrap_err();
    assert!(err.to_string().starts_with("not an EVTX file: "), "{err}");
}
