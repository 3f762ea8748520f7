//! What every outbound HTTP call of the bridge shares: one client builder ([`http`]: rustls, no
//! redirects, a connect timeout, answers read up to a size cap) and one retry policy ([`retry`]:
//! what is retried, how long to wait, when to stop). Graph, the Entra sign-in endpoints, the
//! signing-key document and the Swyx connector all go through them, so a fix to either reaches
//! every call at once.
//!
//! Layering: the adapters ([`crate::graph`], [`crate::swyx`]) may import this module and
//! [`crate::domain`]; this module imports neither, nor anything else of this crate. It reads
//! `Retry-After` with [`swyx_contract::retry_after`], the one parser the connector uses too, capped
//! at [`retry::MAX_RETRY_AFTER`] (each side caps with its own policy).

pub mod http;
pub mod retry;
pub mod tls;
pub mod trusted_roots;

pub use self::http::{Answer, exchange};
pub use retry::{Failure, FailureKind, GaveUp, Idempotency, RetryPolicy};
