//! Opening the configured store (SQLite or DynamoDB).

use super::{Role, StartupError};
use crate::config::{Config, DynamoTimeouts, StoreConfig};
use crate::store::{DynamoStore, SqliteStore, Store};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use std::sync::Arc;
use std::time::Duration;

/// How long a store call of the webhooks and maintenance may wait for a locked SQLite file
/// (the CLI writing next to `serve`) before it fails as transient: Graph wants an answer within
/// 3 s, and a 503 makes it retry.
pub const REQUEST_LOCK_WAIT: Duration = Duration::from_secs(1);

/// The store for the CLI, which may wait longer for a locked SQLite file than a webhook.
pub async fn open_store(cfg: &StoreConfig) -> Result<Arc<dyn Store>, StartupError> {
    open_store_waiting(cfg, None, crate::store::sqlite::DEFAULT_LOCK_WAIT).await
}

/// A program's store, opened before its app. Opening makes no request (a DynamoDB client
/// connects on its first one), so a Lambda function's cold start can read the store while the
/// app reads its secrets. Carries the AWS configuration the DynamoDB client was made on: the
/// app's other AWS clients share it, and with it one HTTPS client and one read of the trusted
/// roots.
#[derive(Clone)]
pub struct OpenedStore {
    pub store: Arc<dyn Store>,
    pub(super) aws: Option<aws_config::SdkConfig>,
}

impl OpenedStore {
    /// The store of `role`'s program: on DynamoDB with the AWS configuration of a Lambda function
    /// when `role` is one (see [`super::aws::load`]).
    pub async fn for_role(cfg: &Config, role: Role) -> Result<Self, StartupError> {
        let aws = match cfg.store {
            StoreConfig::DynamoDb { timeouts, .. } => {
                let lambda = role.is_lambda_function();
                Some(super::aws::load(lambda, Some(timeouts)).await)
            }
            StoreConfig::Sqlite { .. } => None,
        };
        let store = open_store_with(&cfg.store, aws.as_ref()).await?;
        Ok(Self { store, aws })
    }
}

/// Opens the store; a DynamoDB store reuses `aws` when given (one configuration load per process).
pub async fn open_store_with(
    cfg: &StoreConfig,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<Arc<dyn Store>, StartupError> {
    open_store_waiting(cfg, aws, REQUEST_LOCK_WAIT).await
}

async fn open_store_waiting(
    cfg: &StoreConfig,
    aws: Option<&aws_config::SdkConfig>,
    lock_wait: Duration,
) -> Result<Arc<dyn Store>, StartupError> {
    Ok(match cfg {
        StoreConfig::Sqlite { path } => Arc::new(
            SqliteStore::open_with_lock_wait(path, lock_wait).map_err(|source| {
                StartupError::Sqlite {
                    path: path.clone(),
                    source,
                }
            })?,
        ),
        StoreConfig::DynamoDb {
            table,
            endpoint_url,
            timeouts,
        } => {
            let loaded;
            let conf = match aws {
                Some(conf) => conf,
                None => {
                    loaded = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .load()
                        .await;
                    &loaded
                }
            };
            let mut builder = aws_sdk_dynamodb::config::Builder::from(conf)
                .timeout_config(timeout_config(*timeouts));
            if let Some(url) = endpoint_url {
                builder = builder.endpoint_url(url);
            }
            Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::from_conf(builder.build()),
                table.clone(),
            ))
        }
    })
}

/// Without these the SDK waits for a table that does not answer as long as the connection
/// lives: a webhook would hold Graph past its 3 s instead of answering 503 (Graph then counts
/// the endpoint slow and delays every notification by 10 minutes), and maintenance would stall.
pub fn timeout_config(timeouts: DynamoTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}
