//! Use cases that tie the adapters together: Graph notifications in, Swyx updates out.

pub mod accounts;
pub mod app;
pub mod delivery;
pub mod graph_webhook;
pub mod http_types;
pub mod maintenance;
pub mod metrics;
pub mod observe;
pub mod reconcile;
pub mod secrets;
pub mod server;
pub mod speaking;
pub mod subscriptions;
pub mod swyx_webhook;

pub use app::App;
