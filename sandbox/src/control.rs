//! The scenario API: drives both emulated sides over HTTP on loopback (routes under `/_sandbox/`,
//! JSON in and out, errors as `{"error": "..."}`), plus a typed client ([`ScenarioClient`]) and the
//! human-readable scenario steps of the CLI ([`scenario`]).
//!
//! The Graph side is reached through the small [`GraphControl`] trait, so the API also runs
//! without a Graph emulator and tests can stand in their own. Dependencies point one way: this
//! module uses the emulators, they never use it.

mod api;
mod client;
mod client_directory;
mod graph_impl;
mod resolve;
mod routes;
mod routes_swyx;
mod routes_teams;
pub mod scenario;
mod server;
mod types;

pub use client::ScenarioClient;
pub use resolve::Resolved;
pub use routes::control_router;
pub use server::{ControlServer, serve_control, serve_control_on};
pub use types::{GraphControl, GraphHandleLike, GraphUserRef, SandboxState, TeamsUserState};
