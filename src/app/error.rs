//! Why the app could not be built from a valid configuration: a secret that cannot be read, a key
//! or certificate that is not what the setting says, a store that does not open. Each variant
//! names the setting the operator must look at and keeps the error underneath as its source.

use super::certificate::CertificateError;
use super::secrets::SecretError;
use crate::domain::RulesError;
use crate::graph::crypto::KeyError;
use crate::graph::sealed::SealError;
use crate::store::StoreError;
use crate::swyx::signature::SignatureError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A secret reference (`file:`, ARN) could not be resolved.
    #[error("{setting}")]
    Secret {
        setting: String,
        #[source]
        source: SecretError,
    },
    /// A notification private key is not a usable RSA key.
    #[error("graph.encryption_keys: key {certificate_id:?}")]
    EncryptionKey {
        certificate_id: String,
        #[source]
        source: KeyError,
    },
    /// A connector secret is not a Standard Webhooks secret.
    #[error("{setting}")]
    WebhookSecret {
        setting: String,
        #[source]
        source: SignatureError,
    },
    #[error("mapping.rules_file")]
    Rules(#[source] RulesError),
    #[error("mapping.override")]
    RuleOverride(#[source] RulesError),
    /// A part of the bridge is configured without a setting it cannot work without.
    #[error("{setting}: missing ({why})")]
    Missing {
        setting: &'static str,
        why: &'static str,
    },
    #[error("accounts.token_key")]
    TokenKey(#[source] SealError),
    #[error("subscriptions.certificate")]
    Certificate(#[source] CertificateError),
    #[error("store.sqlite_path {}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("HTTP client")]
    HttpClient(#[source] crate::outbound::http::ClientError),
    #[error("trusted roots of the HTTPS clients")]
    TrustedRoots(#[source] crate::outbound::trusted_roots::RootsError),
}

impl StartupError {
    pub(super) fn secret(setting: impl Into<String>) -> impl FnOnce(SecretError) -> Self {
        let setting = setting.into();
        move |source| StartupError::Secret { setting, source }
    }

    pub(super) fn webhook_secret(
        setting: impl Into<String>,
    ) -> impl FnOnce(SignatureError) -> Self {
        let setting = setting.into();
        move |source| StartupError::WebhookSecret { setting, source }
    }
}
