//! The Swyx side of the mapping.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A status the bridge can set on a Swyx user (the Teams-derived status slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SwyxStatus {
    Available,
    Away,
    DoNotDisturb,
    Speaking,
}

/// What a Teams presence maps to: a Swyx status, or "no sync" (withdraw what the bridge set, so
/// Swyx's own status rules again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MappedStatus {
    Swyx(SwyxStatus),
    NoSync,
}

impl SwyxStatus {
    pub const ALL: [SwyxStatus; 4] = [
        SwyxStatus::Available,
        SwyxStatus::Away,
        SwyxStatus::DoNotDisturb,
        SwyxStatus::Speaking,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SwyxStatus::Available => "Available",
            SwyxStatus::Away => "Away",
            SwyxStatus::DoNotDisturb => "DoNotDisturb",
            SwyxStatus::Speaking => "Speaking",
        }
    }
}

impl fmt::Display for SwyxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MappedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappedStatus::Swyx(s) => s.fmt(f),
            MappedStatus::NoSync => f.write_str("NoSync"),
        }
    }
}

/// Accepts the five words the CLI prints, case-insensitively, plus "No sync"/"no_sync" spellings.
impl FromStr for MappedStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.as_str() {
            "available" => Ok(MappedStatus::Swyx(SwyxStatus::Available)),
            "away" => Ok(MappedStatus::Swyx(SwyxStatus::Away)),
            "donotdisturb" | "dnd" => Ok(MappedStatus::Swyx(SwyxStatus::DoNotDisturb)),
            "speaking" => Ok(MappedStatus::Swyx(SwyxStatus::Speaking)),
            "nosync" => Ok(MappedStatus::NoSync),
            _ => Err(format!(
                "unknown Swyx status {s:?}: expected Available, Away, DoNotDisturb, Speaking or NoSync"
            )),
        }
    }
}
