//! Entry points around the use cases: the framework-neutral HTTP shape both hosts share
//! ([`http`]), the Lambda runtime seam ([`lambda`]) and the self-hosted server ([`server`]).

pub mod http;
pub mod lambda;
pub mod server;
