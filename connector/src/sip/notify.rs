//! What the server sends us: NOTIFY for a subscription (RFC 6665 §4.1.3 — answer 200, or 481 for
//! a dialog we do not know, update the lifetime from `Subscription-State`, act on the PIDF body,
//! subscribe anew after `terminated`), OPTIONS (a liveness probe: 200), anything else 405.

use super::client::Client;
use super::message::{Message, param, response};
use super::subscription::{SubState, after_termination};
use super::ua::random_token;
use crate::clock::now_ms;
use crate::presence::{PresenceState, classify, parse_pidf};
use ezk_sip_types::Name;
use std::time::Duration;
use tokio::time::Instant;

impl Client {
    pub async fn on_request(&mut self, req: Message) {
        if self.ua.tx.absorb_retransmission(&req).await {
            return;
        }
        let method = req.method().unwrap_or_default();
        let (code, reason) = match method.as_str() {
            "NOTIFY" => self.on_notify(&req),
            "OPTIONS" => (200, "OK"),
            _ => (405, "Method Not Allowed"),
        };
        let bytes = response(&req, code, reason, &random_token());
        self.ua.tx.respond(&req, bytes).await;
    }

    fn on_notify(&mut self, req: &Message) -> (u16, &'static str) {
        let Some(user) = req.call_id().and_then(|c| self.by_call.get(c)).cloned() else {
            return (481, "Subscription Does Not Exist");
        };
        let now = Instant::now();
        let (min, max) = (self.ua.cfg.retry_min, self.ua.cfg.retry_max);
        let Some(s) = self.subs.get_mut(&user) else {
            return (481, "Subscription Does Not Exist");
        };
        let Some(d) = s.dialog.as_mut() else {
            return (481, "Subscription Does Not Exist");
        };
        // NOTIFY comes from the notifier: its To tag is ours (RFC 6665 §4.1.3).
        if req.to_tag().as_deref() != Some(d.from_tag.as_str()) {
            return (481, "Subscription Does Not Exist");
        }
        if d.to_tag.is_none() {
            d.to_tag = req.from_tag();
        }
        let state = req
            .header(&Name::SUBSCRIPTION_STATE)
            .unwrap_or("active")
            .to_string();
        let substate = state
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let mut terminated_lost = None;
        match substate.as_str() {
            "terminated" => {
                let reason = param(&state, "reason");
                let retry_after = param(&state, "retry-after").and_then(|v| v.parse().ok());
                let (wait, failing) = after_termination(reason.as_deref(), retry_after, min, max);
                tracing::info!(swyx_user_id = %user, reason = reason.as_deref().unwrap_or("-"), "subscription terminated by the server; subscribing again");
                self.by_call.remove(req.call_id().unwrap_or_default());
                s.dialog = None;
                s.expires_at = None;
                s.next_at = if s.in_flight { None } else { Some(now + wait) };
                if let Some(why) = failing {
                    s.state = SubState::Failing;
                    s.reason = Some(why);
                    terminated_lost = Some(());
                }
            }
            other => {
                if let Some(exp) = param(&state, "expires").and_then(|v| v.parse::<u64>().ok()) {
                    let until = now + Duration::from_secs(exp);
                    // The notifier may shorten the lifetime (RFC 6665 §4.1.3): refresh earlier then.
                    s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
                    if !s.in_flight {
                        let refresh = now + super::subscription::refresh_in(exp as u32);
                        s.next_at = Some(s.next_at.map_or(refresh, |n| n.min(refresh)));
                    }
                }
                s.state = if other == "pending" {
                    SubState::Pending
                } else {
                    SubState::Active
                };
                s.reason = None;
            }
        }
        if !req.body.is_empty() {
            match parse_pidf(&req.body) {
                Ok(pidf) => {
                    let presence = classify(self.engine.config(), &pidf);
                    s.presence = pidf
                        .userstatus
                        .first()
                        .cloned()
                        .or_else(|| pidf.basic.first().cloned());
                    metrics::counter!("connector_sip_notifies_total").increment(1);
                    if let Err(e) = self.engine.on_presence(&user, &presence, now_ms()) {
                        tracing::error!(error = %e, "cannot record a presence change");
                        return (500, "Server Internal Error");
                    }
                    if presence == PresenceState::Speaking {
                        tracing::debug!(swyx_user_id = %user, "presence: speaking");
                    }
                }
                Err(e) => {
                    tracing::warn!(swyx_user_id = %user, error = %e, "NOTIFY body is not a usable PIDF document")
                }
            }
        }
        if terminated_lost.is_some() {
            self.unwatched(&user);
        }
        self.show(&user);
        (200, "OK")
    }
}
