//! Framework-neutral HTTP: the webhook handlers take an `http::Request<Bytes>` and give an
//! `http::Response<Bytes>`, so the Lambda entry points and the self-hosted server share them.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

pub type HttpRequest = http::Request<Bytes>;
pub type HttpResponse = Response<Bytes>;

pub fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    let mut r = Response::new(Bytes::from(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// An error answer: `{"error": "..."}` with the given status.
pub fn error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    let body = serde_json::json!({ "error": message.into() }).to_string();
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// 405 for a route that takes POST alone, with the `Allow` header RFC 9110 §15.5.6 requires of
/// it; `hint` says who POSTs there.
pub fn post_only(method: &http::Method, hint: &str) -> HttpResponse {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed: {hint}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> HttpResponse {
    let mut r = Response::new(Bytes::from(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn empty(status: StatusCode) -> HttpResponse {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = status;
    r
}

/// The first value of `key` in the query string, percent-decoded (`+` as space, as form encoding).
pub fn query_param(uri: &http::Uri, key: &str) -> Option<String> {
    let query = uri.query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'%' => return None,
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let uri: http::Uri =
            "/graph/notifications?a=1&validationToken=Validation%3A%20Testing+client%20app"
                .parse()
                .unwrap();
        assert_eq!(
            query_param(&uri, "validationToken").as_deref(),
            Some("Validation: Testing client app")
        );
        assert_eq!(query_param(&uri, "a").as_deref(), Some("1"));
        assert_eq!(query_param(&uri, "b"), None);
        let bad: http::Uri = "/x?validationToken=%zz".parse().unwrap();
        assert_eq!(query_param(&bad, "validationToken"), None);
        let trailing: http::Uri = "/x?validationToken=ab%2".parse().unwrap();
        assert_eq!(query_param(&trailing, "validationToken"), None);
    }
}
