//! Secret references resolved once per process: literal values, `file:` paths and AWS Secrets
//! Manager ARNs (a function's ARNs in one `BatchGetSecretValue`, on one AWS configuration).

use super::aws::AwsSource;
use crate::config::SecretRef;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use std::path::PathBuf;

/// Why a secret reference could not be resolved. Names where the secret lives, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read secret {arn}")]
    SecretsManager {
        arn: String,
        #[source]
        source: Box<SdkError<GetSecretValueError>>,
    },
    #[error("secret {arn} has no string value")]
    NotText { arn: String },
}

/// `BatchGetSecretValue` takes at most 20 secret ids per call.
const BATCH_MAX_IDS: usize = 20;

/// Resolves secret references; the AWS configuration and the Secrets Manager client are made on
/// first use only, and [`SecretResolver::prefetch`] reads many ARNs in one round trip.
pub struct SecretResolver {
    pub(super) aws: Option<aws_config::SdkConfig>,
    /// Where the AWS configuration comes from when the store brought none.
    source: AwsSource,
    secrets_manager: Option<aws_sdk_secretsmanager::Client>,
    fetched: std::collections::HashMap<String, String>,
}

/// `serve`'s and the CLI's: the SDK's default chains.
impl Default for SecretResolver {
    fn default() -> Self {
        Self::new(None, AwsSource::default_chains())
    }
}

impl SecretResolver {
    /// A resolver on `aws` when given, else on the configuration `source` gives.
    pub(super) fn new(aws: Option<aws_config::SdkConfig>, source: AwsSource) -> Self {
        Self {
            aws,
            source,
            secrets_manager: None,
            fetched: Default::default(),
        }
    }

    pub async fn aws_config(&mut self) -> &aws_config::SdkConfig {
        let conf = match self.aws.take() {
            Some(c) => c,
            None => self.source.load(None).await,
        };
        self.aws.insert(conf)
    }

    /// Reads every Secrets Manager ARN among `refs` in one `BatchGetSecretValue` round trip (at
    /// most 20 ids per call, far more than a function uses). A secret the batch does not return is
    /// left out and read again by [`SecretResolver::resolve`], which reports it with the setting's
    /// name.
    pub async fn prefetch(&mut self, refs: &[&SecretRef]) {
        let arns: std::collections::BTreeSet<&str> = refs
            .iter()
            .filter_map(|r| match r {
                SecretRef::SecretsManager(arn) => Some(arn.as_str()),
                _ => None,
            })
            .collect();
        if arns.is_empty() {
            return;
        }
        let client = self.client().await;
        let arns: Vec<String> = arns.into_iter().map(str::to_string).collect();
        for chunk in arns.chunks(BATCH_MAX_IDS) {
            let Ok(out) = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.to_vec()))
                .send()
                .await
            else {
                continue; // each is read alone by `resolve`, which names the failure
            };
            for value in out.secret_values() {
                let Some(text) = value.secret_string() else {
                    continue;
                };
                // The answer names a secret by full ARN and by name; a setting may use either.
                let names = [value.arn(), value.name()];
                if let Some(asked) = chunk.iter().find(|a| names.contains(&Some(a.as_str()))) {
                    self.fetched.insert(asked.clone(), text.to_string());
                }
            }
        }
    }

    async fn client(&mut self) -> aws_sdk_secretsmanager::Client {
        if let Some(c) = &self.secrets_manager {
            return c.clone();
        }
        let client = aws_sdk_secretsmanager::Client::new(self.aws_config().await);
        self.secrets_manager = Some(client.clone());
        client
    }

    pub async fn resolve(&mut self, r: &SecretRef) -> Result<String, SecretError> {
        if let SecretRef::SecretsManager(arn) = r
            && let Some(v) = self.fetched.get(arn)
        {
            return Ok(v.clone());
        }
        match r {
            SecretRef::Inline(v) => Ok(v.clone()),
            SecretRef::File(path) => {
                std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })
            }
            SecretRef::SecretsManager(arn) => {
                let client = self.client().await;
                let out = client
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| SecretError::SecretsManager {
                        arn: arn.clone(),
                        source: Box::new(e),
                    })?;
                out.secret_string()
                    .map(str::to_string)
                    .ok_or_else(|| SecretError::NotText { arn: arn.clone() })
            }
        }
    }
}
