//! Automatic linking's marks (automatic links and exclusions, one per Swyx user), and links
//! created with their mark.

use super::{at, link};
use presence_bridge::store::{LinkMark, LinkMarkKind, Store, StoreError, UserLink};
use std::sync::Arc;

fn mark(swyx_user_id: &str, kind: LinkMarkKind, offset_ms: i64) -> LinkMark {
    LinkMark {
        swyx_user_id: swyx_user_id.to_string(),
        kind,
        at: at(offset_ms),
    }
}

pub async fn link_marks_replace_per_swyx_user_and_list_in_order_whole_or_by_page<
    S: Store + 'static,
>(
    store: Arc<S>,
) {
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
    // Page by page: the same marks in the same order; a page may start after an unmarked id.
    let first = store.list_link_marks_after(None, 2).await.unwrap();
    assert_eq!(first, vec![a.clone(), b.clone()]);
    let rest = store
        .list_link_marks_after(Some(&first[1].swyx_user_id), 2)
        .await
        .unwrap();
    assert_eq!(rest, vec![c.clone()]);
    assert!(
        store
            .list_link_marks_after(Some("zoë"), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_link_marks_after(Some("2"), 5).await.unwrap(),
        vec![b.clone(), c.clone()]
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

pub async fn automatic_links_are_written_with_their_mark_unless_either_side_is_linked<
    S: Store + 'static,
>(
    store: Arc<S>,
) {
    // Already linked: an Entra user by hand, a Swyx user to someone else.
    store
        .put_user(&link("e-manual", "s-manual", "m@example.com"))
        .await
        .unwrap();
    store
        .put_user(&link("e-other", "s-taken", "o@example.com"))
        .await
        .unwrap();
    // More than one DynamoDB transaction's worth, with the refused ones in between.
    let mut wanted: Vec<UserLink> = (0..70)
        .map(|i| link(&format!("e-{i:03}"), &format!("s-{i:03}"), "u@example.com"))
        .collect();
    wanted.insert(10, link("e-manual", "s-new", "m@example.com"));
    wanted.insert(40, link("e-new", "s-taken", "n@example.com"));
    // Twice in one call: the first wins.
    wanted.push(link("e-005", "s-dup", "d@example.com"));
    let refused = store.create_automatic_links(&wanted, at(7)).await.unwrap();
    assert_eq!(refused, ["s-new", "s-taken", "s-dup"]);

    let users = store.list_users().await.unwrap();
    assert_eq!(users.len(), 72, "70 new links and the 2 held before");
    assert_eq!(
        store.get_user("e-007").await.unwrap(),
        Some(link("e-007", "s-007", "u@example.com"))
    );
    assert_eq!(
        store
            .get_user_by_swyx_id("s-taken")
            .await
            .unwrap()
            .unwrap()
            .entra_id,
        "e-other",
        "a link held before stays"
    );
    assert_eq!(store.get_user("e-new").await.unwrap(), None);
    let marks = store.list_link_marks().await.unwrap();
    assert_eq!(marks.len(), 70, "a mark for each link written, none else");
    assert_eq!(
        marks[7],
        mark(
            "s-007",
            LinkMarkKind::Automatic {
                entra_id: "e-007".into()
            },
            7
        )
    );

    // An empty id fails the call by name, and nothing of it is written.
    let bad = store
        .create_automatic_links(&[link("e-900", "s-900", ""), link("e-901", "", "")], at(8))
        .await;
    assert!(matches!(&bad, Err(StoreError::Invalid { .. })), "{bad:?}");
    assert_eq!(store.get_user("e-900").await.unwrap(), None);
    assert_eq!(store.list_link_marks().await.unwrap().len(), 70);
    assert_eq!(
        store.create_automatic_links(&[], at(9)).await.unwrap(),
        Vec::<String>::new()
    );
}
