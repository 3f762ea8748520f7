//! Teams presence as Graph reports it. Graph's documents disagree on the value lists and their
//! casing, so both fields are open strings compared without regard to ASCII case; unknown values
//! are kept as they came.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One presence field value (`availability` or `activity`), compared case-insensitively.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct PresenceValue(String);

impl PresenceValue {
    pub fn new(v: impl Into<String>) -> Self {
        Self(v.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl PartialEq for PresenceValue {
    fn eq(&self, other: &Self) -> bool {
        self.is(&other.0)
    }
}
impl Eq for PresenceValue {}

impl fmt::Display for PresenceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's Teams presence at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamsPresence {
    pub availability: PresenceValue,
    pub activity: PresenceValue,
    #[serde(default)]
    pub out_of_office: bool,
    /// Graph's `sequenceNumber`: a lexicographically sortable version stamp, when Graph sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

impl TeamsPresence {
    pub fn new(availability: &str, activity: &str) -> Self {
        Self {
            availability: PresenceValue::new(availability),
            activity: PresenceValue::new(activity),
            out_of_office: false,
            sequence_number: None,
        }
    }

    pub fn with_out_of_office(mut self, oof: bool) -> Self {
        self.out_of_office = oof;
        self
    }

    pub fn with_sequence(mut self, seq: impl Into<String>) -> Self {
        self.sequence_number = Some(seq.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_without_case_and_keep_their_spelling() {
        let a = PresenceValue::new("inACall");
        assert_eq!(a, PresenceValue::new("InACall"));
        assert!(a.is("INACALL"));
        assert_eq!(a.as_str(), "inACall");
        assert_ne!(a, PresenceValue::new("InAConferenceCall"));
    }
}
