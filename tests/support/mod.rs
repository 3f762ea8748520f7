//! Helpers shared by integration tests.
#![allow(dead_code)] // each test binary uses a different part of the shared helpers

pub mod bridge;
pub mod connector;
pub mod graph_sender;
pub mod lambda_emulator;
pub mod moto;
pub mod scrape;
pub mod test_issuer;
pub mod webdriver;
