//! Users' own direction switches, one record per Swyx user.

use presence_bridge::domain::DirectionSwitches;
use presence_bridge::store::{Store, StoreError, UserSwitches};
use std::sync::Arc;

fn switches(swyx_user_id: &str, teams_to_swyx: Option<bool>, dnd: Option<bool>) -> UserSwitches {
    UserSwitches {
        swyx_user_id: swyx_user_id.to_string(),
        switches: DirectionSwitches {
            teams_to_swyx,
            swyx_to_teams: Some(false),
            swyx_status_to_teams: dnd,
        },
    }
}

pub async fn user_switches_replace_per_swyx_user_and_unset_ones_remove_the_record<
    S: Store + 'static,
>(
    store: Arc<S>,
) {
    assert!(store.list_switches().await.unwrap().is_empty());
    assert_eq!(store.get_switches("1001").await.unwrap(), None);
    let b = switches("zoë", Some(true), None);
    let a = switches("1001", Some(false), Some(true));
    store.put_switches(&b).await.unwrap();
    store.put_switches(&a).await.unwrap();
    assert_eq!(store.get_switches("1001").await.unwrap(), Some(a.clone()));
    assert_eq!(store.list_switches().await.unwrap(), vec![a, b.clone()]);
    let changed = switches("1001", None, Some(false));
    store.put_switches(&changed).await.unwrap();
    assert_eq!(store.get_switches("1001").await.unwrap(), Some(changed));
    // Every switch back to the configuration: no record is left.
    store
        .put_switches(&UserSwitches {
            swyx_user_id: "1001".into(),
            switches: DirectionSwitches::default(),
        })
        .await
        .unwrap();
    assert_eq!(store.get_switches("1001").await.unwrap(), None);
    assert_eq!(store.list_switches().await.unwrap(), vec![b]);
    let empty = store.put_switches(&switches("", None, None)).await;
    assert!(
        matches!(&empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );
}
