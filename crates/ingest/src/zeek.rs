//! Zeek logs (<https://docs.zeek.org/en/master/logs/index.html>), in both of
//! Zeek's writers' formats, by one decoder per stream:
//!
//! - JSON: one object per line, with `_path` (the log's name) when written
//!   by the JSON streaming package; `ts` as ISO 8601 text, epoch seconds or
//!   epoch milliseconds. Without `_path` the log is named by the source's
//!   file name or by its fields (see [`path_from`]).
//! - TSV, Zeek's default: `#` header lines (`#separator`, `#fields`,
//!   `#types`, …) then rows read by that header. Header lines are counted as
//!   ignored; a row before any `#fields`, or with another number of columns,
//!   is an error that says so.
//!
//! A line starting with `{` is JSON, one starting with `#` a header, any
//! other a TSV row, so one stream may mix them.
//!
//! Both formats of the same record give the same event: `ts` becomes the
//! event time (to the microsecond), the dataset is `zeek.<path>`, every other
//! field is kept under its Zeek name as `zeek.<path>.<name>` with values
//! normalized as [`value`] describes (TSV `-` and JSON `null` are absent;
//! TSV `(empty)` is an empty list or string, as JSON `[]` and `""` are, and
//! since TSV writes a set holding only `""` as `(empty)` too, JSON `[""]` is
//! an empty list; `_write_ts`, which TSV has no counterpart for, is
//! dropped). The ECS
//! fields are then set from those, see [`ecs`]. Logs of any `_path` decode;
//! ones Riposte does not know just get fewer ECS fields.

mod ecs;
mod json;
mod tsv;
mod value;

use riposte_model::{CompactString, Event, FieldValue, Timestamp};

use crate::error::clip;
use crate::{DecodeCtx, DecodeError, RecordDecoder};

/// The `zeek` format's decoder: stateful, for the TSV header.
#[derive(Debug, Default)]
pub(crate) struct ZeekDecoder {
    tsv: tsv::TsvState,
}

impl RecordDecoder for ZeekDecoder {
    fn decode(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        if text.trim_start().starts_with('{') {
            return match json::parse(text) {
                Ok(rec) => Ok(Some(from_json(rec, ctx)?)),
                // A TSV row whose first value starts with `{`.
                Err(DecodeError::InvalidJson(_)) if self.tsv.fits(text) => self.row(text, ctx),
                Err(e) => Err(e),
            };
        }
        if text.starts_with('#') {
            match self.tsv.header(text)? {
                tsv::HeaderLine::Header => return Ok(None),
                // A row whose first value starts with `#`, or a comment.
                tsv::HeaderLine::Other if self.tsv.fits(text) => {}
                tsv::HeaderLine::Other => return Ok(None),
            }
        }
        self.row(text, ctx)
    }
}

impl ZeekDecoder {
    fn row(&mut self, text: &str, ctx: &DecodeCtx<'_>) -> Result<Option<Event>, DecodeError> {
        let row = self.tsv.row(text, ctx.source)?;
        Ok(Some(finish(row.path, row.ts, row.fields, ctx)))
    }
}

fn from_json(rec: json::JsonRecord, ctx: &DecodeCtx<'_>) -> Result<Event, DecodeError> {
    let path = match rec.path {
        Some(p) if valid_path(&p) => p,
        Some(p) => return Err(malformed(format!("invalid _path {:?}", clip(&p)))),
        None => path_from(ctx.source, rec.fields.iter().map(|(n, _)| n.as_str())),
    };
    let fields = json::into_natives(rec.fields, &format!("zeek.{path}."));
    Ok(finish(&path, rec.ts, fields, ctx))
}

/// A field under its full name `zeek.<path>.<name>`.
#[derive(Debug)]
struct Native {
    full: CompactString,
    value: FieldValue,
}

/// The record's fields, looked up by their Zeek names.
struct Natives<'a> {
    name_at: usize,
    fields: &'a [Native],
}

impl<'a> Natives<'a> {
    fn get(&self, name: &str) -> Option<&'a FieldValue> {
        let len = self.name_at + name.len();
        self.fields
            .iter()
            .find(|f| f.full.len() == len && f.full.ends_with(name))
            .map(|f| &f.value)
    }

    /// A non-empty string value.
    fn str(&self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            FieldValue::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.as_i64()
    }

    fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            FieldValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn float(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            FieldValue::Float(x) => Some(*x),
            FieldValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The non-empty strings of a list (or of a single string).
    fn strs(&self, name: &str) -> Vec<&'a str> {
        match self.get(name) {
            Some(FieldValue::List(items)) => items
                .iter()
                .filter_map(FieldValue::as_str)
                .filter(|s| !s.is_empty())
                .collect(),
            Some(FieldValue::Str(s)) if !s.is_empty() => vec![s.as_str()],
            _ => Vec::new(),
        }
    }
}

fn finish(path: &str, ts: Option<Timestamp>, fields: Vec<Native>, ctx: &DecodeCtx<'_>) -> Event {
    // Logs without `ts` (loaded_scripts) happen at reading time.
    let mut ev = Event::new(ts.unwrap_or(ctx.now), concat("zeek.", path));
    let natives = Natives {
        name_at: "zeek.".len() + path.len() + 1,
        fields: &fields,
    };
    ecs::map(&mut ev, path, &natives);
    // One sorted merge (a later name wins, as with `insert`): the natives
    // come in log order, and inserting each into the sorted field vector
    // would shift its tail for nearly every one.
    ev.fields
        .extend(fields.into_iter().map(|f| (f.full, f.value)));
    crate::observe::add_ecs_observables(&mut ev);
    ev
}

/// `a` followed by `b`, built in place: inline (no allocation) up to 24
/// bytes, which covers most `zeek.<path>.<field>` names.
fn concat(a: &str, b: &str) -> CompactString {
    let mut s = CompactString::with_capacity(a.len() + b.len());
    s.push_str(a);
    s.push_str(b);
    s
}

pub(super) fn malformed(reason: String) -> DecodeError {
    DecodeError::Malformed {
        format: "zeek",
        reason,
    }
}

/// A log name usable in a dataset and in field names: Zeek's are
/// identifiers (`dns`, `known_hosts`, `conn-summary`).
fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 64
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Zeek's standard log names, recognised in a source's file name.
const KNOWN_LOGS: &[&str] = &[
    "analyzer",
    "broker",
    "capture_loss",
    "cluster",
    "config",
    "conn",
    "dce_rpc",
    "dhcp",
    "dnp3",
    "dns",
    "dpd",
    "files",
    "ftp",
    "http",
    "intel",
    "irc",
    "kerberos",
    "known_certs",
    "known_hosts",
    "known_services",
    "ldap",
    "ldap_search",
    "loaded_scripts",
    "modbus",
    "mysql",
    "notice",
    "ntlm",
    "ntp",
    "ocsp",
    "packet_filter",
    "pe",
    "quic",
    "radius",
    "rdp",
    "reporter",
    "rfb",
    "signatures",
    "sip",
    "smb_files",
    "smb_mapping",
    "smtp",
    "snmp",
    "socks",
    "software",
    "ssh",
    "ssl",
    "stats",
    "syslog",
    "traceroute",
    "tunnel",
    "weird",
    "x509",
];

/// The log's name when the record does not carry it (plain Zeek JSON has no
/// `_path`; a TSV header may lack `#path`): from the source's file name
/// (`/var/log/zeek/dns.log`, `conn.00:00:00-01:00:00.log.gz`), else from
/// fields only one standard log has, else `unknown`.
fn path_from<'n>(source: &str, names: impl Iterator<Item = &'n str> + Clone) -> String {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
    if let Some((stem, _)) = file.split_once('.')
        && KNOWN_LOGS.contains(&stem)
    {
        return stem.to_owned();
    }
    let has = |field: &str| names.clone().any(|n| n == field);
    let path = if has("conn_state") || has("orig_ip_bytes") {
        "conn"
    } else if has("qtype_name") || has("rcode_name") || (has("query") && has("trans_id")) {
        "dns"
    } else if has("status_code") && has("method") || has("request_body_len") {
        "http"
    } else if has("ssl_history") || has("cert_chain_fps") || has("cert_chain_fuids") {
        "ssl"
    } else if has("certificate.subject") {
        "x509"
    } else if has("seen_bytes") || has("analyzers") {
        "files"
    } else if has("note") && has("msg") {
        "notice"
    } else if has("seen.indicator") {
        "intel"
    } else if has("auth_success") || has("host_key") {
        "ssh"
    } else if has("name") && has("notice") && has("peer") {
        "weird"
    } else {
        "unknown"
    };
    path.to_owned()
}

#[cfg(test)]
mod tests;
