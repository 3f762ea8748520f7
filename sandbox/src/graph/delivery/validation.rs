//! The validation handshake Graph makes to every notification URL before it creates or changes
//! anything (<https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks>):
//! POST `?validationToken=…` (text/plain); the endpoint must answer 200 `text/plain` with the
//! decoded token within 10 s.

use http::{StatusCode, header};

use super::super::model::tenant::Tenant;

/// `Err` holds Graph's message for the 400 answer.
pub(crate) async fn validate_endpoint(
    tenant: &Tenant,
    http: &reqwest::Client,
    url: &str,
) -> Result<(), String> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let mut target = reqwest::Url::parse(url).map_err(|_| format!("'{url}' is not a URL"))?;
    target
        .query_pairs_mut()
        .append_pair("validationToken", &token);
    tenant.bump(|s| s.validation_requests += 1);
    let failed = |why: &str| format!("Subscription validation request failed. {why}");
    let answer = http
        .post(target)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(tenant.timing().validation_timeout)
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Err(failed(
                "Notification endpoint must respond with 200 OK to validation request within 10 seconds.",
            ));
        }
        Err(_) => return Err(failed("Notification endpoint is unreachable.")),
    };
    if response.status() != StatusCode::OK {
        return Err(failed(&format!(
            "Notification endpoint must respond with 200 OK to validation request (got {}).",
            response.status().as_u16()
        )));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response
        .text()
        .await
        .map_err(|_| failed("The response body could not be read."))?;
    if !content_type.to_ascii_lowercase().starts_with("text/plain") {
        return Err(failed("Response must have Content-Type text/plain."));
    }
    if text != token {
        return Err(failed(
            "Response must exactly match validationToken query parameter.",
        ));
    }
    Ok(())
}
