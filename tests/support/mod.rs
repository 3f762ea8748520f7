//! Helpers shared by integration tests.
#![allow(dead_code)] // each test binary uses a different part of the shared helpers

pub mod moto;
