#![no_main]

use libfuzzer_sys::fuzz_target;
use riposte_ingest::Format;

fuzz_target!(|data: &[u8]| {
    riposte_fuzz::decode_lines(Format::Json, &riposte_fuzz::json_mapping(), data);
});
