//! The cores of the `presence-bridge` subcommands: the binary parses arguments and calls one
//! function here per command. Errors are `anyhow` from here up, printed with their causes.

pub mod accounts;
pub mod check_config;
pub mod decrypt;
pub mod demo;
pub mod links;
pub mod map;
pub mod serve;
pub mod status;
pub mod switches;
pub mod users;

use crate::app::open_store;
use crate::config::{Config, Origin, RawConfig, validate_store, validate_users};
use crate::domain::Directions;
use crate::store::Store;
use std::path::Path;
use std::sync::Arc;

/// The whole configuration file, validated.
pub fn config(path: &Path) -> anyhow::Result<Config> {
    Ok(RawConfig::from_file(path)?.validate(Origin::File)?)
}

/// The directions a configuration file sets for everyone (`[users]`); only that section is read.
pub fn directions(path: &Path) -> anyhow::Result<Directions> {
    Ok(validate_users(RawConfig::from_file(path)?.users, Origin::File)?.directions)
}

/// The store of a configuration file; only its `[store]` section is read, so the admin commands
/// that need nothing else work before the rest is filled in.
pub async fn store(path: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let store = validate_store(RawConfig::from_file(path)?.store, Origin::File)?;
    Ok(open_store(&store).await?)
}
