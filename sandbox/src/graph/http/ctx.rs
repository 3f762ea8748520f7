//! What every Graph handler holds: the tenant, the HTTP client for the validation handshake, and
//! a way to build the routes again (for the requests inside a `$batch`, without the batch
//! handler importing the route table that names it).

use std::sync::Arc;

use axum::Router;

use super::super::model::tenant::Tenant;

pub(crate) struct Ctx {
    pub tenant: Arc<Tenant>,
    pub http: reqwest::Client,
    pub routes: fn(Arc<Ctx>) -> Router,
}
