//! Microsoft Graph: notification intake (parse, validation tokens, decryption), the one client
//! for calls to Graph (app-only token, retries, budgets) and the Entra sign-in endpoints. Every
//! outbound request goes through [`crate::outbound`].

pub mod client;
pub mod cloud;
pub mod crypto;
pub mod delegated;
pub mod directory;
pub mod entra;
pub mod keys;
pub mod notification;
mod preferred;
pub mod sealed;
pub mod subscriptions;
pub mod token;
pub mod validation_token;

/// The Microsoft Graph Change Tracking application: the `azp`/`appid` of every validation token.
pub const CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";
