//! The cores of the `presence-bridge` subcommands (the binary only parses arguments).

pub mod accounts;
pub mod decrypt;
pub mod map;
pub mod users;
