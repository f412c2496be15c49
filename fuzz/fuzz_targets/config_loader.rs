//! Fuzz the config loader: decoding (BOMs, UTF-16, NUL, invalid UTF-8) and parsing
//! (serde-saphyr with ctx's limits) of arbitrary bytes must never panic, hang or blow
//! the stack; every failure must be a located problem.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = ctx::config::load::parse_bytes("fuzz.yaml", data.to_vec()) {
        // Rendering the diagnostic must not panic either (snippets, spans).
        let _ = problem.render(false);
    }
});
