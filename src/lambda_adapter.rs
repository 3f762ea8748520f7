//! The thin seam between `lambda_http` and the framework-neutral handlers.

use crate::service::http_types::{HttpRequest, HttpResponse};
use bytes::Bytes;

pub fn request_from_lambda(req: lambda_http::Request) -> HttpRequest {
    let (parts, body) = req.into_parts();
    http::Request::from_parts(parts, Bytes::copy_from_slice(body.as_ref()))
}

pub fn response_to_lambda(resp: HttpResponse) -> lambda_http::Response<lambda_http::Body> {
    let (parts, body) = resp.into_parts();
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(s) => lambda_http::Body::Text(s),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}
