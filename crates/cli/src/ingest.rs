//! `riposte ingest`: one-shot ingestion of files (or stdin) through the same
//! decoders and pipeline as `serve`, or decode-only to inspect what the
//! decoders make of an input.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use riposte_engine::BatchReport;
use riposte_ingest::{
    DecodeCtx, DecodeOptions, DecodedBatch, Decoder, EvtxReader, Format, RecordReader,
    SAMPLE_BYTES, fingerprint, sniff,
};
use riposte_model::{Clock, SystemClock};

use crate::commands::{load_config, terminal_safe};

/// Records per batch (and per transaction) when no config says otherwise.
const DEFAULT_BATCH: usize = 5_000;
/// Record size limit for decode-only runs (the config's limit otherwise).
const DEFAULT_MAX_RECORD: usize = 1024 * 1024;

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Files to read; `-` is standard input. `.gz` files are decompressed.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The input format; detected from the first bytes when absent.
    #[arg(long)]
    format: Option<String>,
    /// The configuration naming the store, rules and playbooks.
    #[arg(long, short, default_value = "riposte.yaml")]
    config: PathBuf,
    /// Decode only: print the normalized events as JSON lines on stdout and
    /// the dead letters on stderr; nothing is stored.
    #[arg(long)]
    decode_only: bool,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let given = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let (mut engine, config) = if args.decode_only {
        (None, None)
    } else {
        let config = load_config(&args.config)?;
        let engine = riposte_service::build_engine(&config, Arc::new(SystemClock)).await?;
        (Some(engine), Some(config))
    };
    let (batch, max) = config
        .as_ref()
        .map_or((DEFAULT_BATCH, DEFAULT_MAX_RECORD), |c| {
            (c.ingest.batch_lines, c.ingest.max_line_bytes)
        });
    let clock = SystemClock;
    let mut total = BatchReport::default();
    for path in &args.files {
        let (name, mut reader) = open_input(path)?;
        let format = match given {
            Some(f) => f,
            None => detect(&mut reader, &name)?,
        };
        let mut input = Input::new(reader, format, max, &name)?;
        let mut counts = (0u64, 0u64, 0u64, 0u64);
        loop {
            let ctx = DecodeCtx {
                source: &name,
                now: clock.now(),
            };
            let Some((records, decoded)) = input
                .next_batch(batch, &ctx)
                .with_context(|| format!("reading {name}"))?
            else {
                break;
            };
            counts.0 += records;
            counts.1 += decoded.events.len() as u64;
            counts.2 += decoded.dead_letters.len() as u64;
            counts.3 += decoded.ignored;
            match engine.as_mut() {
                Some(engine) => total.merge(engine.commit_batch(decoded, None).await?),
                None => print_decoded(&decoded)?,
            }
        }
        let (records, events, dead, ignored) = counts;
        eprintln!(
            "{}: {} ({}), {records} records: {events} events, {dead} dead-lettered, {ignored} ignored",
            terminal_safe(&name),
            format,
            if given.is_some() { "given" } else { "detected" },
        );
    }
    if let (Some(engine), Some(config)) = (&engine, &config) {
        eprintln!(
            "stored: {} alerts, {} cases touched, {} decisions, {} refused",
            total.alerts.len(),
            total.cases.len(),
            total.decisions.len(),
            total.refusals.len()
        );
        if total.queued_runs > 0 {
            // Steps with outside effects run here, as `serve`'s executor
            // would run them; runs that wait stay waiting.
            let executor = engine.executor(riposte_service::effects_for(config)?);
            let n = executor.run_until_idle().await?;
            let waiting = engine
                .store()
                .count_runs(riposte_model::RunStatus::Waiting)
                .await?;
            eprintln!("runs: {n} continued by the executor, {waiting} waiting");
        }
    }
    Ok(())
}

/// An input being decoded: records framed as its format frames them, or
/// EVTX chunks.
pub(crate) enum Input {
    Records(RecordReader, Decoder),
    Evtx(EvtxReader<std::io::Cursor<Vec<u8>>>),
}

impl Input {
    pub(crate) fn new(
        mut reader: Box<dyn BufRead + Send>,
        format: Format,
        max: usize,
        name: &str,
    ) -> anyhow::Result<Input> {
        if format == Format::Evtx {
            // EVTX is read by chunk offsets, which needs the whole file at
            // hand (stdin and .gz cannot seek).
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {name}"))?;
            let evtx = EvtxReader::from_bytes(bytes).with_context(|| format!("reading {name}"))?;
            return Ok(Input::Evtx(evtx));
        }
        Ok(Input::Records(
            RecordReader::new(reader, format, max),
            Decoder::new(format, &DecodeOptions::default()),
        ))
    }

    /// The next batch and how many records it held; `None` at the end.
    pub(crate) fn next_batch(
        &mut self,
        max: usize,
        ctx: &DecodeCtx<'_>,
    ) -> std::io::Result<Option<(u64, DecodedBatch)>> {
        match self {
            Input::Records(records, decoder) => {
                let lines = records.read_batch(max)?;
                if lines.is_empty() {
                    return Ok(None);
                }
                Ok(Some((
                    lines.len() as u64,
                    decoder.decode_batch(&lines, ctx),
                )))
            }
            Input::Evtx(evtx) => Ok(evtx.next_batch(max, ctx)?.map(|b| {
                let n = b.events.len() + b.dead_letters.len();
                (n as u64 + b.ignored, b)
            })),
        }
    }
}

/// Opens an input: `-` is stdin, `.gz` is decompressed. The reader's buffer
/// is large enough for format detection to see [`SAMPLE_BYTES`].
pub(crate) fn open_input(path: &Path) -> anyhow::Result<(String, Box<dyn BufRead + Send>)> {
    if path == Path::new("-") {
        return Ok((
            "stdin".to_owned(),
            Box::new(BufReader::with_capacity(SAMPLE_BYTES, std::io::stdin())),
        ));
    }
    let name = path.display().to_string();
    let reader: Box<dyn BufRead + Send> = if fingerprint::is_gzip(path) {
        let content = fingerprint::open_content(path).with_context(|| format!("opening {name}"))?;
        Box::new(BufReader::with_capacity(SAMPLE_BYTES, content))
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("opening {name}"))?;
        Box::new(BufReader::with_capacity(SAMPLE_BYTES, file))
    };
    Ok((name, reader))
}

/// The format of an input, from the bytes its reader has buffered (not
/// consumed).
pub(crate) fn detect(reader: &mut Box<dyn BufRead + Send>, name: &str) -> anyhow::Result<Format> {
    let sample = reader
        .fill_buf()
        .with_context(|| format!("reading {name}"))?;
    sniff(sample).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        anyhow::anyhow!(
            "cannot tell the format of {name}; pass --format (one of: {})",
            names.join(", ")
        )
    })
}

/// Decode-only output: events as JSON lines on stdout, dead letters on
/// stderr (escaped: they quote the input).
fn print_decoded(decoded: &DecodedBatch) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for event in &decoded.events {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    for d in &decoded.dead_letters {
        eprintln!(
            "dead letter: {} offset {}: {}",
            terminal_safe(&d.source),
            d.offset.unwrap_or(0),
            terminal_safe(&d.reason)
        );
    }
    Ok(())
}
