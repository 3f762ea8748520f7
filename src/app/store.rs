//! Opening the configured store (SQLite or DynamoDB).

use super::aws::AwsSource;
use super::{Role, StartupError};
use crate::config::{Config, DynamoTimeouts, StoreConfig};
use crate::store::{DynamoStore, SqliteStore, Store};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use std::path::Path;
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
/// roots; and where a configuration comes from, for a store that made none (SQLite).
#[derive(Clone)]
pub struct OpenedStore {
    pub store: Arc<dyn Store>,
    pub(super) aws: Option<aws_config::SdkConfig>,
    pub(super) aws_source: AwsSource,
}

impl OpenedStore {
    /// The store of `role`'s program: on DynamoDB with the AWS configuration of a Lambda function
    /// when `role` is one (see [`AwsSource`]). A Lambda function's entry point calls
    /// [`OpenedStore::open`] instead, naming its source, so its binary holds only that one.
    pub async fn for_role(cfg: &Config, role: Role) -> Result<Self, StartupError> {
        let source = if role.is_lambda_function() {
            AwsSource::lambda()
        } else {
            AwsSource::default_chains()
        };
        Self::open(cfg, source).await
    }

    /// The store, a DynamoDB one on the configuration `source` gives.
    pub async fn open(cfg: &Config, source: AwsSource) -> Result<Self, StartupError> {
        let (store, aws) = match &cfg.store {
            StoreConfig::DynamoDb {
                table,
                endpoint_url,
                timeouts,
            } => {
                let aws = source.load(Some(*timeouts)).await;
                let store = dynamo_store(table, endpoint_url.as_deref(), *timeouts, &aws);
                (store, Some(aws))
            }
            StoreConfig::Sqlite { path } => (sqlite_store(path, REQUEST_LOCK_WAIT)?, None),
        };
        Ok(Self {
            store,
            aws,
            aws_source: source,
        })
    }
}

/// Opens the store; a DynamoDB store reuses `aws` when given, else loads the SDK's defaults.
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
        StoreConfig::Sqlite { path } => sqlite_store(path, lock_wait)?,
        StoreConfig::DynamoDb {
            table,
            endpoint_url,
            timeouts,
        } => {
            let loaded;
            let conf = match aws {
                Some(conf) => conf,
                None => {
                    loaded = AwsSource::default_chains().load(None).await;
                    &loaded
                }
            };
            dynamo_store(table, endpoint_url.as_deref(), *timeouts, conf)
        }
    })
}

fn sqlite_store(path: &Path, lock_wait: Duration) -> Result<Arc<dyn Store>, StartupError> {
    let store = SqliteStore::open_with_lock_wait(path, lock_wait).map_err(|source| {
        StartupError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(Arc::new(store))
}

fn dynamo_store(
    table: &str,
    endpoint_url: Option<&str>,
    timeouts: DynamoTimeouts,
    conf: &aws_config::SdkConfig,
) -> Arc<dyn Store> {
    let mut builder =
        aws_sdk_dynamodb::config::Builder::from(conf).timeout_config(timeout_config(timeouts));
    if let Some(url) = endpoint_url {
        builder = builder.endpoint_url(url);
    }
    Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(builder.build()),
        table.to_string(),
    ))
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
