//! `swyx-connector`: the Swyx half of the Teams ⇄ Swyx presence bridge, run next to SwyxServer.
//!
//! SwyxServer offers no documented API to read or set a user's status from outside, so the
//! connector uses what it does offer: it watches "Speaking" through SIP presence ([`sip`]: one
//! registered monitor user subscribing to every user's presence) and sends signed events to the
//! bridge ([`outbox`]); it serves the bridge's contract ([`api`]) and hands each Teams-derived
//! status to the operator's writer ([`writer`]), because nothing documented can set it.
//!
//! [`start`] runs everything in-process (the binary, tests and the bridge's demo use it) and
//! returns a [`Handle`] with the bound addresses.

pub mod admin;
pub mod api;
pub mod clock;
pub mod config;
pub mod directory;
pub mod logging;
pub mod outbox;
pub mod presence;
pub mod serve;
pub mod sip;
pub mod speaking;
pub mod status;
pub mod store;
pub mod tls;
pub mod writer;

mod runtime;
#[cfg(test)]
mod testing;

pub use config::Config;
pub use runtime::{Handle, StartError, run, start};
