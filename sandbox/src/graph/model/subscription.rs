//! Presence subscriptions and the rules they must pass
//! (<https://learn.microsoft.com/en-us/graph/changenotifications-for-presence>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/subscription?view=graph-rest-1.0>):
//! resource syntax and the 650-user limit, the 45–60 minute life, field limits, the encryption
//! certificate; and the live subscriptions with an index from user to subscriptions, so a
//! presence change finds its subscriptions without looking at all of them.

use std::collections::{HashMap, HashSet};

use super::super::crypto::{EncryptionCertificate, parse_encryption_certificate};

pub(crate) const MIN_LIFE_MS: i64 = 45 * 60_000;
pub(crate) const MAX_LIFE_MS: i64 = 60 * 60_000;
pub(crate) const MAX_USERS: usize = 650;

pub(crate) struct SubscriptionCert {
    pub cert: EncryptionCertificate,
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
    let mut seen = HashSet::with_capacity(ids.len());
    let distinct: Vec<String> = ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    if distinct.len() > MAX_USERS {
        return Err(format!(
            "The resource lists {} distinct users; at most {MAX_USERS} are allowed per subscription",
            distinct.len()
        ));
    }
    Ok(distinct)
}

pub(crate) fn parse_expiry(value: &str, now_ms: i64) -> Result<i64, String> {
    let dt = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("expirationDateTime '{value}' is not an ISO 8601 date-time"))?;
    let ms = (dt.unix_timestamp_nanos() / 1_000_000) as i64;
    if ms > now_ms + MAX_LIFE_MS {
        return Err("Subscription expiration can only be 60 minutes in the future for resource communications/presences.".to_owned());
    }
    // Graph silently raises anything shorter to the 45-minute minimum.
    Ok(ms.max(now_ms + MIN_LIFE_MS))
}

pub(crate) fn check_len(name: &str, value: Option<&str>, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(format!("{name} is longer than {max} characters"))
        }
        _ => Ok(()),
    }
}

pub(crate) fn parse_cert(
    cert: Option<&str>,
    id: Option<&str>,
) -> Result<Option<SubscriptionCert>, String> {
    match (cert, id) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(
            "encryptionCertificate and encryptionCertificateId must be given together".to_owned(),
        ),
        (Some(c), Some(id)) => {
            check_len("encryptionCertificateId", Some(id), 128)?;
            let cert = parse_encryption_certificate(c)?;
            Ok(Some(SubscriptionCert {
                cert,
                id: id.to_owned(),
                base64: c.to_owned(),
            }))
        }
    }
}

pub(crate) fn require<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is required"))
}

/// Absolute http(s); Graph insists on https, the sandbox also takes http for loopback receivers.
pub(crate) fn check_url(name: &str, url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        _ => Err(format!("{name} '{url}' is not an absolute https URL")),
    }
}

/// One live subscription. No `Debug`: it holds the client state.
pub(crate) struct Subscription {
    pub id: String,
    pub resource: String,
    pub user_ids: Vec<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub expires_ms: i64,
    pub client_state: Option<String>,
    pub include_resource_data: bool,
    pub cert: Option<SubscriptionCert>,
    pub creator_id: String,
    pub notifications_queued: u64,
    pub notifications_delivered: u64,
    pub lifecycle_queued: u64,
}

/// The live subscriptions, with the user → subscription ids index kept in step.
#[derive(Default)]
pub(crate) struct Subscriptions {
    by_id: HashMap<String, Subscription>,
    by_user: HashMap<String, Vec<String>>,
}

impl Subscriptions {
    pub fn get(&self, id: &str) -> Option<&Subscription> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Subscription> {
        self.by_id.get_mut(id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Subscription> {
        self.by_id.values()
    }

    pub fn insert(&mut self, sub: Subscription) {
        for user in &sub.user_ids {
            self.by_user
                .entry(user.clone())
                .or_default()
                .push(sub.id.clone());
        }
        self.by_id.insert(sub.id.clone(), sub);
    }

    pub fn remove(&mut self, id: &str) -> Option<Subscription> {
        let sub = self.by_id.remove(id)?;
        for user in &sub.user_ids {
            if let Some(ids) = self.by_user.get_mut(user) {
                ids.retain(|s| s != id);
                if ids.is_empty() {
                    self.by_user.remove(user);
                }
            }
        }
        Some(sub)
    }

    /// The ids of the subscriptions covering `user_id`.
    pub fn covering(&self, user_id: &str) -> &[String] {
        self.by_user.get(user_id).map_or(&[], Vec::as_slice)
    }

    /// The subscription `creator` already has (one per app and delegated user).
    pub fn of_creator(&self, creator: &str) -> Option<&Subscription> {
        self.by_id.values().find(|s| s.creator_id == creator)
    }

    /// Removes the subscriptions that expired at `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let due: Vec<String> = self
            .by_id
            .values()
            .filter(|s| s.expires_ms <= now_ms)
            .map(|s| s.id.clone())
            .collect();
        for id in due {
            self.remove(&id);
        }
    }
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
        assert!(
            parse_expiry("2023-09-14T11:00:01Z", now)
                .unwrap_err()
                .contains("60 minutes")
        );
        assert!(
            parse_expiry("tomorrow", now)
                .unwrap_err()
                .contains("tomorrow")
        );
    }
}
