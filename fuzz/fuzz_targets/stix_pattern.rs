#![no_main]
//! A STIX pattern (the input as UTF-8, lossily) through the parser; one
//! that parses is reduced to atomic indicators and evaluated against a
//! small observed-data bundle. Never a panic; errors name a byte offset
//! inside the pattern.

use libfuzzer_sys::fuzz_target;
use riposte_intel::stix::{atoms, eval, pattern};

const BUNDLE: &str = r#"[{"type":"bundle","objects":[
 {"type":"observed-data","id":"od1","number_observed":2,"first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:05Z","object_refs":["a","f","p"]},
 {"type":"ipv4-addr","id":"a","value":"198.51.100.7"},
 {"type":"file","id":"f","name":"x.exe","hashes":{"SHA-256":"ab"},"name_hex":"6869","size":10,"ratio":0.5,"ok":true},
 {"type":"person","id":"p","name":"alice","knows_refs":["p"],"knows_ref":"p","tags":["a","b"]},
 {"type":"observed-data","id":"od2","number_observed":1,"first_observed":"2020-01-01T00:00:10Z","last_observed":"2020-01-01T00:00:10Z","object_refs":["a"]}
]}]"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match pattern::parse(&text) {
        Ok(p) => {
            let _ = atoms(&p);
            let bundles: Vec<serde_json::Value> = serde_json::from_str(BUNDLE).unwrap();
            let obs = eval::Observations::from_bundles(&bundles).unwrap();
            let _ = eval::matches(&p, &obs);
        }
        Err(e) => assert!(e.at <= text.len(), "{e}"),
    }
});
