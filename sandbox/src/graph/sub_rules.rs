//! The rules a presence subscription must pass (research §2–3): resource syntax and the 650-user
//! limit, the 45–60 minute life, field limits, the encryption certificate, and the validation
//! handshake Graph makes to every notification URL before it creates anything.

use std::sync::Arc;

use http::{StatusCode, header};

use super::crypto::{EncryptionCert, parse_encryption_certificate};
use super::routes::ApiError;
use super::state::Shared;

pub(crate) const MIN_LIFE_MS: i64 = 45 * 60_000;
pub(crate) const MAX_LIFE_MS: i64 = 60 * 60_000;
pub(crate) const MAX_USERS: usize = 650;

pub(crate) struct SubscriptionCert {
    pub cert: EncryptionCert,
    pub id: String,
    /// As the client sent it; Graph echoes it.
    pub base64: String,
}

/// The user ids of a presence resource: `communications/presences/{id}` or
/// `communications/presences?$filter=id in ('a','b',…)`, with or without a leading slash.
pub(crate) fn parse_resource(resource: &str) -> Result<Vec<String>, String> {
    let r = resource.trim().trim_start_matches('/');
    let unsupported = || {
        format!(
            "Unsupported resource '{resource}': expected communications/presences/{{id}} or communications/presences?$filter=id in ('…')"
        )
    };
    let ids: Vec<String> = if let Some(filter) = r.strip_prefix("communications/presences?$filter=")
    {
        let list = filter.trim();
        let inner = list
            .strip_prefix("id in (")
            .or_else(|| list.strip_prefix("id in("))
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(unsupported)?;
        inner
            .split(',')
            .map(|item| {
                let item = item.trim();
                item.strip_prefix('\'')
                    .and_then(|i| i.strip_suffix('\''))
                    .filter(|i| !i.is_empty() && !i.contains('\''))
                    .map(str::to_owned)
                    .ok_or_else(|| format!("Invalid id {item} in the $filter of '{resource}': ids are quoted like 'id'"))
            })
            .collect::<Result<_, _>>()?
    } else if let Some(id) = r.strip_prefix("communications/presences/") {
        if id.is_empty() || id.contains(['/', '?', '\'']) {
            return Err(unsupported());
        }
        vec![id.to_owned()]
    } else {
        return Err(unsupported());
    };
    let mut distinct: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !distinct.contains(&id) {
            distinct.push(id);
        }
    }
    if distinct.len() > MAX_USERS {
        return Err(format!(
            "The resource lists {} distinct users; at most {MAX_USERS} are allowed per subscription",
            distinct.len()
        ));
    }
    Ok(distinct)
}

pub(crate) fn parse_expiry(value: &str, now_ms: i64) -> Result<i64, ApiError> {
    let dt = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            ApiError::bad_request(format!(
                "expirationDateTime '{value}' is not an ISO 8601 date-time"
            ))
        })?;
    let ms = (dt.unix_timestamp_nanos() / 1_000_000) as i64;
    if ms > now_ms + MAX_LIFE_MS {
        return Err(ApiError::bad_request(
            "Subscription expiration can only be 60 minutes in the future for resource communications/presences.",
        ));
    }
    // Graph silently raises anything shorter to the 45-minute minimum.
    Ok(ms.max(now_ms + MIN_LIFE_MS))
}

pub(crate) fn check_len(name: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::bad_request(format!(
            "{name} is longer than {max} characters"
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn parse_cert(
    cert: Option<&str>,
    id: Option<&str>,
) -> Result<Option<SubscriptionCert>, ApiError> {
    match (cert, id) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(ApiError::bad_request(
            "encryptionCertificate and encryptionCertificateId must be given together",
        )),
        (Some(c), Some(id)) => {
            check_len("encryptionCertificateId", Some(id), 128)?;
            let cert = parse_encryption_certificate(c).map_err(ApiError::bad_request)?;
            Ok(Some(SubscriptionCert {
                cert,
                id: id.to_owned(),
                base64: c.to_owned(),
            }))
        }
    }
}

pub(crate) fn require<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
}

pub(crate) fn check_url(name: &str, url: &str) -> Result<(), ApiError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        _ => Err(ApiError::bad_request(format!(
            "{name} '{url}' is not an absolute https URL"
        ))),
    }
}

/// The handshake: POST `?validationToken=…` (text/plain); the endpoint must answer 200 text/plain
/// with the decoded token within the validation timeout (10 s, like Graph).
pub(crate) async fn validate_endpoint(shared: &Arc<Shared>, url: &str) -> Result<(), ApiError> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let mut target = reqwest::Url::parse(url)
        .map_err(|_| ApiError::bad_request(format!("'{url}' is not a URL")))?;
    target
        .query_pairs_mut()
        .append_pair("validationToken", &token);
    shared.bump(|s| s.validation_requests += 1);
    let failed =
        |why: &str| ApiError::bad_request(format!("Subscription validation request failed. {why}"));
    let answer = shared
        .http
        .post(target)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(shared.timing().validation_timeout)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_in_every_spelling() {
        assert_eq!(
            parse_resource("communications/presences/u1").unwrap(),
            ["u1"]
        );
        assert_eq!(
            parse_resource("/communications/presences/u1").unwrap(),
            ["u1"]
        );
        assert_eq!(
            parse_resource("/communications/presences?$filter=id in ('a', 'b','a')").unwrap(),
            ["a", "b"],
            "duplicates count once"
        );
        assert!(
            parse_resource("communications/presences?$filter=id in (a)")
                .unwrap_err()
                .contains("quoted")
        );
        assert!(
            parse_resource("users/u1/presence")
                .unwrap_err()
                .contains("Unsupported")
        );
        let ids: Vec<String> = (0..651).map(|i| format!("'{i}'")).collect();
        let many = format!("communications/presences?$filter=id in ({})", ids.join(","));
        assert!(parse_resource(&many).unwrap_err().contains("650"));
    }

    #[test]
    fn expiry_is_raised_to_45_minutes_and_capped_at_60() {
        let now = 1_694_685_600_000; // 2023-09-14T10:00:00Z
        assert_eq!(
            parse_expiry("2023-09-14T10:10:00.0000000Z", now).unwrap(),
            now + MIN_LIFE_MS
        );
        assert_eq!(
            parse_expiry("2023-09-14T10:50:00Z", now).unwrap(),
            now + 50 * 60_000
        );
        assert_eq!(
            parse_expiry("2023-09-14T11:00:00Z", now).unwrap(),
            now + MAX_LIFE_MS
        );
        assert_eq!(
            parse_expiry("2023-09-14T11:00:01Z", now)
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert!(
            parse_expiry("tomorrow", now)
                .unwrap_err()
                .message
                .contains("tomorrow")
        );
    }
}
