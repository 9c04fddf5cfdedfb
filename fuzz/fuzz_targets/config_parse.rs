//! Configuration files: any text gives a Config or a ConfigError, never a panic.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Config::parse(text, std::path::Path::new("fuzz.toml"));
});
