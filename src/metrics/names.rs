//! The names the bridge exports and the label values each labelled one takes.

/// Graph notification items received in collections that reached the item checks.
pub const NOTIFICATIONS: &str = "presence_bridge_notifications_total";
/// Swyx updates forwarded from notifications, by `outcome` ([`FORWARD_OUTCOMES`]).
pub const FORWARDS: &str = "presence_bridge_forwards_total";
/// Notification items that changed nothing, by `reason` ([`super::DropReason`]).
pub const DROPPED_ITEMS: &str = "presence_bridge_dropped_items_total";
/// Pending Swyx updates that maintenance delivered later.
pub const PENDING_DELIVERED: &str = "presence_bridge_pending_delivered_total";
/// Graph POST received → the connector took the update (updates delivered within the request).
pub const TEAMS_TO_SWYX_LATENCY: &str = "presence_bridge_teams_to_swyx_latency_seconds";
/// Connector event received → Graph took the setPresence / clearPresence it called for.
pub const SWYX_TO_TEAMS_LATENCY: &str = "presence_bridge_swyx_to_teams_latency_seconds";
/// Swyx statuses set by hand ("Do not disturb", "Away", back) sent to Teams as a preferred
/// presence (`status.changed`), by `outcome` ([`OWN_STATUS_OUTCOMES`]).
pub const SWYX_STATUS_TO_TEAMS: &str = "presence_bridge_swyx_status_to_teams_total";
/// Calls maintenance repaired against Swyx's call state (a lost call event), by `kind`
/// ([`CALL_REPAIR_KINDS`]).
pub const CALLS_REPAIRED: &str = "presence_bridge_calls_repaired_total";
/// What a connector did that the operator should look at, by `kind`
/// ([`CONNECTOR_ANOMALY_KINDS`]).
pub const CONNECTOR_ANOMALIES: &str = "presence_bridge_connector_anomalies_total";
/// setPresence calls Graph refused for good (the user's calls are not shown in Teams), by
/// `status` ([`SET_PRESENCE_REFUSED_STATUSES`]).
pub const SET_PRESENCE_REFUSED: &str = "presence_bridge_set_presence_refused_total";
/// Swyx updates waiting for delivery.
pub const PENDING_DELIVERIES: &str = "presence_bridge_pending_deliveries";
/// Linked users no sync account has room for.
pub const UNCOVERED_USERS: &str = "presence_bridge_uncovered_users";
/// Sync accounts whose upkeep failed in the last maintenance pass.
pub const FAILING_SYNC_ACCOUNTS: &str = "presence_bridge_failing_sync_accounts";
/// Seconds until the first subscription expires (negative: already expired).
pub const NEXT_SUBSCRIPTION_EXPIRY: &str = "presence_bridge_next_subscription_expiry_seconds";

/// Every name the bridge exports, as queries spell them (counters with `_total`; histograms
/// without their `_bucket`, `_sum` and `_count` series). The dashboards use only these.
pub const ALL: [&str; 14] = [
    NOTIFICATIONS,
    FORWARDS,
    DROPPED_ITEMS,
    PENDING_DELIVERED,
    TEAMS_TO_SWYX_LATENCY,
    SWYX_TO_TEAMS_LATENCY,
    SWYX_STATUS_TO_TEAMS,
    CALLS_REPAIRED,
    CONNECTOR_ANOMALIES,
    SET_PRESENCE_REFUSED,
    PENDING_DELIVERIES,
    UNCOVERED_USERS,
    FAILING_SYNC_ACCOUNTS,
    NEXT_SUBSCRIPTION_EXPIRY,
];

/// `delivered`: the connector took it (or already had a newer one) within the request;
/// `pending`: kept for maintenance.
pub const FORWARD_OUTCOMES: [&str; 2] = ["delivered", "pending"];

/// `applied`: Graph took the preferred presence; `failed`: it did not within the request (kept,
/// and retried by maintenance; the connector gets 2xx).
pub const OWN_STATUS_OUTCOMES: [&str; 2] = ["applied", "failed"];

/// `ended`: a call the bridge held that Swyx no longer listed (a lost `speaking.ended`);
/// `started`: a call Swyx listed that the bridge never heard of (a lost `speaking.started`).
pub const CALL_REPAIR_KINDS: [&str; 2] = ["ended", "started"];

/// `unknown_event_type`: an event of a type the bridge does not know (answered 2xx and ignored:
/// a newer connector, or one that misnames a type); `update_refused`: a status PUT the connector
/// refused for good (a 4xx other than 409 and 429), dropped.
pub const CONNECTOR_ANOMALY_KINDS: [&str; 2] = ["unknown_event_type", "update_refused"];

/// Graph's final refusals of a setPresence: `400` (a bad request, e.g. a user id Graph does not
/// take), `403` (the app lacks the permission, or the user has no Teams licence), `404` (no such
/// user). Not 401 (the token), 429, 5xx or timeouts: those are retried.
pub const SET_PRESENCE_REFUSED_STATUSES: [&str; 3] = ["400", "403", "404"];
