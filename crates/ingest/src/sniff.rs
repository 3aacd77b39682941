//! Telling a file's format from its first bytes, for `riposte ingest FILE`
//! without `--format`. Each format has a shape no other one has: EVTX's file
//! magic, Zeek's `#separator` header, the keys that only Suricata, Zeek,
//! Windows or Wazuh JSON carry, `CEF:`, the web servers' fixed layouts. A
//! sample that matches none is not guessed at: the caller asks for
//! `--format`.

use serde_json::Value;

use crate::Format;

/// How many bytes [`sniff`] wants to see.
pub const SAMPLE_BYTES: usize = 64 * 1024;

/// The format of a file starting with `sample`, if it can be told.
pub fn sniff(sample: &[u8]) -> Option<Format> {
    if sample.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    let text = match std::str::from_utf8(sample) {
        Ok(t) => t,
        // The sample may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&sample[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("#separator") || text.starts_with("#fields") {
        return Some(Format::Zeek);
    }
    if text.starts_with('{') {
        return sniff_json(text);
    }
    // Event Viewer's copy puts "- " before elements that can be collapsed.
    let xml = text.strip_prefix("- ").unwrap_or(text);
    if xml.starts_with("<?xml") || xml.starts_with("<Event") {
        return Some(Format::WindowsXml);
    }
    // Comment lines (annotated samples) say nothing about the format.
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    if let Some(at) = first.find("CEF:")
        && (at == 0 || first[..at].ends_with(' '))
    {
        return Some(Format::Cef);
    }
    // Web server lines, bare or behind a syslog header (`nginx[1]: …`).
    let message = first.split_once(": ").map_or("", |(_, m)| m);
    if is_web_line(first) || (is_web_line(message) && crate::syslog::looks_like_syslog(first)) {
        return Some(Format::Webserver);
    }
    if crate::syslog::looks_like_syslog(first) {
        return Some(Format::Syslog);
    }
    None
}

/// The first JSON value in the sample (a one-line record or a pretty-printed
/// one), told apart by its keys.
fn sniff_json(text: &str) -> Option<Format> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let Some(Ok(Value::Object(obj))) = values.next() else {
        // Cut off by the sample's end, or not JSON after all: one line may
        // still be a complete record.
        let first = text.lines().next()?;
        return match serde_json::from_str::<Value>(first) {
            Ok(Value::Object(_)) => sniff_json(first),
            _ => None,
        };
    };
    let has = |k: &str| obj.contains_key(k);
    if has("event_type") && has("timestamp") {
        Some(Format::SuricataEve)
    } else if has("_path") || (has("uid") && has("id.orig_h")) {
        Some(Format::Zeek)
    } else if obj.get("Event").is_some_and(|e| e.get("System").is_some()) || has("winlog") {
        Some(Format::WindowsJson)
    } else if has("rule") && has("agent") && (has("manager") || has("decoder") || has("full_log")) {
        Some(Format::Wazuh)
    } else {
        Some(Format::Json)
    }
}

/// nginx/Apache access lines (`HOST IDENT USER [dd/Mon/yyyy:`, optionally
/// after a vhost) and error lines (`yyyy/mm/dd hh:mm:ss [` for nginx,
/// `[Www Mmm ` for Apache).
fn is_web_line(line: &str) -> bool {
    let b = line.as_bytes();
    let nginx_error = b.len() > 20
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[19] == b' '
        && b[20] == b'[';
    let apache_error = b.len() > 10 && b[0] == b'[' && b[4] == b' ' && b[8] == b' ';
    let access = line.split(' ').take(5).any(|field| {
        let f = field.as_bytes();
        f.len() >= 13 && f[0] == b'[' && f[3] == b'/' && f[7] == b'/' && f[12] == b':'
    });
    nginx_error || apache_error || access
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_is_recognised() {
        let cases: &[(&[u8], Option<Format>)] = &[
            (
                br#"{"timestamp":"2026-03-14T09:26:53.1+0000","event_type":"alert"}"#,
                Some(Format::SuricataEve),
            ),
            (
                b"Mar 14 09:26:53 bastion sshd[1]: Accepted publickey for a from 192.0.2.1 port 1 ssh2\n",
                Some(Format::Syslog),
            ),
            (
                b"<34>1 2026-03-14T09:26:53Z host app - - - msg\n",
                Some(Format::Syslog),
            ),
            (br#"{"msg":"hello","level":"info"}"#, Some(Format::Json)),
            (b"\x00\x01binary", None),
            (b"just some words\n", None),
        ];
        for (sample, want) in cases {
            assert_eq!(sniff(sample), *want, "{}", String::from_utf8_lossy(sample));
        }
    }
}
