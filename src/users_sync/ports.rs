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
    /// Every user of the tenant with the properties matching reads, handed to `take` a page at
    /// a time (a tenant can be far larger than the Swyx site: it is never held whole).
    async fn visit_users(
        &self,
        budget: Duration,
        take: &mut (dyn FnMut(Vec<DirectoryUser>) + Send),
    ) -> Result<(), GraphError>;
    /// The ids of the users in a group, nested groups expanded (lower-case).
    async fn group_user_ids(
        &self,
        group_id: &str,
        budget: Duration,
    ) -> Result<BTreeSet<String>, GraphError>;
}

#[async_trait]
pub trait SwyxDirectory: Send + Sync {
    /// Every Swyx user the connector lists, handed to `take` a page at a time.
    async fn visit_users(
        &self,
        budget: Duration,
        take: &mut (dyn FnMut(Vec<SwyxDirectoryUser>) + Send),
    ) -> Result<(), ConnectorError>;
}

#[async_trait]
impl EntraDirectory for GraphClient {
    async fn visit_users(
        &self,
        budget: Duration,
        take: &mut (dyn FnMut(Vec<DirectoryUser>) + Send),
    ) -> Result<(), GraphError> {
        self.for_each_directory_user_page(budget, take).await
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
    async fn visit_users(
        &self,
        budget: Duration,
        take: &mut (dyn FnMut(Vec<SwyxDirectoryUser>) + Send),
    ) -> Result<(), ConnectorError> {
        self.for_each_user_page(budget, take).await
    }
}
