//! Every integration test of this crate in one test binary: the dependencies are instantiated and
//! linked once instead of once per file, which is most of the suite's build time. Each module is
//! what used to be a test file; `cargo nextest run -E 'test(/^module::/)'` runs one of them.

mod api_tls;
mod cli;
mod contract;
mod ldap_directory;
mod sip_watch;
mod sipp_peer;
mod support;
mod writers;
