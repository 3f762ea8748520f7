//! The Swyx connector contract in Rust: the JSON bodies ([`wire`]), the Standard Webhooks
//! signatures ([`signature`]) and `Retry-After` ([`retry_after`]) that
//! `infra/connector-openapi.yaml` describes. One crate shared by
//! the bridge and the `swyx-connector`, so both sides sign, verify and parse the same way. It
//! holds no I/O and no policy (retries, replay memory): those belong to each side.

mod event;
pub mod retry_after;
pub mod signature;
pub mod wire;
