//! `presence-bridge map`: what one Teams presence maps to, under the default or an operator's rules.

use crate::domain::{MappedStatus, MappingRules, RulesError, TeamsPresence};
use std::path::Path;

pub fn run(
    availability: &str,
    activity: &str,
    out_of_office: bool,
    rules: Option<&Path>,
) -> Result<MappedStatus, RulesError> {
    let rules = match rules {
        Some(path) => MappingRules::load(path)?,
        None => MappingRules::default(),
    };
    Ok(rules.map(&TeamsPresence::new(availability, activity).with_out_of_office(out_of_office)))
}
