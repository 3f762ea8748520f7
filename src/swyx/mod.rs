//! The Swyx connector: the client for status pushes and the Standard Webhooks signatures that
//! authenticate both directions of the contract (`infra/connector-openapi.yaml`).

pub mod client;
pub mod signature;
pub mod wire;
