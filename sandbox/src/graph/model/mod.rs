//! The emulated tenant's model: presence and its aggregation, the Entra directory, credentials,
//! subscriptions and their rules, throttling, and the notification queue with Graph's judgement
//! of slow endpoints. Nothing here knows HTTP routes or Graph's error bodies: the HTTP layer
//! ([`super::http`]) and the delivery side ([`super::delivery`]) import this, never the reverse.

pub(crate) mod aggregate;
pub(crate) mod auth;
pub(crate) mod delta;
pub(crate) mod directory;
mod directory_ops;
pub(crate) mod filter;
pub(crate) mod filter_parse;
pub(crate) mod groups;
pub(crate) mod health;
pub(crate) mod outbox;
pub(crate) mod presence_book;
mod presence_ops;
pub(crate) mod query;
pub(crate) mod subscription;
pub(crate) mod tenant;
pub(crate) mod throttle;
