//! The JSON body of a Swyx -> bridge event (`POST /swyx/events`), after the signature check:
//! parse, type-specific fields, `at`; an event reads back the same after serialising.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    presence_bridge::fuzzing::swyx_event(body);
});
