//! Entry points around the use cases: the framework-neutral HTTP shape both hosts share
//! ([`http`]), work that outlives a caller who stops waiting ([`detach`]), the Lambda runtime seam ([`lambda`]), the self-hosted server ([`server`]), each of its
//! listeners ([`listen`]) and its operator's routes ([`admin`]).

pub mod admin;
pub mod admin_page;
pub mod detach;
pub mod http;
pub mod lambda;
pub mod listen;
pub mod server;
