use super::*;
use crate::domain::Timestamp;

const TENANT: &str = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93";

fn subscription() -> SubscriptionRecord {
    SubscriptionRecord {
        id: "sub-1".into(),
        client_state: "s3cret-state".into(),
        expires_at: Timestamp(0),
        account: None,
        resource: String::new(),
        encryption_certificate_id: None,
        renewed_at: None,
    }
}

fn known() -> HashMap<String, SubscriptionRecord> {
    HashMap::from([("sub-1".to_string(), subscription())])
}

fn lifecycle(client_state: &str, tenant: &str) -> ChangeNotification {
    serde_json::from_value(serde_json::json!({
        "subscriptionId": "sub-1",
        "clientState": client_state,
        "tenantId": tenant,
        "lifecycleEvent": "reauthorizationRequired",
    }))
    .unwrap()
}

fn check<'a>(
    item: &'a ChangeNotification,
    vouched: &VouchedTenants,
) -> Result<Authentic<'a>, NotAuthentic> {
    authenticate(item, &known(), TENANT, vouched, &NotificationKeys::new())
}

#[test]
fn a_lifecycle_item_of_our_subscription_and_tenant_is_authentic() {
    let item = lifecycle("s3cret-state", &TENANT.to_uppercase());
    let vouched = VouchedTenants(Some(vec![TENANT.into()]));
    match check(&item, &vouched) {
        Ok(Authentic::Lifecycle {
            subscription_id,
            event,
        }) => assert_eq!(
            (subscription_id, event),
            ("sub-1", LifecycleEvent::ReauthorizationRequired)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_failed_check_is_named() {
    let none = VouchedTenants(None);
    let other_tenant = "0f0e0d0c-0b0a-4908-8706-050403020100";
    let item = lifecycle("s3cret-state", TENANT);
    let unknown = authenticate(
        &item,
        &HashMap::new(),
        TENANT,
        &none,
        &NotificationKeys::new(),
    );
    assert!(matches!(unknown, Err(NotAuthentic::UnknownSubscription)));
    let forged = lifecycle("s3cret-statf", TENANT);
    assert!(matches!(
        check(&forged, &none),
        Err(NotAuthentic::ClientStateMismatch)
    ));
    let elsewhere = lifecycle("s3cret-state", other_tenant);
    assert!(matches!(
        check(&elsewhere, &none),
        Err(NotAuthentic::WrongTenant)
    ));
    // Our tenant, but the tokens vouched for another one only.
    let vouched_other = VouchedTenants(Some(vec![other_tenant.into()]));
    assert!(matches!(
        check(&item, &vouched_other),
        Err(NotAuthentic::WrongTenant)
    ));
    let mut plain = lifecycle("s3cret-state", TENANT);
    plain.lifecycle_event = None;
    assert!(matches!(check(&plain, &none), Err(NotAuthentic::NotRich)));
    let mut no_state = lifecycle("s3cret-state", TENANT);
    no_state.client_state = None;
    assert!(matches!(
        check(&no_state, &none),
        Err(NotAuthentic::MissingField("clientState"))
    ));
}

#[test]
fn implausible_items_fail_before_the_store_is_needed() {
    let none = VouchedTenants(None);
    let long = "x".repeat(129);
    for (state, sub) in [
        ("", "sub-1"),
        (long.as_str(), "sub-1"),
        ("with space", "sub-1"),
        ("s3cret-state", long.as_str()),
        ("s3cret-state", ""),
    ] {
        let mut item = lifecycle(state, TENANT);
        item.subscription_id = Some(sub.to_string());
        assert!(
            matches!(
                screen(&item, TENANT, &none),
                Err(NotAuthentic::Implausible(_))
            ),
            "{state:?} {sub:?}"
        );
    }
    // A well-formed item passes the screen whatever its subscription: that is the store's.
    let mut stranger = lifecycle(&"a".repeat(64), TENANT);
    stranger.subscription_id = Some("7f105c7d-2dc5-4530-97cd-4e7ae6534c07".into());
    assert!(screen(&stranger, TENANT, &none).is_ok());
}

#[test]
fn only_the_lifecycle_events_graph_documents_are_accepted() {
    let none = VouchedTenants(None);
    for name in ["reauthorizationRequired", "subscriptionRemoved", "missed"] {
        let mut item = lifecycle("s3cret-state", TENANT);
        item.lifecycle_event = Some(name.into());
        match check(&item, &none) {
            Ok(Authentic::Lifecycle { event, .. }) => assert_eq!(event.name(), name),
            other => panic!("{name}: {other:?}"),
        }
    }
    for name in [
        "ReauthorizationRequired",
        " missed",
        "missedx",
        "",
        "renewalRequired",
    ] {
        let mut item = lifecycle("s3cret-state", TENANT);
        item.lifecycle_event = Some(name.into());
        assert!(
            matches!(
                screen(&item, TENANT, &none),
                Err(NotAuthentic::UnknownLifecycleEvent)
            ),
            "{name:?}"
        );
    }
}
