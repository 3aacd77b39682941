#![no_main]

use libfuzzer_sys::fuzz_target;
use riposte_ingest::{DecodeOptions, Format};

fuzz_target!(|data: &[u8]| {
    riposte_fuzz::decode_lines(Format::Json, &DecodeOptions::default(), data);
});
