//! What a store call fails with. Callers decide by variant: a [`StoreError::Conflict`] is read
//! and decided again ([`super::optimistic`]); [`StoreError::is_transient`] failures are worth a
//! retry later (a webhook answers 503 so its sender retries); the rest stays until someone fixes
//! it. The backend's own error is kept as the [`source`](std::error::Error::source), and the
//! message shows its whole chain, because log lines print errors with `%`.

use std::error::Error;
use std::fmt;

/// A backend's own error (rusqlite, the AWS SDK, serde_json, …).
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found another revision, version or owner than it expected (or a
    /// conflicting link); nothing was written.
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// Other writers kept changing the record: the optimistic write gave up after `attempts`.
    #[error("{what} kept changing: gave up after {attempts} attempts")]
    Contended { what: String, attempts: usize },
    /// The store refuses the key or value (empty id, a character the layout cannot keep apart);
    /// nothing was written.
    #[error("rejected: {what}")]
    Invalid { what: String },
    /// The backend asked to slow down (DynamoDB throughput or request-rate limits).
    #[error("{operation}: throttled: {}", Chain(source.as_ref()))]
    Throttled {
        operation: String,
        #[source]
        source: BoxError,
    },
    /// The backend did not answer in time or could not be reached (network, timeout, a SQLite
    /// file locked by another process beyond the busy timeout).
    #[error("{operation}: unavailable: {}", Chain(source.as_ref()))]
    Unavailable {
        operation: String,
        #[source]
        source: BoxError,
    },
    /// Anything else the backend reported: a missing table, a corrupt record, a full disk.
    #[error("{operation}: {}", Chain(source.as_ref()))]
    Backend {
        operation: String,
        #[source]
        source: BoxError,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    pub fn invalid(what: impl Into<String>) -> Self {
        Self::Invalid { what: what.into() }
    }

    pub fn backend(operation: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// A failure that a later attempt may not meet: the backend was busy, slow or unreachable,
    /// or other writers kept winning. Conflicts, refused input and backend errors are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Unavailable { .. } | Self::Contended { .. }
        )
    }

    /// The backend itself did not serve the call: it was busy, slow or unreachable. Unlike
    /// [`Self::is_transient`], other writers winning ([`Self::Contended`]) is not one: the store
    /// worked.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable { .. })
    }
}

/// An error and its sources, `: `-separated.
struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_message_shows_the_whole_cause_and_the_cause_stays_reachable() {
        let cause = Outer(std::io::Error::other("disk on fire"));
        let e = StoreError::backend("SQLite write sync state", cause);
        assert_eq!(
            e.to_string(),
            "SQLite write sync state: outer: disk on fire"
        );
        let source = e.source().expect("cause kept");
        assert!(source.downcast_ref::<Outer>().is_some());
        assert!(!e.is_transient());
    }

    #[test]
    fn only_busy_unreachable_and_contended_are_transient_and_only_the_first_two_an_outage() {
        let io = || Box::new(std::io::Error::other("x")) as BoxError;
        let transient = [
            StoreError::Throttled {
                operation: "DynamoDB PutItem".into(),
                source: io(),
            },
            StoreError::Unavailable {
                operation: "DynamoDB GetItem".into(),
                source: io(),
            },
            StoreError::Contended {
                what: "sync state of alice".into(),
                attempts: 8,
            },
        ];
        assert!(transient.iter().all(StoreError::is_transient));
        // Contention is the store working: only the first two are an outage.
        let outages: Vec<bool> = transient.iter().map(StoreError::is_outage).collect();
        assert_eq!(outages, [true, true, false]);
        let permanent = [
            StoreError::conflict("sync state of alice is not at revision 3"),
            StoreError::invalid("Entra id is empty"),
            StoreError::backend("DynamoDB GetItem", io()),
        ];
        assert!(!permanent.iter().any(StoreError::is_transient));
        assert!(!permanent.iter().any(StoreError::is_outage));
    }
}
