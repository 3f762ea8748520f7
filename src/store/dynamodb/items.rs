//! The single-table layout: keys, attribute names, encodings and error mapping.
//!
//! | record            | pk                  | sk         | other attributes                         |
//! |-------------------|---------------------|------------|------------------------------------------|
//! | user link         | `USERS`             | Entra id   | `swyx_user_id`, `data`                   |
//! | Swyx-id claim     | `SWYX#<swyx id>`    | `SWYX`     | `entra_id`, `data` (the same link)       |
//! | sync state        | `STATE#<Entra id>`  | `STATE`    | `revision`, `data`                       |
//! | subscription      | `SUBSCRIPTIONS`     | id         | `data`                                   |
//! | pending delivery  | `PENDING#<swyx id>` | `PENDING`  | `revision`, `due_pk`, `due_sk`, `data`   |
//! | idempotency key   | `CLAIM#<key>`       | `CLAIM`    | `expires_at` (TTL, s), `expires_at_ms`   |
//! | speaking state    | `SPEAKING#<Entra>`  | `SPEAKING` | `revision`, `entra_id`, `data`, `due_pk`/`due_sk` while due |
//! | sync account      | `ACCOUNTS`          | name       | `version`, `data`                        |
//! | lifecycle request | `LIFECYCLE`         | `<subscription id>#<event>` | `received_at` (ms), `data` |
//! | link mark         | `LINKMARKS`         | Swyx id    | `data`                                   |
//!
//! Links, subscriptions, sync accounts, lifecycle requests and link marks get one partition per kind, so
//! listing them is one strongly consistent, ordered query; all change rarely. Per-user state and
//! pending items get their own partitions because they are written on every presence change. The
//! sparse `due` index holds pending items (partition `PENDING`) and speaking states with
//! maintenance work (partition `SPEAKING`).

use crate::domain::Timestamp;
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const DATA: &str = "data";
pub(super) const REVISION: &str = "revision";
pub(super) const ENTRA_ID: &str = "entra_id";
pub(super) const SWYX_USER_ID: &str = "swyx_user_id";
pub(super) const DUE_PK: &str = "due_pk";
pub(super) const DUE_SK: &str = "due_sk";
/// The table's TTL attribute (epoch seconds).
pub(super) const EXPIRES_AT: &str = "expires_at";
pub(super) const EXPIRES_AT_MS: &str = "expires_at_ms";
pub(super) const DUE_INDEX: &str = "due";

pub(super) const USERS_PK: &str = "USERS";
pub(super) const SUBSCRIPTIONS_PK: &str = "SUBSCRIPTIONS";
pub(super) const PENDING_DUE_PK: &str = "PENDING";

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(super) fn user_key(entra_id: &str) -> Item {
    key(USERS_PK.to_string(), entra_id)
}

pub(super) fn swyx_key(swyx_user_id: &str) -> Item {
    key(format!("SWYX#{swyx_user_id}"), "SWYX")
}

pub(super) fn state_key(entra_id: &str) -> Item {
    key(format!("STATE#{entra_id}"), "STATE")
}

pub(super) fn subscription_key(id: &str) -> Item {
    key(SUBSCRIPTIONS_PK.to_string(), id)
}

pub(super) fn pending_key(swyx_user_id: &str) -> Item {
    key(format!("PENDING#{swyx_user_id}"), "PENDING")
}

pub(super) fn claim_key(idempotency_key: &str) -> Item {
    key(format!("CLAIM#{idempotency_key}"), "CLAIM")
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// DynamoDB numbers hold 38 digits, so every `u64`/`i64` is exact.
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Adds the record's JSON to `item`.
pub(super) fn with_data<T: Serialize>(mut item: Item, value: &T, what: &str) -> StoreResult<Item> {
    let json = serde_json::to_string(value)
        .map_err(|e| StoreError::backend(format!("encode {what}"), e))?;
    item.insert(DATA.to_string(), s(json));
    Ok(item)
}

pub(super) fn parse_data<T: DeserializeOwned>(item: &Item, what: &str) -> StoreResult<T> {
    let json = item
        .get(DATA)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt(what, MissingAttribute(DATA)))?;
    serde_json::from_str(json).map_err(|e| corrupt(what, e))
}

/// An item that is not what this build writes (no `data` string, or not its JSON).
pub(super) fn corrupt(what: &str, cause: impl Into<crate::store::BoxError>) -> StoreError {
    StoreError::backend(format!("corrupt {what} item"), cause)
}

#[derive(Debug, thiserror::Error)]
#[error("no `{0}` string attribute")]
pub(super) struct MissingAttribute(pub &'static str);

pub(super) fn parse_all<T: DeserializeOwned>(items: &[Item], what: &str) -> StoreResult<Vec<T>> {
    items.iter().map(|i| parse_data(i, what)).collect()
}

/// Maps a signed millisecond time onto unsigned numbers of the same order, as fixed-width
/// decimal text, so the string sort key of the `due` index sorts by time.
fn sortable(t: Timestamp) -> String {
    format!("{:020}", (t.millis() as u64) ^ (1 << 63))
}

pub(super) fn due_sort_key(next_attempt_at: Timestamp, swyx_user_id: &str) -> String {
    format!("{}#{swyx_user_id}", sortable(next_attempt_at))
}

/// Every `due_sort_key` at or before `now` is below this ('$' sorts right after '#').
pub(super) fn due_upper_bound(now: Timestamp) -> String {
    format!("{}$", sortable(now))
}

/// TTL is in whole seconds; rounding up keeps DynamoDB from deleting a key before it expires.
pub(super) fn ttl_secs(t: Timestamp) -> i64 {
    t.millis().div_euclid(1000) + i64::from(t.millis().rem_euclid(1000) != 0)
}

/// DynamoDB's answers that mean "slow down": the SDK has already retried them with backoff.
const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];
/// DynamoDB's answers that mean "not now": the service failed, not the request.
const UNAVAILABLE_CODES: [&str; 2] = ["InternalServerError", "ServiceUnavailable"];

/// Keeps the SDK's error as the cause and tells transient failures (throttling, timeouts, no
/// connection, a failing service) from permanent ones (a missing table, a refused request).
pub(super) fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let operation = format!("DynamoDB {operation}");
    let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
    let throttled = code.is_some_and(|c| THROTTLING_CODES.contains(&c));
    let unavailable = code.is_some_and(|c| UNAVAILABLE_CODES.contains(&c))
        || matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
        );
    let source = Box::new(err);
    if throttled {
        StoreError::Throttled { operation, source }
    } else if unavailable {
        StoreError::Unavailable { operation, source }
    } else {
        StoreError::Backend { operation, source }
    }
}

pub(super) fn is_condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A request the SDK refused to build (a required field missing): a bug here, not DynamoDB's.
pub(super) fn build_err(e: BuildError) -> StoreError {
    StoreError::backend("build DynamoDB request", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_like_their_times_including_negative_ones() {
        let times = [i64::MIN, -1001, -1, 0, 1, 999, 1_700_000_000_000, i64::MAX];
        let keys: Vec<String> = times
            .iter()
            .map(|&t| due_sort_key(Timestamp(t), "u"))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(due_sort_key(Timestamp(5), "\u{10FFFF}") < due_upper_bound(Timestamp(5)));
        assert!(due_sort_key(Timestamp(6), "") > due_upper_bound(Timestamp(5)));
    }

    #[test]
    fn throttling_and_an_unreachable_table_are_transient_a_missing_one_is_not() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        let answered = |code: &str| {
            let meta = ErrorMetadata::builder().code(code).message("m").build();
            SdkError::<GetItemError, ()>::service_error(GetItemError::generic(meta), ())
        };
        let throttled = sdk_error(
            "GetItem",
            answered("ProvisionedThroughputExceededException"),
        );
        assert!(
            matches!(throttled, StoreError::Throttled { .. }),
            "{throttled:?}"
        );
        let failing = sdk_error("GetItem", answered("InternalServerError"));
        assert!(
            matches!(failing, StoreError::Unavailable { .. }),
            "{failing:?}"
        );
        let timeout = SdkError::<GetItemError, ()>::timeout_error("read timed out");
        assert!(sdk_error("GetItem", timeout).is_transient());

        let missing = sdk_error("GetItem", answered("ResourceNotFoundException"));
        assert!(matches!(missing, StoreError::Backend { .. }), "{missing:?}");
        assert!(!missing.is_transient());
        let message = missing.to_string();
        assert!(message.starts_with("DynamoDB GetItem: "), "{message}");
        assert!(message.contains("ResourceNotFoundException"), "{message}");
    }

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_secs(Timestamp(1_000)), 1);
        assert_eq!(ttl_secs(Timestamp(1_001)), 2);
        assert_eq!(ttl_secs(Timestamp(-1_500)), -1);
    }
}
