#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: riposte_fuzz::contain_evtx_panics(),
    |data: &[u8]| {
        riposte_fuzz::escalate(|| riposte_fuzz::sniff_and_decode(data));
    }
);
