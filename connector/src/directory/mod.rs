//! The user directory behind `GET /v1/users` and the list of users to watch over SIP: read from
//! a CSV file the administrator exports, or from LDAP / Active Directory, and refreshed
//! periodically. A failed refresh keeps the last good list (and is reported in the status), so
//! a directory outage never makes users disappear from the bridge's view.

mod csv_file;
mod ldap;

use crate::config::{DirectoryConfig, DirectorySource};
use std::collections::HashMap;
use std::sync::Arc;
use swyx_contract::wire::check_swyx_user_id;
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub swyx_user_id: String,
    pub name: String,
    pub email: Option<String>,
    /// The user's SIP address, if the directory has it (else the connector derives one).
    pub sip_uri: Option<String>,
    pub groups: Vec<String>,
}

/// One consistent view of the directory, ordered by `swyx_user_id` (the contract's paging order).
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<DirectoryUser>,
    index: HashMap<String, usize>,
}

impl Snapshot {
    /// Sorts, checks ids against the contract and drops duplicates (the first one wins, the
    /// rest are returned as problems to log).
    pub fn new(mut users: Vec<DirectoryUser>) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        users.retain(|u| match check_swyx_user_id(&u.swyx_user_id) {
            Ok(()) => true,
            Err(e) => {
                problems.push(format!("skipped user {:?}: {e}", u.swyx_user_id));
                false
            }
        });
        users.sort_by(|a, b| a.swyx_user_id.cmp(&b.swyx_user_id));
        let before = users.len();
        users.dedup_by(|b, a| a.swyx_user_id == b.swyx_user_id);
        if users.len() != before {
            problems.push(format!(
                "{} duplicate user id(s) skipped (first entry kept)",
                before - users.len()
            ));
        }
        let index = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.swyx_user_id.clone(), i))
            .collect();
        (Self { users, index }, problems)
    }

    pub fn get(&self, id: &str) -> Option<&DirectoryUser> {
        self.index.get(id).map(|&i| &self.users[i])
    }

    /// Users with an id greater than `after`, at most `limit`.
    pub fn page(&self, after: Option<&str>, limit: usize) -> (&[DirectoryUser], bool) {
        let start = match after {
            Some(a) => self.users.partition_point(|u| u.swyx_user_id.as_str() <= a),
            None => 0,
        };
        let end = (start + limit).min(self.users.len());
        (&self.users[start..end], end < self.users.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory file {path}: {problem}")]
    Csv { path: String, problem: String },
    #[error("LDAP directory: {0}")]
    Ldap(String),
}

/// Reads the whole directory once.
pub async fn load(cfg: &DirectoryConfig) -> Result<Vec<DirectoryUser>, DirectoryError> {
    match &cfg.source {
        DirectorySource::Csv(path) => csv_file::read(path),
        DirectorySource::Ldap(l) => ldap::read(l).await,
    }
}

/// The current snapshot, shared with the API and the SIP watcher (which follows changes).
#[derive(Clone)]
pub struct Directory {
    rx: watch::Receiver<Arc<Snapshot>>,
}

impl Directory {
    pub fn current(&self) -> Arc<Snapshot> {
        self.rx.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    /// A fixed directory (tests, and the first load before the refresher runs).
    pub fn fixed(users: Vec<DirectoryUser>) -> (Self, watch::Sender<Arc<Snapshot>>) {
        let (snap, _) = Snapshot::new(users);
        let (tx, rx) = watch::channel(Arc::new(snap));
        (Self { rx }, tx)
    }
}

/// Replaces the snapshot with a fresh load; the error (if any) is for the status output.
pub async fn refresh(
    cfg: &DirectoryConfig,
    tx: &watch::Sender<Arc<Snapshot>>,
) -> Result<usize, DirectoryError> {
    let users = load(cfg).await?;
    let (snap, problems) = Snapshot::new(users);
    for p in problems {
        tracing::warn!(problem = %p, "directory");
    }
    let n = snap.users.len();
    let changed = {
        let cur = tx.borrow();
        cur.users != snap.users
    };
    if changed {
        tx.send_replace(Arc::new(snap));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(id: &str) -> DirectoryUser {
        DirectoryUser {
            swyx_user_id: id.into(),
            name: id.into(),
            email: None,
            sip_uri: None,
            groups: vec![],
        }
    }

    #[test]
    fn pages_follow_the_id_order_and_bad_ids_are_skipped() {
        let (snap, problems) = Snapshot::new(vec![u("3"), u("1"), u("a/b"), u("2"), u("1")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (first, more) = snap.page(None, 2);
        assert_eq!(
            first
                .iter()
                .map(|u| u.swyx_user_id.as_str())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert!(more);
        let (rest, more) = snap.page(Some("2"), 2);
        assert_eq!(
            rest.iter()
                .map(|u| u.swyx_user_id.as_str())
                .collect::<Vec<_>>(),
            ["3"]
        );
        assert!(!more);
        assert!(snap.get("2").is_some() && snap.get("9").is_none());
    }
}
