//! Teams ⇄ Swyx presence bridge.
//!
//! Hexagonal: [`domain`] holds pure types and decisions; [`graph`], [`swyx`] and [`store`] are the
//! adapters (which import only [`domain`], and the outbound ones [`outbound`]: one HTTP client, one
//! retry policy); the use cases are named for what they do ([`teams_to_swyx`], [`swyx_to_teams`],
//! [`subscriptions`], [`users_sync`], and the one [`maintenance`] pass); [`entry`] holds what the Lambda functions
//! and the self-hosted server put around them; [`app`] wires it all from the [`config`].
//! `docs/architecture.md` walks both data paths file by file.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod entry;
#[cfg(test)]
mod fakes;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod maintenance;
pub mod metrics;
pub mod outbound;
pub mod status;
pub mod store;
pub mod subscriptions;
pub mod swyx;
pub mod swyx_to_teams;
pub mod teams_to_swyx;
pub mod telemetry;
pub mod users_sync;
