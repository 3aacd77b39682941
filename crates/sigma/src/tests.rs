//! Unit tests: each modifier and condition form, bad input, the index.

use super::*;
use riposte_model::FieldValue;

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

fn proc_event(fields: &[(&str, &str)]) -> Event {
    let mut ev = Event::new(Default::default(), "windows.sysmon");
    ev.set("Channel", SYSMON);
    ev.set("EventID", 1i64);
    for (k, v) in fields {
        ev.set(k, *v);
    }
    ev
}

fn rule(detection: &str) -> String {
    format!(
        "title: T\nid: r-1\nstatus: test\nlevel: high\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n{detection}"
    )
}

fn load1(text: &str) -> Loaded {
    load_str("t.yml", text, &Mapping::builtin())
}

fn compiled(detection: &str) -> SigmaRule {
    let l = load1(&rule(detection));
    assert_eq!(l.rejected, [], "{detection}");
    assert_eq!(l.rules.len(), 1);
    l.rules.rules()[0].clone()
}

fn rejected(detection: &str) -> String {
    let l = load1(&rule(detection));
    assert_eq!(l.rules.len(), 0, "{detection}");
    assert_eq!(l.rejected.len(), 1);
    l.rejected[0].to_string()
}

/// One rule per detection, with ids r1, r2, …, loaded together.
fn load_dets(dets: &[&str]) -> Loaded {
    let text: Vec<String> = dets
        .iter()
        .enumerate()
        .map(|(i, d)| rule(d).replace("id: r-1", &format!("id: r{}", i + 1)))
        .collect();
    let l = load1(&text.join("---\n"));
    assert_eq!(l.rejected, []);
    assert_eq!(l.rules.len(), dets.len());
    l
}

/// For a process event of this image and command line, `for_each_match`
/// (through the index and prefilter) and `is_match` (rule by rule) both
/// give the rules `want` names.
fn assert_matches(
    rules: &SigmaRules,
    scratch: &mut Scratch,
    image: &str,
    cmd: &str,
    want: &[&str],
) {
    let ev = proc_event(&[("Image", image), ("CommandLine", cmd)]);
    let mut fast = Vec::new();
    rules.for_each_match(&ev, scratch, |r| fast.push(r.id().unwrap()));
    fast.sort();
    let slow: Vec<&str> = rules
        .rules()
        .iter()
        .filter(|r| r.is_match(&ev))
        .map(|r| r.id().unwrap())
        .collect();
    assert_eq!(fast, want, "{image} {cmd}");
    assert_eq!(slow, want, "{image} {cmd}");
}

#[test]
fn plain_values_are_case_insensitive_equality() {
    let r = compiled("  sel:\n    Image: 'C:\\Windows\\System32\\whoami.exe'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[(
        "Image",
        "c:\\windows\\system32\\WHOAMI.exe"
    )])));
    assert!(!r.is_match(&proc_event(&[(
        "Image",
        "c:\\windows\\system32\\whoami.exe2"
    )])));
    assert!(!r.is_match(&proc_event(&[])));
}

#[test]
fn logsource_and_field_mapping_apply() {
    let r = compiled("  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n");
    // Security 4688 reaches process_creation, its NewProcessName maps to Image.
    let mut ev = Event::new(Default::default(), "windows.security");
    ev.set("Channel", "Security");
    ev.set("EventID", 4688i64);
    ev.set("NewProcessName", "C:\\Windows\\whoami.exe");
    assert!(r.is_match(&ev));
    ev.set("EventID", 4624i64);
    assert!(!r.is_match(&ev));
    assert!(r.detection_matches(&ev));
}

#[test]
fn contains_startswith_endswith_all_and_wildcards() {
    let r = compiled(
        "  sel:\n    CommandLine|contains|all: ['-enc', 'bypass']\n    Image|startswith: 'C:\\Users\\'\n    ParentImage: '*\\explorer.exe'\n    User: 'DOM?\\ad*or'\n  condition: sel\n",
    );
    let hit = [
        ("CommandLine", "powershell -ENC xx -ep Bypass"),
        ("Image", "c:\\users\\bob\\a.exe"),
        ("ParentImage", "C:\\Windows\\Explorer.EXE"),
        (
            "User",
            "DOM1\\Administrator".to_ascii_lowercase().leak() as &str,
        ),
    ];
    assert!(r.is_match(&proc_event(&hit)));
    let mut miss = hit;
    miss[0] = ("CommandLine", "powershell -enc xx");
    assert!(!r.is_match(&proc_event(&miss)));
    let mut miss = hit;
    miss[3] = ("User", "DOM12\\admin");
    assert!(!r.is_match(&proc_event(&miss)));
}

#[test]
fn escaped_wildcards_are_literal() {
    let r = compiled("  sel:\n    CommandLine|contains: 'a\\*b'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "xa*by")])));
    assert!(!r.is_match(&proc_event(&[("CommandLine", "xazzby")])));
}

#[test]
fn cased_modifier() {
    let r = compiled("  sel:\n    CommandLine|cased|contains: 'AbC'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "xAbCx")])));
    assert!(!r.is_match(&proc_event(&[("CommandLine", "xabcx")])));
}

#[test]
fn regex_with_flags() {
    let r = compiled("  sel:\n    CommandLine|re|i: '^abc.*x$'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "ABC 1 X")])));
    let r = compiled("  sel:\n    CommandLine|re: '^abc'\n  condition: sel\n");
    assert!(!r.is_match(&proc_event(&[("CommandLine", "ABC")])));
    let r = compiled("  sel:\n    CommandLine|re|m: '^b$'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "a\nb\nc")])));
    let r = compiled("  sel:\n    CommandLine|re|s: 'a.b'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "a\nb")])));
}

#[test]
fn cidr_numbers_and_comparisons() {
    let r = compiled(
        "  sel:\n    DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\n    DestinationPort|gte: 1024\n    DestinationPort|lt: 2000\n  condition: sel\n",
    );
    let mut ev = proc_event(&[("DestinationIp", "10.1.2.3")]);
    ev.set("DestinationPort", 1500i64);
    assert!(r.is_match(&ev));
    ev.set("DestinationPort", 80i64);
    assert!(!r.is_match(&ev));
    ev.set("DestinationPort", "1024");
    assert!(r.is_match(&ev));
    ev.set("DestinationIp", "11.0.0.1");
    assert!(!r.is_match(&ev));
    let r = compiled("  sel:\n    ProcessId: 42\n  condition: sel\n");
    let mut ev = proc_event(&[]);
    ev.set("ProcessId", 42i64);
    assert!(r.is_match(&ev));
    ev.set("ProcessId", "42");
    assert!(r.is_match(&ev));
}

#[test]
fn exists_null_and_fieldref() {
    let r =
        compiled("  sel:\n    Hashes|exists: true\n    OriginalFileName: null\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("Hashes", "x")])));
    assert!(r.is_match(&proc_event(&[("Hashes", "x"), ("OriginalFileName", "")])));
    assert!(!r.is_match(&proc_event(&[("Hashes", "x"), ("OriginalFileName", "a")])));
    assert!(!r.is_match(&proc_event(&[])));
    let r = compiled("  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("Image", "A.exe"), ("ParentImage", "a.EXE")])));
    assert!(!r.is_match(&proc_event(&[("Image", "A.exe"), ("ParentImage", "b.exe")])));
    let r = compiled("  sel:\n    CommandLine|fieldref|contains: Image\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[
        ("CommandLine", "run a.exe now"),
        ("Image", "A.EXE")
    ])));
}

#[test]
fn encodings_base64_utf16_windash() {
    let r =
        compiled("  sel:\n    CommandLine|base64offset|contains: 'http://'\n  condition: sel\n");
    // base64 of "xhttp://x" contains one of the offset variants
    let enc = compile::base64(b"xxhttp://host");
    assert!(r.is_match(&proc_event(&[("CommandLine", &format!("-e {enc}"))])));
    let r =
        compiled("  sel:\n    CommandLine|wide|base64offset|contains: 'ping'\n  condition: sel\n");
    let wide: Vec<u8> = "a ping".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(r.is_match(&proc_event(&[("CommandLine", &compile::base64(&wide))])));
    let r = compiled("  sel:\n    CommandLine|base64: 'abc'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "YWJj")])));
    let r = compiled("  sel:\n    CommandLine|utf16le|base64: 'ab'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "YQBiAA==")])));
    let r = compiled("  sel:\n    CommandLine|utf16be|base64: 'ab'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "AGEAYg==")])));
    let r = compiled("  sel:\n    CommandLine|utf16|base64: 'ab'\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "//5hAGIA")])));
    let r = compiled("  sel:\n    CommandLine|windash|contains: ' -decode '\n  condition: sel\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "certutil /decode a b")])));
    assert!(r.is_match(&proc_event(&[(
        "CommandLine",
        "certutil \u{2013}decode a b"
    )])));
    assert!(!r.is_match(&proc_event(&[("CommandLine", "certutil decode a b")])));
}

#[test]
fn expand_placeholders_from_the_mapping() {
    let mut m = Mapping::builtin();
    m.extend_with(
        "p.yml",
        "version: 1\nplaceholders:\n  admins: ['alice', 'bob']\n",
    )
    .unwrap();
    let text = rule("  sel:\n    User|expand: 'DOM\\%admins%'\n  condition: sel\n");
    let l = load_str("t.yml", &text, &m);
    assert_eq!(l.rejected, []);
    let r = &l.rules.rules()[0];
    assert!(r.is_match(&proc_event(&[("User", "dom\\BOB")])));
    assert!(!r.is_match(&proc_event(&[("User", "dom\\eve")])));
    let text = rule("  sel:\n    User|expand: '%nobody%'\n  condition: sel\n");
    assert_eq!(
        rejected("  sel:\n    User|expand: '%nobody%'\n  condition: sel\n"),
        "t.yml: rule r-1: detection \"sel\": `expand`: unknown placeholder %nobody% (define it in a mapping file's `placeholders`)"
    );
    let _ = text;
}

#[test]
fn conditions_of_every_form() {
    let det = "  sel_a:\n    Image|endswith: 'a.exe'\n  sel_b:\n    CommandLine|contains: 'b'\n  filter:\n    User: 'system'\n";
    let ev = |img: &str, cmd: &str, user: &str| {
        proc_event(&[("Image", img), ("CommandLine", cmd), ("User", user)])
    };
    let r = compiled(&format!("{det}  condition: 1 of sel_* and not filter\n"));
    assert!(r.is_match(&ev("x\\a.exe", "", "bob")));
    assert!(!r.is_match(&ev("x\\a.exe", "", "SYSTEM")));
    let r = compiled(&format!("{det}  condition: all of sel_*\n"));
    assert!(!r.is_match(&ev("x\\a.exe", "", "bob")));
    assert!(r.is_match(&ev("x\\a.exe", "abc", "bob")));
    let r = compiled(&format!("{det}  condition: 1 of them\n"));
    assert!(r.is_match(&ev("", "", "system")));
    let r = compiled(&format!("{det}  condition: all of them\n"));
    assert!(r.is_match(&ev("a.exe", "b", "system")));
    assert!(!r.is_match(&ev("a.exe", "b", "x")));
    let r = compiled(&format!(
        "{det}  condition: (sel_a or sel_b) and not (filter)\n"
    ));
    assert!(r.is_match(&ev("", "b", "x")));
    let r = compiled(&format!("{det}  condition: 2 of sel_*\n"));
    assert!(r.is_match(&ev("a.exe", "b", "x")));
    assert!(!r.is_match(&ev("a.exe", "", "x")));
}

#[test]
fn lists_of_maps_are_or_and_keywords_search_strings() {
    let r = compiled(
        "  sel:\n    - Image|endswith: 'a.exe'\n    - CommandLine|contains: 'zz'\n  condition: sel\n",
    );
    assert!(r.is_match(&proc_event(&[("CommandLine", "xzzx")])));
    let r = compiled("  kw:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: kw\n");
    assert!(r.is_match(&proc_event(&[("CommandLine", "run SEKURLSA::x")])));
    let mut ev = proc_event(&[]);
    ev.original = Some("...mimikatz...".into());
    assert!(r.is_match(&ev));
    ev.original = None;
    ev.set(
        "Data",
        FieldValue::List(vec!["a".into(), "mimikatz".into()]),
    );
    assert!(r.is_match(&ev));
    assert!(!r.is_match(&proc_event(&[("CommandLine", "nothing")])));
}

#[test]
fn bad_rules_are_rejected_with_file_rule_and_reason() {
    assert!(rejected("  sel:\n    Image|foo: x\n  condition: sel\n").contains("foo"));
    assert_eq!(
        rejected("  sel:\n    Image: x\n  condition: sel and not nothere\n"),
        "t.yml: rule r-1: condition names unknown detection \"nothere\" (defined: sel)"
    );
    let malformed = rejected("  sel:\n    Image: x\n  condition: sel and (\n");
    assert!(malformed.starts_with("t.yml: rule r-1: "), "{malformed}");
    assert_eq!(
        rejected("  sel:\n    Image: x\n  condition: 1 of nope*\n"),
        "t.yml: rule r-1: condition `1 of nope*` selects no detection"
    );
    let huge = rejected("  sel:\n    CommandLine|re: '(a{1000}){1000}'\n  condition: sel\n");
    assert!(
        huge.contains("bad regular expression") && huge.contains("size limit"),
        "{huge}"
    );
    let deep = format!(
        "  sel:\n    Image: x\n  condition: {}sel{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(
        load1(&rule(&deep)).rejected[0].to_string(),
        "t.yml: rule r-1: nested deeper than 64 levels"
    );
}

#[test]
fn a_fifty_thousand_item_list_loads_and_matches() {
    let mut det = String::from("  sel:\n    CommandLine|contains:\n");
    for i in 0..50_000 {
        det.push_str(&format!("      - 'needle{i}x'\n"));
    }
    det.push_str("    Image:\n");
    for i in 0..50_000 {
        det.push_str(&format!("      - 'C:\\bin\\tool{i}.exe'\n"));
    }
    det.push_str("  condition: sel\n");
    let r = compiled(&det);
    assert!(r.is_match(&proc_event(&[
        ("CommandLine", "a NEEDLE49999X b"),
        ("Image", "c:\\BIN\\tool123.exe")
    ])));
    assert!(!r.is_match(&proc_event(&[
        ("CommandLine", "a needle50000x b"),
        ("Image", "c:\\bin\\tool123.exe")
    ])));
}

#[test]
fn metadata_and_custom_confidence() {
    let text = "title: Meta\nid: m-1\nstatus: stable\nlevel: critical\ndescription: d\nauthor: a\ndate: 2024-01-02\nreferences: [https://x]\nfalsepositives: [admins]\ntags: [attack.execution, attack.t1059.001]\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {Image: x}\n  condition: sel\n";
    let l = load1(text);
    let m = l.rules.rules()[0].meta();
    assert_eq!(m.id.as_deref(), Some("m-1"));
    assert_eq!(m.severity, riposte_model::Severity::Critical);
    assert_eq!(m.status.as_deref(), Some("stable"));
    assert_eq!(m.confidence.get(), 95);
    assert_eq!(m.attack.tactics, ["TA0002"]);
    assert_eq!(m.attack.techniques, ["T1059.001"]);
    assert_eq!(m.references, ["https://x"]);
    assert_eq!(m.falsepositives, ["admins"]);
    let l = load1(&text.replace("title: Meta", "title: Meta\nconfidence: 33"));
    assert_eq!(l.rules.rules()[0].meta().confidence.get(), 33);
    let l = load1(&text.replace("title: Meta", "title: Meta\nconfidence: 333"));
    assert_eq!(
        l.rejected[0].to_string(),
        "t.yml: rule m-1: confidence Number(333) is not an integer 0-100"
    );
}

#[test]
fn correlations_come_back_raw_and_unmapped_logsources_are_linted() {
    let text = "title: A\nid: a-1\nname: base\nlogsource: {product: acme, service: x}\ndetection:\n  sel: {user: x}\n  condition: sel\n---\ntitle: C\nid: c-1\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [user]\n  timespan: 5m\n  condition: {gte: 3}\n";
    let l = load1(text);
    assert_eq!(l.rejected, []);
    assert_eq!(l.rules.len(), 1);
    assert_eq!(l.correlations.len(), 1);
    assert_eq!(l.correlations[0].id.as_deref(), Some("c-1"));
    assert!(l.correlations[0].document.get("correlation").is_some());
    let lint = l.lint();
    assert_eq!(
        lint.unmapped,
        [Unmapped {
            file: "t.yml".into(),
            id: Some("a-1".into()),
            logsource: "acme//x".into()
        }]
    );
    let mut ev = Event::new(Default::default(), "acme");
    ev.set("user", "x");
    assert_eq!(l.rules.matches(&ev).count(), 0);
    assert!(l.rules.rules()[0].detection_matches(&ev));
}

#[test]
fn the_index_only_runs_rules_that_can_see_the_event() {
    let a = rule("  sel:\n    Image|endswith: 'a.exe'\n  condition: sel\n");
    let b = "title: S\nid: s-1\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4624}\n  condition: sel\n";
    let l = load1(&format!("{a}---\n{b}"));
    assert_eq!(l.rules.len(), 2);
    let ev = proc_event(&[("Image", "x\\a.exe")]);
    let ids: Vec<_> = l.rules.matches(&ev).filter_map(SigmaRule::id).collect();
    assert_eq!(ids, ["r-1"]);
    let mut ev = Event::new(Default::default(), "windows.security");
    ev.set("Channel", "Security");
    ev.set("EventID", 4624i64);
    let ids: Vec<_> = l.rules.matches(&ev).filter_map(SigmaRule::id).collect();
    assert_eq!(ids, ["s-1"]);
    let mut scratch = Scratch::default();
    let mut n = 0;
    l.rules.for_each_match(&ev, &mut scratch, |_| n += 1);
    assert_eq!(n, 1);
}

#[test]
fn linux_logsources_map_to_syslog_datasets() {
    let text = "title: L\nid: l-1\nlogsource: {product: linux, service: sshd}\ndetection:\n  kw: ['Invalid user']\n  condition: kw\n";
    let l = load1(text);
    let mut ev = Event::new(Default::default(), "sshd");
    ev.original = Some("sshd[1]: Invalid user bob from 1.2.3.4".into());
    assert_eq!(l.rules.matches(&ev).count(), 1);
    let mut other = ev.clone();
    other.dataset = "syslog".into();
    assert_eq!(l.rules.matches(&other).count(), 0);
}

#[test]
fn deeply_nested_yaml_is_rejected_not_a_crash() {
    let flow = format!(
        "title: x\ndetection: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let l = load1(&flow);
    assert_eq!(l.rules.len(), 0);
    assert_eq!(l.rejected[0].reason, "nested deeper than 64 levels");
    let mut block = String::from("title: x\ndetection:\n");
    for i in 0..2_000 {
        block.push_str(&" ".repeat(i + 1));
        block.push_str("a:\n");
    }
    let l = load1(&block);
    assert_eq!(l.rules.len(), 0);
    assert_eq!(l.rejected[0].reason, "nested deeper than 64 levels");
}

/// The shared per-field search marks leaves exactly: every literal kind,
/// `not`, `all`, regexes beside literals, keywords, regexes anchored on the
/// literals they need (a case-sensitive regex whose case-insensitive hint
/// holds, one without a hint, a wildcard beside a literal);
/// `for_each_match` gives the rules `is_match` gives, and the expected ones.
#[test]
fn shared_search_marks_agree_with_rule_by_rule_matching() {
    let dets = [
        "  a:\n    CommandLine|contains: ['abc', 'xyz']\n    Image|endswith: '.exe'\n  b:\n    CommandLine|startswith: skip\n  condition: a and not b\n",
        "  a:\n    Image: 'C:\\x\\y.exe'\n  condition: a\n",
        "  a:\n    Image|startswith: 'C:\\Win'\n  b:\n    CommandLine|re: 'a.c'\n  condition: a and b\n",
        "  k:\n    - mimikatz\n    - kiwi\n  f:\n    EventID: 15\n  condition: k and not f\n",
        "  a:\n    CommandLine|contains|all: ['aa', 'bb']\n  condition: a\n",
        "  a:\n    CommandLine: '*foo*bar*'\n  condition: a\n",
        "  a:\n    CommandLine|re: 'ipconfig\\s+/all'\n  condition: a\n",
        "  a:\n    CommandLine|re: '^\\d+$'\n  condition: a\n",
        "  a:\n    CommandLine|contains: ['qq*ww', 'zzz']\n  b:\n    Image|re|i: 'WINDOWS\\\\a'\n  condition: a or b\n",
    ];
    let l = load_dets(&dets);
    let events = [
        (("C:\\Windows\\cmd.exe", "run ABC now"), vec!["r1"]),
        (("C:\\x\\Y.EXE", "skip abc aa bb"), vec!["r2", "r5"]),
        (
            ("C:\\Windows\\a.dll", "x foo y bar mimikatz"),
            vec!["r4", "r6", "r9"],
        ),
        (("C:\\Windows\\aXc", "kiwi axc"), vec!["r3", "r4", "r9"]),
        (("D:\\y.exe", "nothing"), vec![]),
        (("D:\\y.exe", "IPCONFIG /all"), vec![]),
        (("D:\\y.exe", "ipconfig   /all"), vec!["r7"]),
        (("D:\\y.exe", "12345"), vec!["r8"]),
        (("D:\\y.exe", "xQQ-WWx"), vec!["r9"]),
        (("D:\\y.exe", "zzz"), vec!["r9"]),
    ];
    let mut scratch = Scratch::default();
    for ((image, cmd), want) in events {
        assert_matches(&l.rules, &mut scratch, image, cmd, &want);
    }
}

/// Keyword searches go through one gate over the event's texts joined by
/// NUL bytes, then search text by text: a keyword split over two texts
/// must not match, one inside any text (or `event.original`) must, in
/// any case.
#[test]
fn keywords_never_match_across_two_texts() {
    let l = load1(&rule(
        "  k:\n    - 'sekurlsa::'\n    - 'Kiwi Legit'\n  condition: k\n",
    ));
    assert_eq!(l.rejected, []);
    let mut scratch = Scratch::default();
    let mut hits = |ev: &Event| {
        let mut n = 0;
        l.rules.for_each_match(ev, &mut scratch, |_| n += 1);
        assert_eq!(n, usize::from(l.rules.rules()[0].is_match(ev)));
        n
    };
    // Fields are read in name order: CommandLine's text ends with the
    // keyword's start, Image's begins with its end.
    let split = proc_event(&[("CommandLine", "run sekur"), ("Image", "lsa::dump")]);
    assert_eq!(hits(&split), 0);
    let in_field = proc_event(&[
        ("CommandLine", "run"),
        ("Image", "x SEKURLSA::logonpasswords"),
    ]);
    assert_eq!(hits(&in_field), 1);
    let mut in_original = proc_event(&[("CommandLine", "run")]);
    in_original.original = Some("<Data>KIWI LEGIT printer</Data>".into());
    assert_eq!(hits(&in_original), 1);
}

/// A rule is evaluated only when every one of its clauses holds: here the
/// common image alone, or the rare command line alone, does not make
/// `cmd.exe` + `/../../` a candidate. A leaf outside the clauses, too
/// short to share (` /`), is tested when the rule is evaluated.
#[test]
fn rules_are_evaluated_only_when_all_their_clauses_hold() {
    let dets = [
        "  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    CommandLine|contains: '/../../'\n  condition: a and b\n",
        "  a:\n    Image|endswith: '\\whoami.exe'\n  b:\n    CommandLine|contains: ' /'\n  condition: a and b\n",
        "  a:\n    Image|endswith: '\\net.exe'\n  f:\n    CommandLine|contains: ' -x'\n  condition: a and not f\n",
    ];
    let l = load_dets(&dets);
    let cases = [
        (("C:\\Windows\\cmd.exe", "cmd /c dir"), vec![], vec![]),
        (("C:\\x\\y.exe", "type ..\\/../../x"), vec![], vec![]),
        (
            ("C:\\Windows\\CMD.EXE", "cmd /c type /../../x"),
            vec!["r1"],
            vec!["r1"],
        ),
        // Evaluated (the image holds), and the short literal decides.
        (("C:\\Windows\\whoami.exe", "whoami"), vec!["r2"], vec![]),
        (
            ("C:\\Windows\\whoami.exe", "whoami /all"),
            vec!["r2"],
            vec!["r2"],
        ),
        (("C:\\Windows\\net.exe", "net user"), vec!["r3"], vec!["r3"]),
        (("C:\\Windows\\net.exe", "net -X user"), vec!["r3"], vec![]),
    ];
    let mut scratch = Scratch::default();
    for ((image, cmd), evaluated, want) in cases {
        let ev = proc_event(&[("Image", image), ("CommandLine", cmd)]);
        assert_eq!(l.rules.candidates(&ev), evaluated, "{image} {cmd}");
        assert_matches(&l.rules, &mut scratch, image, cmd, &want);
    }
}

/// Two groups with keyword rules (every Windows event, and process
/// creation) read one joined copy of the event's texts, built once per
/// event: each still finds its own keywords, and only in this event.
#[test]
fn keyword_groups_share_one_copy_of_the_texts_per_event() {
    let windows = "title: W\nid: w\nlogsource:\n  product: windows\ndetection:\n  k:\n    - 'sekurlsa::'\n  condition: k\n";
    let process = rule("  k:\n    - 'invoke-kiwi'\n  condition: k\n");
    let l = load1(&format!("{windows}---\n{process}"));
    assert_eq!(l.rejected, []);
    assert_eq!(l.rules.len(), 2);
    let mut scratch = Scratch::default();
    let mut hits = |ev: &Event| {
        let mut out = Vec::new();
        l.rules
            .for_each_match(ev, &mut scratch, |r| out.push(r.id().unwrap()));
        out.sort();
        out
    };
    let both = proc_event(&[("CommandLine", "Invoke-Kiwi; sekurlsa::logonpasswords")]);
    let first = proc_event(&[("CommandLine", "sekurlsa::x")]);
    let second = proc_event(&[("Image", "invoke-kiwi.exe")]);
    let none = proc_event(&[("CommandLine", "dir")]);
    assert_eq!(hits(&both), ["r-1", "w"]);
    assert_eq!(hits(&first), ["w"]);
    assert_eq!(hits(&second), ["r-1"]);
    assert_eq!(hits(&none), Vec::<&str>::new());
    assert_eq!(hits(&both), ["r-1", "w"]);
}

/// A literal found in most Windows events (`\\system32\\`, `.exe`) is a
/// poor anchor whatever its length: a rule that also needs a rarer one,
/// even a shorter one, is evaluated only when that one holds.
#[test]
fn common_path_fragments_make_poor_anchors() {
    let det = "  a:\n    Image|contains: '\\Windows\\System32\\'\n  b:\n    CommandLine|contains: 'mim'\n  condition: a and b\n";
    let l = load1(&rule(det));
    assert_eq!(l.rejected, []);
    let system = proc_event(&[
        ("Image", "C:\\Windows\\System32\\cmd.exe"),
        ("CommandLine", "dir"),
    ]);
    let both = proc_event(&[
        ("Image", "C:\\Windows\\System32\\cmd.exe"),
        ("CommandLine", "mimi"),
    ]);
    let rare = proc_event(&[("Image", "D:\\x.exe"), ("CommandLine", "mimi")]);
    assert_eq!(l.rules.candidates(&system), Vec::<String>::new());
    assert_eq!(l.rules.candidates(&both), ["r-1"]);
    assert_eq!(l.rules.candidates(&rare), ["r-1"]);
    assert_eq!(l.rules.matches(&both).count(), 1);
    assert_eq!(l.rules.matches(&rare).count(), 0);
}
