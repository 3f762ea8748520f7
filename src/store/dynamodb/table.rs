//! Creating the table for tests and self-managed deployments (production uses the SAM template).

use super::items::{DUE_INDEX, DUE_PK, DUE_SK, EXPIRES_AT, PK, SK, build_err, sdk_error};
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use std::time::Duration;

/// Real DynamoDB takes seconds to a minute or two; emulators are active at once.
const ACTIVE_POLLS: u32 = 180;
const ACTIVE_POLL_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
#[error("table {table} did not become ACTIVE within {ACTIVE_POLLS} checks")]
struct NotActive {
    table: String,
}

fn key_element(name: &str, key_type: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_err)
}

fn string_attribute(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

pub(super) async fn create_table_if_missing(client: &Client, table: &str) -> StoreResult<()> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create_table(client, table).await?;
        }
        Err(e) => return Err(sdk_error("DescribeTable", e)),
    }
    wait_until_active(client, table).await?;
    enable_ttl(client, table).await
}

async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
    let due_index = GlobalSecondaryIndex::builder()
        .index_name(DUE_INDEX)
        .key_schema(key_element(DUE_PK, KeyType::Hash)?)
        .key_schema(key_element(DUE_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_err)?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .attribute_definitions(string_attribute(DUE_PK)?)
        .attribute_definitions(string_attribute(DUE_SK)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(due_index)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        // Someone else created it meanwhile: fine, we wait for it like for ours.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("CreateTable", e)),
    }
}

async fn wait_until_active(client: &Client, table: &str) -> StoreResult<()> {
    for attempt in 0..ACTIVE_POLLS {
        if attempt > 0 {
            tokio::time::sleep(ACTIVE_POLL_INTERVAL).await;
        }
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", e))?;
        let Some(desc) = out.table() else { continue };
        let table_active = desc.table_status() == Some(&TableStatus::Active);
        let indexes_active = desc
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status() == Some(&IndexStatus::Active));
        if table_active && indexes_active {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable {
        operation: "DynamoDB DescribeTable".into(),
        source: Box::new(NotActive {
            table: table.to_string(),
        }),
    })
}

async fn enable_ttl(client: &Client, table: &str) -> StoreResult<()> {
    let out = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTimeToLive", e))?;
    if let Some(desc) = out.time_to_live_description() {
        let on = matches!(
            desc.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        if on && desc.attribute_name() == Some(EXPIRES_AT) {
            return Ok(());
        }
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(build_err)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
}
