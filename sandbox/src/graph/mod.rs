//! The emulated Microsoft Graph tenant: login (client credentials, device code, rotating refresh
//! tokens), the Entra directory (users with their addresses, groups, delta queries), presence
//! (Teams' aggregation of sessions and preferred states), presence subscriptions with the
//! validation handshake, and rich encrypted change notifications signed like Graph's, delivered
//! under Graph's slow-endpoint rules — all on loopback and on the sandbox [`Clock`](crate::Clock).
//! Built to Microsoft's documented behaviour (each module cites its page).
//!
//! An independent second implementation: nothing here comes from the bridge crate. Layers, each
//! importing only those below it: [`types`], `crypto`, `wire` → `model` (state, no HTTP) →
//! `delivery` (outgoing POSTs) → `http` (routes) → the [`GraphEmulator`] handle.

pub mod crypto;
mod delivery;
mod directory_types;
mod emulator;
mod emulator_directory;
mod http;
mod model;
pub mod types;
pub mod wire;

pub use crypto::{
    CHANGE_TRACKING_APP_ID, EncryptionCertificate, TokenSigner, encrypt_resource,
    make_encryption_certificate, validation_token_claims,
};
pub use directory_types::{DirectoryUser, GroupView, UserUpdate};
pub use emulator::{GraphEmulator, GraphOptions};
pub use types::{
    AppSessionView, EndpointState, EndpointStats, GraphStats, GraphTiming, PreferredBy,
    PreferredPresenceView, Presence, SlowEndpointRules, SubscriptionView,
};
