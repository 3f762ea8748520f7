//! `GET /v1/users`: the directory, one page at a time in `swyxUserId` order, each user with the
//! Teams-derived status the connector holds (the bridge reconciles against it) and the speaking
//! period open now (1.2; the store's, which is written with the event in one transaction, so an
//! event the bridge received is always in a list asked for after it). `speaking=true` lists only
//! the users speaking now, marked `speakingOnly`: the bridge asks that at every maintenance pass.

use super::status_slot::held;
use super::{ApiError, ApiState};
use crate::directory::DirectoryUser;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use std::sync::Arc;
use swyx_contract::wire::{
    SPEAKING_QUERY, SwyxDirectoryUser, SwyxUserList, USER_PAGE_DEFAULT, USER_PAGE_MAX,
};

pub async fn list(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<axum::Json<SwyxUserList>, ApiError> {
    state.admission.verify(&headers, &body)?;
    let q = parse_query(query.as_deref().unwrap_or(""))?;
    let snapshot = state.directory.current();
    let open = state
        .store
        .open_calls()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let speaking = |id: &str| Some(open.get(id).into_iter().cloned().collect::<Vec<_>>());
    let (page, more): (Vec<&DirectoryUser>, bool) = if q.speaking_only {
        // The users speaking now that the directory lists, in id order after the cursor.
        let after = q.cursor.as_deref();
        let mut found = open
            .keys()
            .filter(|id| after.is_none_or(|a| id.as_str() > a))
            .filter_map(|id| snapshot.get(id));
        let page: Vec<_> = found.by_ref().take(q.limit).collect();
        (page, found.next().is_some())
    } else {
        let (page, more) = snapshot.page(q.cursor.as_deref(), q.limit);
        (page.iter().collect(), more)
    };
    let mut users = Vec::with_capacity(page.len());
    for u in page {
        users.push(SwyxDirectoryUser {
            swyx_user_id: u.swyx_user_id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            groups: u.groups.clone(),
            teams_status: Some(held(&state, &u.swyx_user_id)?),
            speaking: speaking(&u.swyx_user_id),
        });
    }
    let next_cursor = if more {
        users.last().map(|u| u.swyx_user_id.clone())
    } else {
        None
    };
    Ok(axum::Json(SwyxUserList {
        users,
        next_cursor,
        speaking_only: q.speaking_only,
    }))
}

#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    cursor: Option<String>,
    limit: usize,
    /// `speaking=true`: only the users speaking now.
    speaking_only: bool,
}

fn parse_query(q: &str) -> Result<ListQuery, ApiError> {
    let mut cursor = None;
    let mut limit = USER_PAGE_DEFAULT;
    let mut speaking_only = false;
    for (k, v) in form_pairs(q) {
        match k.as_str() {
            "cursor" => {
                if v.is_empty() || v.chars().count() > 1024 {
                    return Err(ApiError::BadRequest(
                        "cursor must be 1 to 1024 characters".into(),
                    ));
                }
                cursor = Some(v);
            }
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=USER_PAGE_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "limit must be a number from 1 to {USER_PAGE_MAX}"
                        ))
                    })?;
            }
            SPEAKING_QUERY => {
                speaking_only = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::BadRequest(
                            "speaking must be true or false".into(),
                        ));
                    }
                };
            }
            _ => {}
        }
    }
    Ok(ListQuery {
        cursor,
        limit,
        speaking_only,
    })
}

/// `a=1&b=x%20y` → pairs, percent- and plus-decoded (serde_urlencoded's rules, by hand: one
/// function does not justify another dependency).
fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi * 16 + lo);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_checked_and_decoded() {
        let q = |cursor: Option<&str>, limit, speaking_only| ListQuery {
            cursor: cursor.map(str::to_string),
            limit,
            speaking_only,
        };
        assert_eq!(parse_query("").unwrap(), q(None, USER_PAGE_DEFAULT, false));
        assert_eq!(
            parse_query("cursor=a%2Fb&limit=2&speaking=true").unwrap(),
            q(Some("a/b"), 2, true)
        );
        assert!(parse_query("speaking=yes").is_err());
        assert!(parse_query("limit=0").is_err());
        assert!(parse_query("limit=1001").is_err());
        assert!(parse_query("limit=x").is_err());
        assert!(parse_query("cursor=").is_err());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
