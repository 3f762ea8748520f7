use super::*;
use bytes::Bytes;
use http::HeaderMap;

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
    }
}

#[test]
fn durations_and_paths_are_graph_shaped() {
    assert_eq!(iso_minutes(Duration::from_secs(300)), "PT5M");
    assert_eq!(iso_minutes(Duration::from_secs(60)), "PT5M");
    assert_eq!(iso_minutes(Duration::from_secs(86_400)), "PT240M");
    assert_eq!(path_segment("a/b c#d@x.de").unwrap(), "a%2Fb%20c%23d@x.de");
    for bad in ["", ".", ".."] {
        assert!(matches!(
            path_segment(bad),
            Err(GraphError::InvalidRequest(_))
        ));
    }
    assert_eq!(
        error_message(&answer(
            404,
            r#"{"error":{"code":"NotFound","message":"no session"}}"#
        )),
        "NotFound: no session"
    );
    assert!(error_message(&answer(302, "")).contains("redirect"));
}

#[test]
fn creating_a_subscription_may_take_two_validations_of_ten_seconds() {
    let t = GraphTimeouts::default();
    assert!(t.subscription_write > Duration::from_secs(20), "{t:?}");
    assert!(t.presence_write < t.presence_read);
}
