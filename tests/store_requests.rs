//! What reconciliation costs the store on DynamoDB (moto): counted by the [`CountingStore`]
//! decorator (port calls) and by an SDK interceptor (the requests DynamoDB receives, retries of
//! unprocessed keys included). A first reconciliation must cost at most one request per user, not
//! the ~3 it cost one user at a time.

use crate::support::moto;
use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use presence_bridge::domain::{Clock, HeldStatus, MappingRules, SwyxStatus, SwyxUpdate, Timestamp};
use presence_bridge::domain::{Observation, PresenceValue, TeamsPresence};
use presence_bridge::graph::client::GraphError;
use presence_bridge::graph::notification::PresenceResource;
use presence_bridge::store::prelude::*;
use presence_bridge::store::{
    AUTOMATIC_LINKS_PER_REQUEST, CountingStore, DynamoStore, Store, UserLink,
};
use presence_bridge::swyx::client::{ConnectorError, DeliveryOutcome};
use presence_bridge::teams_to_swyx::decide::{Judge, Observed, observe};
use presence_bridge::teams_to_swyx::deliver::Delivery;
use presence_bridge::teams_to_swyx::ports::{PresenceReader, SwyxConnector};
use presence_bridge::teams_to_swyx::reconcile::reconcile;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A DynamoDB store on moto, and the number of requests it has sent.
async fn counted_dynamo(name: &str) -> (DynamoStore, Arc<AtomicU64>) {
    let sent = Arc::new(AtomicU64::new(0));
    let base = moto::client();
    let config = base
        .config()
        .to_builder()
        .interceptor(CountRequests(Arc::clone(&sent)))
        .build();
    let dynamo = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        moto::unique_table(name),
    );
    dynamo.create_table_if_missing().await.unwrap();
    (dynamo, sent)
}

/// Links Entra user `entra-1` to Swyx user `swyx-1`.
async fn link_one(dynamo: &DynamoStore) {
    dynamo
        .put_user(&UserLink {
            entra_id: "entra-1".into(),
            swyx_user_id: "swyx-1".into(),
            email: "one@example.com".into(),
            groups: Vec::new(),
        })
        .await
        .unwrap();
}

/// Past one batch of 100 keys; small, as every link costs moto a transaction to set up.
const USERS: usize = 101;

#[derive(Debug, Default)]
struct CountRequests(Arc<AtomicU64>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Teams shows every user Available.
struct AllAvailable;

#[async_trait]
impl PresenceReader for AllAvailable {
    async fn get_presences(
        &self,
        ids: &[String],
        _budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError> {
        Ok(ids
            .iter()
            .map(|id| PresenceResource {
                id: id.clone(),
                availability: Some("Available".into()),
                activity: Some("Available".into()),
                out_of_office_settings: None,
                sequence_number: None,
            })
            .collect())
    }
}

/// A connector that takes every update.
struct Takes;

#[async_trait]
impl SwyxConnector for Takes {
    async fn send_update(
        &self,
        _update: &SwyxUpdate,
        _budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        Ok(DeliveryOutcome::Applied)
    }

    async fn held_statuses(
        &self,
        _budget: Duration,
    ) -> Result<HashMap<String, HeldStatus>, ConnectorError> {
        Ok(HashMap::new())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_on_dynamodb_costs_under_one_request_per_user() {
    let (dynamo, sent) = counted_dynamo("requests").await;
    let ids: Vec<String> = (0..USERS).map(|i| format!("entra-{i:04}")).collect();
    for (i, id) in ids.iter().enumerate() {
        dynamo
            .put_user(&UserLink {
                entra_id: id.clone(),
                swyx_user_id: format!("swyx-{i:04}"),
                email: String::new(),
                groups: Vec::new(),
            })
            .await
            .unwrap();
    }
    let inner: Arc<dyn Store> = Arc::new(dynamo);
    let store = CountingStore::new(inner);
    let rules = MappingRules::default();
    let judge = Judge {
        rules: &rules,
        overrides: &[],
        own_sessions: None,
        directions: Default::default(),
    };
    let clock = Clock::from_fn(|| Timestamp(1_767_225_600_000));
    let metrics = presence_bridge::metrics::Metrics::default();
    let delivery = Delivery {
        connector: &Takes,
        pending: &store,
        clock: &clock,
        metrics: &metrics,
    };
    let run = |at: i64| {
        let (store, delivery, ids) = (&store, delivery, &ids);
        async move {
            let budget = Duration::from_secs(60);
            reconcile(
                store,
                judge,
                delivery,
                &AllAvailable,
                ids,
                Timestamp(at),
                budget,
            )
            .await
            .unwrap()
        }
    };

    let before = sent.load(Ordering::Relaxed);
    let first = run(1_767_225_600_000).await;
    let (calls, requests) = (store.total(), sent.load(Ordering::Relaxed) - before);
    assert_eq!(
        (first.read, first.repaired, first.failed),
        (USERS, USERS, 0)
    );
    let per_user = |n: u64| n as f64 / USERS as f64;
    eprintln!(
        "FIGURE DynamoDB first reconciliation, {USERS} users: {calls} store calls ({:.3}/user), {requests} DynamoDB requests ({:.3}/user): {:?}",
        per_user(calls),
        per_user(requests),
        store.counts()
    );
    assert!(per_user(requests) <= 1.0, "{requests} requests");
    assert!(per_user(calls) <= 1.0, "{calls} calls");
    for id in ["swyx-0000", "swyx-0100"] {
        assert_eq!(
            store.get_pending(id).await.unwrap(),
            None,
            "delivered, cleared"
        );
    }
    let state = store.get_sync_state("entra-0050").await.unwrap().unwrap();
    assert_eq!(state.teams_status, Some(SwyxStatus::Available));

    // Again an hour later, nothing changed in Teams: nothing sent, the states moved on in batches.
    store.reset();
    let before = sent.load(Ordering::Relaxed);
    let again = run(1_767_229_200_000).await;
    let (calls, requests) = (store.total(), sent.load(Ordering::Relaxed) - before);
    assert_eq!((again.read, again.repaired), (USERS, 0));
    eprintln!(
        "FIGURE DynamoDB steady reconciliation, {USERS} users: {calls} store calls, {requests} DynamoDB requests ({:.3}/user)",
        per_user(requests)
    );
    assert!(per_user(requests) <= 0.1, "{requests} requests");
}

/// A lone notification, Graph's usual collection, is decided in three DynamoDB requests, one
/// after the other: the link, sync state and speaking state in one batch read, the switches the
/// link names, the write; in two once the process knows which Swyx user the link names (the
/// switches ride in the batch read). An unknown user costs the one read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_presence_is_decided_in_three_dynamodb_requests_then_two() {
    let (dynamo, sent) = counted_dynamo("lone").await;
    link_one(&dynamo).await;
    let rules = MappingRules::default();
    let clock = Clock::from_fn(|| Timestamp(1_767_225_600_000));
    let judge = Judge {
        rules: &rules,
        overrides: &[],
        own_sessions: Some(&clock),
        directions: Default::default(),
    };
    let seen = |availability: &str, activity: &str, sequence: u32| {
        let mut presence = TeamsPresence::new(availability, activity);
        presence.sequence_number = Some(format!("{sequence:05}"));
        Observation {
            presence,
            received_at: Timestamp(1_767_225_600_000 + i64::from(sequence)),
        }
    };
    let requests = |run: u64| sent.load(Ordering::Relaxed) - run;

    let runs = [
        ("Busy", "Busy", 1, 3),
        ("Busy", "InACall", 2, 2),
        ("Away", "Away", 3, 2),
    ];
    for (availability, activity, sequence, expected) in runs {
        let before = sent.load(Ordering::Relaxed);
        let observed = observe(
            &dynamo,
            judge,
            "entra-1",
            &seen(availability, activity, sequence),
        )
        .await
        .unwrap();
        // Forwarded or only recorded, the decision is written.
        assert!(
            matches!(observed, Observed::Forward(_) | Observed::Recorded),
            "{observed:?}"
        );
        assert_eq!(requests(before), expected, "{activity}");
    }
    let state = dynamo.get_sync_state("entra-1").await.unwrap().unwrap();
    assert_eq!(
        state.last_presence.map(|p| p.activity),
        Some(PresenceValue::new("Away")),
        "every decision written"
    );

    let before = sent.load(Ordering::Relaxed);
    let unknown = observe(&dynamo, judge, "entra-2", &seen("Away", "Away", 4))
        .await
        .unwrap();
    assert_eq!(unknown, Observed::UnlinkedUser);
    assert_eq!(requests(before), 1);
}

/// A Swyx event's link, switches and replay check are one DynamoDB request, linked or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swyx_events_reads_are_one_dynamodb_request() {
    let (dynamo, sent) = counted_dynamo("swyx-event").await;
    link_one(&dynamo).await;
    let now = Timestamp(1_767_225_600_000);
    for (swyx, linked) in [("swyx-1", true), ("swyx-2", false)] {
        let before = sent.load(Ordering::Relaxed);
        let read = dynamo
            .get_swyx_event_inputs(swyx, "swyx-event:msg-1", now)
            .await
            .unwrap();
        assert_eq!(read.link.is_some(), linked, "{swyx}");
        assert!(!read.replayed);
        assert_eq!(sent.load(Ordering::Relaxed) - before, 1, "{swyx}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_linking_on_dynamodb_costs_one_request_per_33_links() {
    let (dynamo, sent) = counted_dynamo("linking").await;
    let store = CountingStore::new(Arc::new(dynamo));
    let links: Vec<UserLink> = (0..USERS)
        .map(|i| UserLink {
            entra_id: format!("entra-{i:04}"),
            swyx_user_id: format!("swyx-{i:04}"),
            email: format!("user{i}@example.com"),
            groups: Vec::new(),
        })
        .collect();
    let before = sent.load(Ordering::Relaxed);
    for chunk in links.chunks(AUTOMATIC_LINKS_PER_REQUEST) {
        let refused = store
            .create_automatic_links(chunk, Timestamp(1_767_225_600_000))
            .await
            .unwrap();
        assert!(refused.is_empty(), "{refused:?}");
    }
    let requests = sent.load(Ordering::Relaxed) - before;
    eprintln!(
        "FIGURE DynamoDB automatic linking, {USERS} users: {} store calls, {requests} DynamoDB requests ({:.3}/user)",
        store.total(),
        requests as f64 / USERS as f64
    );
    assert_eq!(requests, USERS.div_ceil(AUTOMATIC_LINKS_PER_REQUEST) as u64);
    assert_eq!(
        store.total(),
        requests,
        "the counting store counts what DynamoDB receives"
    );
    assert_eq!(store.list_users().await.unwrap().len(), USERS);
    assert_eq!(store.list_link_marks().await.unwrap().len(), USERS);
}
