//! Automatic linking's marks: automatic links and exclusions, one per Swyx user.

use super::at;
use presence_bridge::store::{LinkMark, LinkMarkKind, Store, StoreError};
use std::sync::Arc;

fn mark(swyx_user_id: &str, kind: LinkMarkKind, offset_ms: i64) -> LinkMark {
    LinkMark {
        swyx_user_id: swyx_user_id.to_string(),
        kind,
        at: at(offset_ms),
    }
}

pub async fn link_marks_replace_per_swyx_user_and_list_in_order<S: Store + 'static>(store: Arc<S>) {
    assert!(store.list_link_marks().await.unwrap().is_empty());
    let auto = |e: &str| LinkMarkKind::Automatic {
        entra_id: e.to_string(),
    };
    let b = mark("Empfang, 2. OG", auto("e-2"), 2);
    let a = mark("1001", LinkMarkKind::Excluded, 1);
    let c = mark("zoë", auto("e-3"), 3);
    for m in [&c, &a, &b] {
        store.put_link_mark(m).await.unwrap();
    }
    assert_eq!(
        store.list_link_marks().await.unwrap(),
        vec![a.clone(), b.clone(), c.clone()]
    );
    // A new mark for the same Swyx user replaces the old one: excluded → automatic.
    let relinked = mark("1001", auto("e-1"), 4);
    store.put_link_mark(&relinked).await.unwrap();
    assert_eq!(
        store.list_link_marks().await.unwrap(),
        vec![relinked, b.clone(), c.clone()]
    );
    assert!(store.delete_link_mark("1001").await.unwrap());
    assert!(!store.delete_link_mark("1001").await.unwrap());
    assert_eq!(store.list_link_marks().await.unwrap(), vec![b, c]);
    let empty = store
        .put_link_mark(&mark("", LinkMarkKind::Excluded, 0))
        .await;
    assert!(
        matches!(&empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );
}
