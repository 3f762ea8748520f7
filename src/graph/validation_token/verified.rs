//! Tokens whose signature verified, remembered: Graph sends the same validation token with every
//! collection for an app and tenant until it nears expiry, and each verification is an RSA
//! operation, about a tenth of what a one-item notification costs in all. Only the exact token
//! text that verified is recognised, only while the JWKS still has a key of its `kid`, and its
//! claims (expiry first) are checked again on every use.

use super::Claims;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tokens remembered at most; Graph uses one per app and tenant at a time. A flood of distinct
/// valid tokens only makes the cache start over.
const MAX_TOKENS: usize = 32;

#[derive(Default)]
pub(super) struct Verified {
    claims: Mutex<HashMap<String, Arc<Claims>>>,
}

impl Verified {
    /// The claims of `token` if its signature verified before.
    pub(super) fn get(&self, token: &str) -> Option<Arc<Claims>> {
        let claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        claims.get(token).cloned()
    }

    /// Remembers `token`, whose signature just verified.
    pub(super) fn insert(&self, token: &str, claims: Arc<Claims>) {
        let mut all = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_TOKENS {
            all.clear();
        }
        all.insert(token.to_string(), claims);
    }
}
