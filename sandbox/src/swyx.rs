//! An emulated SwyxServer with its connector: users with their own status, e-mail addresses and
//! groups, a Teams-derived status slot the bridge sets over the connector contract
//! (`infra/connector-openapi.yaml`, version 1.2), calls that make a user "Speaking", and signed
//! events to the bridge (speaking started/ended, status changed by hand). See [`model`] for the
//! rule that decides what SwyxIt! shows.
//!
//! Layers, each importing only those below: `model`, [`webhook`], `listener` → `shared` →
//! `events`, `connector` (HTTP) → the [`SwyxEmulator`] handle.

mod connector;
mod emulator;
mod emulator_events;
mod events;
mod listener;
pub mod model;
mod shared;
pub mod webhook;

pub use emulator::{SwyxEmulator, SwyxOptions};
pub use model::{
    EffectiveStatus, OwnStatus, SentEvent, SwyxStats, SwyxUserView, TeamsPresence, TeamsSlotView,
    TeamsStatus, check_swyx_user_id,
};
pub use shared::Outage;
