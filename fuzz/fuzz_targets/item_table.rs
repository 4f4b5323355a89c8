#![no_main]
// Harness body: alro_fuzz::item_table (fuzz/src/lib.rs), shared with the corpus tools.
libfuzzer_sys::fuzz_target!(|data: &[u8]| alro_fuzz::item_table(data));
