//! Article Markdown to sanitised HTML, and search snippets to highlighted HTML: no panic, and
//! nothing in the output can run script (see `domain::kb::fuzz_render_markdown`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// Article bodies arrive as JSON strings; query strings are decoded lossily too.
fuzz_target!(|data: &[u8]| alphintra_support::domain::kb::fuzz_render_markdown(&String::from_utf8_lossy(data)));
