//! Every integration test of this crate in one test binary: the dependencies are instantiated and
//! linked once instead of once per file, which is most of the suite's build time. Each module is
//! what used to be a test file; `cargo nextest run -E 'test(/^module::/)'` runs one of them.

mod admin_page;
mod cli;
mod connector_chain;
mod crypto_vectors;
mod demo_via_connector;
mod fault_injection;
mod graph_accounts;
mod graph_to_swyx;
mod lambda_binary;
mod lambda_faults;
mod lambda_roles;
mod lambda_runtime;
mod outbound;
mod sandbox_e2e;
mod serve;
mod serve_hardening;
mod store_conformance;
mod store_requests;
mod subscriptions;
mod support;
mod swyx_connector;
mod swyx_to_teams;
mod users_sync;
mod validation_tokens;
