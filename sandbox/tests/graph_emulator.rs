//! The emulated Microsoft Graph tenant, exercised over real HTTP on loopback.

#[path = "graph_emulator/crypto_api.rs"]
mod crypto_api;
#[path = "graph_emulator/directory.rs"]
mod directory;
#[path = "graph_emulator/directory_sync.rs"]
mod directory_sync;
#[path = "graph_emulator/late_answers.rs"]
mod late_answers;
#[path = "graph_emulator/notifications.rs"]
mod notifications;
#[path = "graph_emulator/preferred.rs"]
mod preferred;
#[path = "graph_emulator/presence.rs"]
mod presence;
#[path = "graph_emulator/scale.rs"]
mod scale;
#[path = "graph_emulator/slow_endpoint.rs"]
mod slow_endpoint;
#[path = "graph_emulator/subscriptions.rs"]
mod subscriptions;
#[path = "graph_emulator/support.rs"]
mod support;
#[path = "graph_emulator/tokens.rs"]
mod tokens;
