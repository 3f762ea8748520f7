//! The mapping rules file (TOML, `mapping.rules_file`): parse and check, then map a spread of
//! presences; every answer is one of the five words `map` prints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence_bridge::domain::{MappingRules, TeamsPresence};

const AVAILABILITY: [&str; 6] = [
    "Available",
    "Busy",
    "DoNotDisturb",
    "Away",
    "Offline",
    "PresenceUnknown",
];
const ACTIVITY: [&str; 6] = [
    "Available",
    "InACall",
    "Presenting",
    "Away",
    "OffWork",
    "Weird",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = MappingRules::parse(text, "fuzz.toml") else {
        return;
    };
    for (i, availability) in AVAILABILITY.iter().enumerate() {
        let mut presence = TeamsPresence::new(availability, ACTIVITY[i]);
        presence.out_of_office = i % 2 == 0;
        let word = rules.map(&presence).to_string();
        assert!(
            ["Available", "Away", "DoNotDisturb", "Speaking", "NoSync"].contains(&word.as_str()),
            "{word}"
        );
    }
});
