//! The one HTTP client of the bridge and the one way an answer is read.
//!
//! - **No redirects.** A followed redirect would carry the client secret (token requests), a
//!   refresh token, a bearer token or a connector signature to whatever host the answer names.
//!   A 3xx comes back as an answer like any other, and the caller refuses it.
//! - **rustls** (with aws-lc-rs), the only TLS stack compiled in, trusting the platform's roots
//!   (read on the first handshake) or a root store given ([`super::tls`]).
//! - **A connect timeout** on every connection; each request sets its own total timeout.
//! - **Answers read up to a cap.** A `Content-Length` above the cap is refused before a byte of
//!   the body is read; a body without one is read until the cap and then dropped, closing the
//!   connection.

use super::retry::{Failure, FailureKind, parse_retry_after};
pub use super::tls::Trust;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use std::time::{Duration, SystemTime};

/// Characters of an answer quoted in an error message at most.
const QUOTE_CHARS: usize = 200;

/// Why the client could not be built (never for outside data: a broken TLS provider or system).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TLS configuration")]
    Tls(#[source] rustls::Error),
    #[error("HTTP client")]
    Build(#[source] reqwest::Error),
}

/// The client every outbound call uses, trusting `trust`. Cheap to clone (clones share the
/// connection pool). Building it reads no file: the platform's roots are loaded on the first
/// HTTPS handshake ([`super::tls`]).
pub fn client(connect_timeout: Duration, trust: Trust) -> Result<reqwest::Client, ClientError> {
    let tls = super::tls::client_config(trust).map_err(ClientError::Tls)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("presence-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(ClientError::Build)
}

/// An answer the caller interprets: any status but 429 and 5xx, which are [`Failure`]s.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as a short single line, for error messages.
    pub fn quote(&self) -> String {
        quote(&self.body)
    }
}

/// Sends `request` with a total timeout (connection, request and the whole answer) and reads at
/// most `max_body` bytes of the answer. 429 and 5xx answers and transport errors come back as a
/// [`Failure`] for the retry policy; every other answer as it is.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_body: usize,
) -> Result<Answer, Failure> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(Failure::from_reqwest)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response, max_body).await?;
    let kind = match status {
        StatusCode::TOO_MANY_REQUESTS => FailureKind::Throttled,
        s if s.is_server_error() => FailureKind::Server(s.as_u16()),
        _ => {
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
    };
    Err(Failure {
        kind,
        retry_after: headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
        answer: Some(quote(&body)),
        source: None,
    })
}

/// The body of `response`, refused as soon as it is known to exceed `max` bytes.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Bytes, Failure> {
    let too_large = || Failure::new(FailureKind::TooLarge { limit: max });
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::from_reqwest)? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// At most [`QUOTE_CHARS`] characters of a body, control characters removed.
pub fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut printable = text.chars().filter(|c| !c.is_control());
    let mut out: String = printable.by_ref().take(QUOTE_CHARS).collect();
    if printable.next().is_some() {
        out.push('…');
    }
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_single_line() {
        let long = "x".repeat(500) + "\nsecond line";
        let q = quote(long.as_bytes());
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert!(q.ends_with('…'));
        assert!(!q.contains('\n'));
        assert_eq!(quote(b""), "(empty body)");
        assert_eq!(quote(b"busy\r\n"), "busy");
    }
}
