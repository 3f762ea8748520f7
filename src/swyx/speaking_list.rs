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
                    Some(calls) => {
                        let calls = open_calls(&calls);
                        if !calls.is_empty() {
                            speaking.insert(user.swyx_user_id, calls);
                        }
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

/// A user's listed call ids, trimmed as an event's `callId` is (so `" c-1"` listed and `"c-1"`
/// in `speaking.ended` are one call); blank ones name no call.
fn open_calls(listed: &[String]) -> BTreeSet<String> {
    listed
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use swyx_contract::wire::{EventKind, ParsedEvent, SwyxEvent};

    #[test]
    fn a_listed_call_id_pairs_with_the_events_id_however_it_is_padded() {
        let listed = open_calls(&[" c-1 ".to_string(), "  ".to_string()]);
        let body = br#"{"type":"speaking.ended","swyxUserId":"1","callId":"c-1\t","at":"2026-11-26T10:00:00Z"}"#;
        let Ok(ParsedEvent::Known(ended)) = SwyxEvent::parse(body) else {
            panic!("a speaking.ended");
        };
        let EventKind::SpeakingEnded { call_id } = ended.kind else {
            panic!("{:?}", ended.kind);
        };
        assert_eq!(listed, BTreeSet::from([call_id]));
    }
}
