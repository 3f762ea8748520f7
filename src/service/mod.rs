//! Use cases that tie the adapters together: Graph notifications in, Swyx updates out.

pub mod app;
pub mod delivery;
pub mod graph_webhook;
pub mod http_types;
pub mod maintenance;
pub mod metrics;
pub mod server;
pub mod speaking;
pub mod swyx_webhook;

pub use app::App;
