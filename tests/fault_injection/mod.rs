//! Faults a careful tester injects, against the real `serve` and the sandbox (emulated Graph with
//! its retries, emulated connector), on both stores where it applies. After each: every user
//! consistent on both sides within one maintenance interval plus one reconciliation, nothing
//! decided and lost, no duplicate "In a call".
//!
//! - [`killed`]: `serve` killed with SIGKILL at seeded random moments in the middle of a burst of
//!   Teams changes to a slow connector while some users are in Swyx calls, then restarted; Graph
//!   redelivers what was not answered, as it does. `FAULT_SEED=N` replays the kill moments.
//! - [`store_down`]: the store unavailable for a minute mid-burst (SQLite locked by another
//!   process; moto stopped with SIGSTOP): what the bridge could not store it answers 503, Graph
//!   redelivers, everyone converges.
//! - [`connector_down`]: the connector down for five minutes while users keep changing, on both
//!   stores.
//! - [`graph_throttled`]: Graph answering 429 with Retry-After to every call of the bridge for a
//!   while, mid-burst and mid-call.
//! - [`late_creates`]: Graph answering subscription creates 3 s and 12 s late, `serve` killed
//!   while a create is unanswered.
//! - [`lost_call_events`]: the connector loses call events (its retries ran out): starts and
//!   ends the bridge never hears of are repaired from the connector's call state, on both
//!   stores.

mod connector_down;
mod graph_throttled;
mod killed;
mod late_creates;
mod lost_call_events;
mod setup;
mod store_down;
