//! Pure types and decisions: Teams presence, Swyx status, the mapping rules and the per-user sync
//! state machine, automatic user linking. No I/O, no async: everything here is a function of its inputs.

pub mod clock;
pub mod directions;
pub mod linking;
pub mod mapping;
pub mod own_status;
pub mod presence;
pub mod rule_overrides;
pub mod sharding;
pub mod speaking;
pub mod speaking_truth;
pub mod swyx_status;
pub mod sync;
pub mod timestamp;

pub use clock::Clock;
pub use directions::{DirectionSwitches, Directions, SwitchChange};
pub use mapping::{MappingRules, RulesError};
pub use presence::{PresenceValue, TeamsPresence};
pub use rule_overrides::{RuleOverride, UserKeys, rules_for};
pub use speaking::{
    CallEvent, ECHO_WINDOW_MS, GraphOp, GraphOutcome, Session, SpeakingSettings, SpeakingState,
    VerifyStep,
};
pub use speaking_truth::{CallRepair, SwyxCalls};
pub use swyx_status::{MappedStatus, SwyxStatus};
pub use sync::{
    HeldStatus, Observation, SwyxAction, SwyxRepair, SwyxUpdate, SyncDecision, UserSyncState,
    decide, decide_with_echo_guard, rejudge, swyx_repair,
};
pub use timestamp::Timestamp;
