//! Graph's subscription validation handshake, answered before anything else (on AWS before the
//! function's app is built).

use crate::entry::http::{HttpRequest, HttpResponse, error, query_param, text};
use http::StatusCode;

/// Graph's opaque validation tokens are short; anything longer is not Graph.
const MAX_VALIDATION_TOKEN_LEN: usize = 8 * 1024;

/// Graph's subscription validation (`?validationToken=`, on either URL, GET or POST): echo the
/// token as text. Needs no app: a Lambda answers it before building one.
pub fn validation_handshake(req: &HttpRequest) -> Option<HttpResponse> {
    let token = query_param(req.uri(), "validationToken")?;
    if token.len() > MAX_VALIDATION_TOKEN_LEN {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "validationToken is too long",
        ));
    }
    tracing::info!(
        path = req.uri().path(),
        "answered a subscription validation request"
    );
    Some(text(StatusCode::OK, token))
}
