#![no_main]

use libfuzzer_sys::fuzz_target;
use riposte_model::Event;
use riposte_sigma::{Mapping, load_str};

// The rule loader on arbitrary text: never panics or hangs; every loaded
// rule can be evaluated against an event, and every rejection names the file.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = load_str("fuzz.yml", text, &Mapping::builtin());
    for r in &loaded.rejected {
        assert!(r.to_string().starts_with("fuzz.yml"));
    }
    let mut ev = Event::new(Default::default(), "windows.sysmon");
    ev.set("Channel", "Microsoft-Windows-Sysmon/Operational");
    ev.set("EventID", 1i64);
    ev.set("Image", "C:\\Windows\\System32\\cmd.exe");
    ev.set("CommandLine", "cmd.exe /c whoami");
    for rule in loaded.rules.rules() {
        let _ = rule.is_match(&ev);
    }
    let _ = loaded.rules.matches(&ev).count();
});
