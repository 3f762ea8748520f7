//! The configuration file (TOML): parse, then every section's checks (`check-config`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_bridge::config::{Origin, RawConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RawConfig::from_toml(text, "fuzz.toml") {
        Ok(raw) => {
            if let Err(e) = raw.validate(Origin::File) {
                // Names the setting or the problem: never an empty message.
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
