//! Why a Graph notification item changed nothing: the `reason` label of
//! [`DROPPED_ITEMS`](super::DROPPED_ITEMS).

/// Why a notification item changed nothing (`reason` of [`DROPPED_ITEMS`](super::DROPPED_ITEMS)). Stale items and
/// users who are not linked are normal (Graph's retries, a tenant's other users); the others
/// point at a forgery, a misconfiguration or a store outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// A duplicate, or older than the presence already applied.
    Stale,
    UnlinkedUser,
    /// The collection's validation tokens were missing or invalid: every item is dropped.
    ValidationToken,
    MissingField,
    /// A `subscriptionId` or `clientState` Graph could not have sent: dropped before any store
    /// access (a flood of forgeries).
    Implausible,
    /// A lifecycle event name Graph does not document.
    UnknownLifecycleEvent,
    UnknownSubscription,
    ClientStateMismatch,
    WrongTenant,
    NotRich,
    DecryptFailed,
    NotPresence,
    ResourceMismatch,
    /// Transient: Graph is asked to deliver again.
    StoreFailure,
    /// An item's task failed (a bug); Graph is asked to deliver again.
    Internal,
}

impl DropReason {
    pub const ALL: [DropReason; 15] = [
        DropReason::Stale,
        DropReason::UnlinkedUser,
        DropReason::ValidationToken,
        DropReason::MissingField,
        DropReason::Implausible,
        DropReason::UnknownLifecycleEvent,
        DropReason::UnknownSubscription,
        DropReason::ClientStateMismatch,
        DropReason::WrongTenant,
        DropReason::NotRich,
        DropReason::DecryptFailed,
        DropReason::NotPresence,
        DropReason::ResourceMismatch,
        DropReason::StoreFailure,
        DropReason::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Stale => "stale",
            DropReason::UnlinkedUser => "unlinked_user",
            DropReason::ValidationToken => "validation_token",
            DropReason::MissingField => "missing_field",
            DropReason::Implausible => "implausible",
            DropReason::UnknownLifecycleEvent => "unknown_lifecycle_event",
            DropReason::UnknownSubscription => "unknown_subscription",
            DropReason::ClientStateMismatch => "client_state_mismatch",
            DropReason::WrongTenant => "wrong_tenant",
            DropReason::NotRich => "not_rich",
            DropReason::DecryptFailed => "decrypt_failed",
            DropReason::NotPresence => "not_presence",
            DropReason::ResourceMismatch => "resource_mismatch",
            DropReason::StoreFailure => "store_failure",
            DropReason::Internal => "internal_error",
        }
    }
}
