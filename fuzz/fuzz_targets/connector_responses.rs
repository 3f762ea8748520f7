//! Answers of the Swyx connector the bridge reads: a `GET /v1/users` page (parsed, read back the
//! same after serialising, its held statuses mapped) and any other answer quoted in an error.
//! Input: a byte choosing which, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swyx_contract::wire::SwyxUserList;

fuzz_target!(|data: &[u8]| {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        // As ConnectorClient::list_users reads a page.
        let Ok(page) = serde_json::from_slice::<SwyxUserList>(body) else {
            return;
        };
        let again = serde_json::to_vec(&page).unwrap();
        assert_eq!(
            serde_json::from_slice::<SwyxUserList>(&again).unwrap(),
            page
        );
        for user in &page.users {
            if let Some(held) = &user.teams_status {
                let _ = held.status.map(presence_bridge::swyx::wire::from_wire);
            }
        }
    } else {
        let quoted = presence_bridge::outbound::http::quote(body);
        assert!(!quoted.is_empty());
        assert!(!quoted.chars().any(char::is_control));
        assert!(quoted.chars().count() <= 201);
    }
});
