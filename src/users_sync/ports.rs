//! What automatic linking reads from outside: the Entra directory (Graph, app-only) and the Swyx
//! user list (the connector). The real clients implement these here.

use crate::graph::client::{GraphClient, GraphError};
use crate::graph::directory::DirectoryUser;
use crate::swyx::client::{ConnectorClient, ConnectorError, SwyxDirectoryUser};
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::time::Duration;

#[async_trait]
pub trait EntraDirectory: Send + Sync {
    /// Every user of the tenant with the properties matching reads.
    async fn list_users(&self, budget: Duration) -> Result<Vec<DirectoryUser>, GraphError>;
    /// The ids of the users in a group, nested groups expanded (lower-case).
    async fn group_user_ids(
        &self,
        group_id: &str,
        budget: Duration,
    ) -> Result<BTreeSet<String>, GraphError>;
}

#[async_trait]
pub trait SwyxDirectory: Send + Sync {
    /// Every Swyx user the connector lists (all pages).
    async fn list_users(&self, budget: Duration) -> Result<Vec<SwyxDirectoryUser>, ConnectorError>;
}

#[async_trait]
impl EntraDirectory for GraphClient {
    async fn list_users(&self, budget: Duration) -> Result<Vec<DirectoryUser>, GraphError> {
        self.list_directory_users(budget).await
    }

    async fn group_user_ids(
        &self,
        group_id: &str,
        budget: Duration,
    ) -> Result<BTreeSet<String>, GraphError> {
        let ids = self.transitive_user_members(group_id, budget).await?;
        Ok(ids.into_iter().map(|id| id.to_ascii_lowercase()).collect())
    }
}

#[async_trait]
impl SwyxDirectory for ConnectorClient {
    async fn list_users(&self, budget: Duration) -> Result<Vec<SwyxDirectoryUser>, ConnectorError> {
        ConnectorClient::list_users(self, budget).await
    }
}
