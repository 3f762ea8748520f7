//! `presence-bridge check-config`: validates a configuration file and its rules file, naming the
//! first problem, without starting anything.

use crate::domain::MappingRules;
use std::path::Path;

/// `Ok` with the line to print when the file (and its rules file) can be used.
pub fn run(path: &Path) -> anyhow::Result<String> {
    let cfg = super::config(path)?;
    if let Some(rules) = &cfg.rules_file {
        MappingRules::load(rules)?;
    }
    Ok(format!("{}: OK", path.display()))
}
