//! `GET /v1/users?speaking=true` (contract 1.2): who is speaking in Swyx now, for maintenance to
//! compare with the calls the bridge holds (`swyx_to_teams::swyx_calls`).

use super::client::{ConnectorClient, ConnectorError};
use crate::domain::SwyxCalls;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;
use std::time::Duration;
use swyx_contract::wire::SPEAKING_QUERY;

impl ConnectorClient {
    /// GET {base}/v1/users?speaking=true (contract 1.2), every page: the users speaking now and
    /// their call ids. [`SwyxCalls::NotReported`] as soon as a page is not marked `speakingOnly`
    /// (a 1.0/1.1 connector ignores the parameter and lists everyone: the rest is not read).
    pub async fn speaking_now(&self, budget: Duration) -> Result<SwyxCalls, ConnectorError> {
        let mut speaking = HashMap::new();
        let mut unknown = HashSet::new();
        let mut reported = true;
        self.pages(budget, &[(SPEAKING_QUERY, "true")], |page| {
            if !page.speaking_only {
                reported = false;
                return ControlFlow::Break(());
            }
            for user in page.users {
                match user.speaking {
                    None => {
                        unknown.insert(user.swyx_user_id);
                    }
                    Some(calls) if calls.is_empty() => {}
                    Some(calls) => {
                        let calls: BTreeSet<String> = calls.into_iter().collect();
                        speaking.insert(user.swyx_user_id, calls);
                    }
                }
            }
            ControlFlow::Continue(())
        })
        .await?;
        Ok(if reported {
            SwyxCalls::Reported { speaking, unknown }
        } else {
            SwyxCalls::NotReported
        })
    }
}
