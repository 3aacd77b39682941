//! What the fuzz targets share: feeding bytes to a decoder the way a source
//! does, and the invariants every decoded batch must keep. Each target in
//! `fuzz_targets/` is one call into here.
//!
//! Beyond "does not panic", the checks are the ones the rest of Riposte
//! relies on: every line is accounted for exactly once (event, dead letter
//! or ignored), events and dead letters point back at the line they came
//! from, dead letters' reasons stay short whatever the input, and every
//! event serializes to JSON (the store and the API need that).

use std::io::{BufReader, Cursor};

use chrono::{TimeZone, Utc};
use riposte_ingest::{
    DecodeCtx, DecodeOptions, DecodedBatch, Decoder, EvtxReader, Format, JsonMapping,
    JsonValueReader, Line, read_line_bounded,
};

/// The source name in events' origin and dead letters.
pub const SOURCE: &str = "fuzz";

/// The line limit the targets cut lines to. Small, so that fuzz inputs of a
/// few KiB reach the over-long-line path too; real sources use 1 MiB.
pub const LINE_LIMIT: usize = 2048;

/// The longest dead-letter reason accepted. Reasons quote input through
/// `clip()` (64 bytes); a reason near the line limit means a decoder quoted
/// a whole line.
pub const REASON_MAX: usize = 1024;

/// A fixed "now": decoding must not read the clock.
pub fn ctx() -> DecodeCtx<'static> {
    DecodeCtx {
        source: SOURCE,
        now: Utc
            .with_ymd_and_hms(2026, 3, 14, 12, 0, 0)
            .single()
            .unwrap_or_default(),
    }
}

/// A non-empty generic JSON mapping: a configured time field, renames of
/// nested and top-level paths, and one rename onto a field the decoder
/// may also set.
pub fn json_mapping() -> DecodeOptions {
    DecodeOptions {
        json_mapping: Some(JsonMapping {
            dataset: "app.audit".to_owned(),
            timestamp: Some("when".to_owned()),
            fields: vec![
                ("source.ip".to_owned(), "client.addr".to_owned()),
                ("user.name".to_owned(), "who".to_owned()),
                ("event.action".to_owned(), "what.verb".to_owned()),
                ("message".to_owned(), "msg".to_owned()),
            ],
        }),
    }
}

/// Cuts `data` into lines as a file source does, checking the reader:
/// lines cover the input, in order, and over-long ones are cut to the limit.
pub fn split_lines(data: &[u8]) -> Vec<Line> {
    let mut reader = Cursor::new(data);
    let mut lines = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut buf = Vec::new();
        let read = match read_line_bounded(&mut reader, &mut buf, LINE_LIMIT) {
            Ok(read) => read,
            Err(e) => panic!("reading from memory failed: {e}"),
        };
        if read.consumed == 0 {
            break;
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        assert!(buf.len() <= LINE_LIMIT, "line longer than the limit");
        assert!(
            data[start..].starts_with(&buf),
            "line at {offset} is not the input's bytes"
        );
        assert!(read.len >= buf.len() as u64 && read.len <= read.consumed);
        let truncated_from = (read.len > buf.len() as u64).then_some(read.len);
        lines.push(Line {
            offset,
            bytes: buf,
            truncated_from,
        });
        offset += read.consumed;
    }
    assert_eq!(offset, data.len() as u64, "lines do not cover the input");
    lines
}

/// Decodes `data` as a stream of `format` lines with one decoder, so that
/// stateful formats (Zeek TSV) see their header and then their rows.
pub fn decode_lines(format: Format, options: &DecodeOptions, data: &[u8]) -> DecodedBatch {
    let lines = split_lines(data);
    let mut decoder = Decoder::new(format, options);
    let out = decoder.decode_batch(&lines, &ctx());
    check_batch(format, &lines, &out);
    out
}

/// The invariants of a batch decoded from `lines`.
pub fn check_batch(format: Format, lines: &[Line], out: &DecodedBatch) {
    assert_eq!(
        out.events.len() + out.dead_letters.len() + out.ignored as usize,
        lines.len(),
        "{format}: not every line is accounted for exactly once"
    );
    let line_at = |offset: u64| {
        let i = lines.binary_search_by_key(&offset, |l| l.offset);
        match i {
            Ok(i) => &lines[i],
            Err(_) => panic!("{format}: offset {offset} is not the start of a line"),
        }
    };

    let mut last = None;
    for ev in &out.events {
        let Some(origin) = &ev.origin else {
            panic!("{format}: event without origin")
        };
        assert_eq!(origin.source, SOURCE);
        assert!(last < Some(origin.offset), "{format}: events out of order");
        last = Some(origin.offset);
        let line = line_at(origin.offset);
        assert!(line.truncated_from.is_none(), "{format}: cut line decoded");
        let text = std::str::from_utf8(&line.bytes).unwrap_or_default();
        let text = text.strip_suffix('\r').unwrap_or(text);
        assert_eq!(
            ev.original.as_deref(),
            Some(text),
            "{format}: event.original is not its line"
        );
        assert!(!ev.dataset.is_empty(), "{format}: empty dataset");
        if let Err(e) = serde_json::to_string(ev) {
            panic!("{format}: event does not serialize: {e}");
        }
    }

    let mut last = None;
    for dl in &out.dead_letters {
        let Some(offset) = dl.offset else {
            panic!("{format}: dead letter without offset")
        };
        assert!(last < Some(offset), "{format}: dead letters out of order");
        last = Some(offset);
        let line = line_at(offset);
        assert_eq!(dl.format, format.as_str());
        assert_eq!(dl.source, SOURCE);
        assert_eq!(
            dl.raw_len,
            line.truncated_from.unwrap_or(line.bytes.len() as u64)
        );
        assert!(
            line.bytes.starts_with(&dl.raw),
            "{format}: raw is not the line"
        );
        check_reason(format, &dl.reason);
    }
}

fn check_reason(format: Format, reason: &str) {
    assert!(!reason.is_empty(), "{format}: empty dead-letter reason");
    assert!(
        reason.len() <= REASON_MAX,
        "{format}: dead-letter reason of {} bytes: {reason:?}",
        reason.len()
    );
}

/// Reads `data` as an EVTX file held in memory, in small batches.
pub fn read_evtx(data: &[u8]) -> Option<DecodedBatch> {
    let mut reader = EvtxReader::from_bytes(data.to_vec()).ok()?;
    let mut out = DecodedBatch::default();
    loop {
        let batch = match reader.next_batch(5, &ctx()) {
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            Err(e) => panic!("evtx: reading from memory failed: {e}"),
        };
        let n = batch.events.len() + batch.dead_letters.len() + batch.ignored as usize;
        assert!(
            (1..=5).contains(&n),
            "evtx: batch of {n} records for at most 5"
        );
        for ev in &batch.events {
            assert!(ev.origin.is_some() && ev.original.is_some());
            if let Err(e) = serde_json::to_string(ev) {
                panic!("evtx: event does not serialize: {e}");
            }
        }
        for dl in &batch.dead_letters {
            assert!(dl.offset.is_some_and(|o| o <= data.len() as u64));
            // The reason names the chunk or record before the cut error chain.
            assert!(dl.reason.len() <= REASON_MAX + 100, "evtx: {:?}", dl.reason);
        }
        out.extend(batch);
    }
    Some(out)
}

/// Reads `data` with [`JsonValueReader`] through a reader buffer of
/// `capacity` bytes.
fn json_records(data: &[u8], capacity: usize, max: usize) -> Vec<Line> {
    let reader = BufReader::with_capacity(capacity, Cursor::new(data));
    let mut reader = JsonValueReader::new(reader, max);
    let mut out = Vec::new();
    loop {
        let batch = match reader.read_batch(2) {
            Ok(batch) => batch,
            Err(e) => panic!("json framing: reading from memory failed: {e}"),
        };
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 2);
        out.extend(batch);
    }
    assert_eq!(
        reader.offset(),
        data.len() as u64,
        "json framing: the reader stopped before the end"
    );
    out
}

/// Frames `data` with [`JsonValueReader`] and decodes the records as
/// `windows-json`, its main user.
pub fn json_framing(data: &[u8]) {
    const MAX: usize = 512;
    let records = json_records(data, 4096, MAX);
    // Where reads end must not change the records.
    assert_eq!(
        records,
        json_records(data, 3, MAX),
        "json framing: records depend on the read size"
    );
    let mut last = None;
    for r in &records {
        assert!(last < Some(r.offset), "json framing: records out of order");
        last = Some(r.offset);
        let start = usize::try_from(r.offset).unwrap_or(usize::MAX);
        assert!(
            data.get(start..)
                .is_some_and(|rest| rest.starts_with(&r.bytes)),
            "json framing: record at {} is not the input's bytes",
            r.offset
        );
        assert!(!r.bytes.is_empty(), "json framing: empty record");
        match r.truncated_from {
            Some(full) => assert!(r.bytes.len() == MAX && full > MAX as u64),
            None => assert!(r.bytes.len() <= MAX),
        }
    }
    let mut decoder = Decoder::new(Format::WindowsJson, &DecodeOptions::default());
    let out = decoder.decode_batch(&records, &ctx());
    check_batch(Format::WindowsJson, &records, &out);
}

/// Sniffs `data`, then decodes it as the format found, as `riposte ingest
/// FILE` without `--format` does.
pub fn sniff_and_decode(data: &[u8]) {
    match riposte_ingest::sniff(data) {
        None => {}
        Some(Format::Evtx) => {
            read_evtx(data);
        }
        Some(format) => {
            decode_lines(format, &DecodeOptions::default(), data);
        }
    }
}

thread_local! {
    /// The last panic's message, kept by [`contain_evtx_panics`]'s hook.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// For the targets that read EVTX: the reader contains panics of the `evtx`
/// crate (each costs a chunk, which is dead-lettered), but libfuzzer-sys's
/// panic hook aborts on every panic, caught or not. This hook only keeps the
/// message; [`escalate`] prints it and aborts when a panic escapes the
/// reader, which is a crash as before. Set `RIPOSTE_FUZZ_EVTX_PANICS=abort`
/// to keep libfuzzer-sys's hook and hunt for the `evtx` crate's own bugs.
pub fn contain_evtx_panics() {
    if std::env::var_os("RIPOSTE_FUZZ_EVTX_PANICS").is_some_and(|v| v == "abort") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
}

/// Runs `f`; a panic out of it is a crash, reported with its message.
pub fn escalate(f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        let message = LAST_PANIC.with(|p| p.borrow_mut().take());
        eprintln!(
            "{}",
            message.as_deref().unwrap_or("panicked (message not kept)")
        );
        std::process::abort();
    }
}

/// A fail2ban filter from hostile bytes (up to the first NUL), then the rest
/// as log lines through it when it compiles. Beyond "never panics or hangs":
/// problems name the filter file, and a match has a sane failure id.
pub fn fail2ban_filter(data: &[u8]) {
    use riposte_detect::fail2ban::{Fail2banFilter, Ini};
    let (filter, lines) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(filter);
    let mut problems = riposte_model::Problems::new();
    let ini = Ini::from_text("fuzz.conf", &text, &mut problems);
    assert!(problems.0.iter().all(|p| p.file == "fuzz.conf"));
    let mut options = std::collections::BTreeMap::new();
    options.insert("mode".to_owned(), "aggressive".to_owned());
    let filter = match Fail2banFilter::from_ini("fuzz.conf", &ini, &options) {
        Ok((f, _warnings)) => f,
        Err(p) => {
            assert!(!p.is_empty());
            assert!(p.0.iter().all(|p| p.file == "fuzz.conf"));
            return;
        }
    };
    let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date");
    for line in String::from_utf8_lossy(lines).lines().take(64) {
        if let Some(m) = filter.match_line_at(line, now) {
            // The id comes from the line with its date cut out, so it may
            // straddle the cut; it is never empty, longer than the line or
            // across the newline fail2ban appends.
            assert!(
                !m.host.is_empty() && m.host.len() <= line.len() && !m.host.contains('\n'),
                "host {:?} from {line:?}",
                m.host
            );
        }
    }
}

/// What the intel importers promise about every indicator they produce:
/// its value is in normal form (normalizing it again gives the same kind
/// and value) and the matcher accepts it.
pub fn check_indicators(indicators: &[riposte_model::Indicator]) {
    let mut index = riposte_intel::IntelIndex::new();
    for i in indicators {
        let (kind, value) = riposte_intel::normalize::normalize(i.kind, &i.value)
            .unwrap_or_else(|e| panic!("{i:?} does not normalize again: {e}"));
        assert_eq!((kind, value.as_str()), (i.kind, i.value.as_str()));
        index.insert(i).unwrap();
    }
    assert!(index.len() <= indicators.len());
}
