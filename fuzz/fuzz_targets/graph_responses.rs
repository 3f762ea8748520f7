//! Graph and Entra answers the clients parse: subscriptions (one, and the list), presences, the
//! `/users` and group-member pages with their next links, token and device-code answers, and
//! error bodies. Input: a byte choosing the parser, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((kind, body)) = data.split_first() {
        presence_bridge::fuzzing::graph_answer(*kind, body);
    }
});
