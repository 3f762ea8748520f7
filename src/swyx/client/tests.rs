use super::*;

fn client(base: &str) -> ConnectorClient {
    let s = ConnectorSettings::new(base, WebhookSecret::generate());
    ConnectorClient::new(s, reqwest::Client::new())
}

#[test]
fn urls_keep_the_prefix_and_encode_the_user_id() {
    let c = client("http://127.0.0.1:8081/swyx/");
    let u = c.url(&["v1", "users", "a b?", "teams-status"]).unwrap();
    assert_eq!(
        u.as_str(),
        "http://127.0.0.1:8081/swyx/v1/users/a%20b%3F/teams-status"
    );
    let c = client("http://127.0.0.1:8081");
    assert_eq!(
        c.url(&["v1", "users"]).unwrap().as_str(),
        "http://127.0.0.1:8081/v1/users"
    );
}

#[test]
fn a_cursor_is_percent_encoded_with_a_space_as_percent_20() {
    let c = client("http://127.0.0.1:8081/swyx/");
    let u = c
        .users_page_url(&[("speaking", "true")], Some("Doe, Jane+1/2&x=é"))
        .unwrap();
    assert_eq!(
        u.query(),
        Some("limit=1000&speaking=true&cursor=Doe%2C%20Jane%2B1%2F2%26x%3D%C3%A9")
    );
    assert_eq!(u.path(), "/swyx/v1/users");
    let first = c.users_page_url(&[], None).unwrap();
    assert_eq!(
        first.as_str(),
        "http://127.0.0.1:8081/swyx/v1/users?limit=1000"
    );
}

#[tokio::test]
async fn bad_base_urls_and_user_ids_are_not_sent() {
    for bad in ["not a url", "ftp://x/", "http://x/?a=1"] {
        let err = client(bad).url(&["v1"]).unwrap_err();
        assert!(
            matches!(err, ConnectorError::NotSent { ref problem, .. } if problem.contains("base_url")),
            "{bad}: {err}"
        );
    }
    // Nothing listens on port 9: a request that were sent would fail differently.
    let c = client("http://127.0.0.1:9/");
    for (id, why) in [
        ("", "empty"),
        ("..", "\"..\""),
        (".", "\".\""),
        ("a/b", "'/'"),
    ] {
        let update = SwyxUpdate {
            swyx_user_id: id.into(),
            entra_id: "e".into(),
            action: crate::domain::SwyxAction::Withdraw,
            revision: 1,
            availability: crate::domain::PresenceValue::new("Offline"),
            activity: crate::domain::PresenceValue::new("Offline"),
            out_of_office: false,
            observed_at: Timestamp::from_secs(0),
        };
        let err = c
            .send_update(&update, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConnectorError::NotSent {
                    source: Some(_),
                    ..
                }
            ),
            "{id:?}: {err}"
        );
        assert!(err.to_string().contains(why), "{id:?}: {err}");
        assert!(!err.is_transient());
    }
}
