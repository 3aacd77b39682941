#![no_main]

use libfuzzer_sys::fuzz_target;

// The input up to the first NUL byte is a filter file, the rest log lines.
fuzz_target!(|data: &[u8]| {
    riposte_fuzz::fail2ban_filter(data);
});
