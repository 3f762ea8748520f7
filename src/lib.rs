//! Teams ⇄ Swyx presence bridge.
//!
//! Hexagonal: [`domain`] holds pure types and decisions; [`graph`], [`swyx`] and [`store`] are the
//! adapters; [`service`] ties them into use cases; the binaries in `src/bin/` are thin entry points.

pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod graph;
pub mod lambda_adapter;
pub mod service;
pub mod store;
pub mod swyx;
pub mod telemetry;
