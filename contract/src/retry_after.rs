//! `Retry-After` (RFC 9110 §10.2.3), which each side of the contract may send with a 503 or 429
//! (`infra/connector-openapi.yaml`: a delay in seconds, or an HTTP date). Only reading it is
//! shared: how long a side is willing to wait is its own policy, so callers cap what they get.

use http::HeaderMap;
use std::time::{Duration, SystemTime};

/// Delta-seconds or an HTTP-date in any of the three formats a recipient must accept (RFC 9110
/// §5.6.7); a date already past means no wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of an answer, if it has a readable one.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_all_three_http_date_formats() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:00 GMT").unwrap();
        let secs = |v| parse_retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(secs(" 7 "), Some(7));
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(37));
        assert_eq!(secs("Sunday, 06-Nov-94 08:49:37 GMT"), Some(37));
        assert_eq!(secs("Sun Nov  6 08:49:37 1994"), Some(37));
        assert_eq!(
            secs("Sun, 06 Nov 1994 08:00:00 GMT"),
            Some(0),
            "past: no wait"
        );
        assert_eq!(secs("soon"), None);
        assert_eq!(secs("-1"), None);
        assert_eq!(
            secs("18446744073709551615"),
            Some(u64::MAX),
            "the caller caps"
        );
    }

    #[test]
    fn retry_after_comes_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, SystemTime::UNIX_EPOCH), None);
        headers.insert(http::header::RETRY_AFTER, "5".parse().unwrap());
        assert_eq!(
            retry_after(&headers, SystemTime::UNIX_EPOCH),
            Some(Duration::from_secs(5))
        );
    }
}
