//! The sandbox: faithful local stand-ins for everything the bridge talks to, driven over HTTP on
//! loopback. An emulated Microsoft Graph tenant ([`graph`]) and an emulated SwyxServer with its
//! connector ([`swyx`]), both on one controllable [`clock`], plus a scenario API ([`control`]).
//!
//! Nothing here is linked into the bridge's Lambda functions.

pub mod clock;
pub mod control;
pub mod graph;
pub mod sandbox;
pub mod sip;
pub mod swyx;
mod sync;

pub use clock::Clock;
pub use sandbox::{Sandbox, SandboxOptions};
