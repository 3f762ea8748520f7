//! The monitor user's registration (RFC 3261 §10): REGISTER with the digest answer, renewed at
//! 80 % of the granted time, retried with backoff, and started over on a new connection.

use super::client::{Client, Done};
use super::message::{Message, Outgoing, param};
use super::subscription::{backoff, refresh_in};
use crate::clock::now_ms;
use ezk_sip_types::Name;
use std::time::Duration;
use tokio::time::Instant;

impl Client {
    pub(super) fn register_request(&self, expires: u32) -> Outgoing {
        let aor = self.ua.aor();
        Outgoing {
            method: "REGISTER",
            uri: format!("sip:{}", self.ua.cfg.domain),
            via: String::new(),
            from: format!("<{aor}>;tag={}", self.reg.from_tag),
            to: format!("<{aor}>"),
            call_id: self.reg.call_id.clone(),
            cseq: self.reg.cseq + 2,
            contact: self.ua.contact(),
            extra: vec![("Expires".into(), expires.to_string())],
        }
    }

    pub(super) fn send_register(&mut self, expires: u32) {
        let req = self.register_request(expires);
        // Two CSeq numbers per attempt: the second one answers a digest challenge.
        self.reg.cseq += 2;
        let ua = self.ua.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let r = ua.send(req).await;
            let _ = done.send(Done::Register(r, expires)).await;
        });
    }

    /// A new connection: the server knows neither our registration nor our dialogs any more.
    pub fn reset(&mut self) {
        let now = Instant::now();
        tracing::info!("SIP connection renewed; registering and subscribing again");
        self.reg.until = None;
        self.reg.next_at = Some(now);
        self.by_call.clear();
        for s in self.subs.values_mut() {
            s.dialog = None;
            s.expires_at = None;
            if !s.in_flight {
                s.next_at = Some(now);
            }
        }
    }

    pub(super) fn on_register(&mut self, result: Result<(Message, u32), String>, requested: u32) {
        let now = Instant::now();
        let outcome = match result {
            Ok((m, cseq)) => {
                self.reg.cseq = self.reg.cseq.max(cseq);
                match m.code() {
                    Some(200..=299) => {
                        let granted = m
                            .all(&Name::CONTACT)
                            .iter()
                            .find_map(|c| param(c, "expires")?.parse().ok())
                            .or(m.expires())
                            .unwrap_or(requested);
                        Ok(granted)
                    }
                    Some(c) => Err(format!("REGISTER answered {c}")),
                    None => Err("REGISTER got a request as answer".into()),
                }
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(granted) => {
                self.reg.failures = 0;
                self.reg.until = Some(now + Duration::from_secs(granted.into()));
                self.reg.next_at = Some(now + refresh_in(granted));
                metrics::gauge!("connector_sip_registered").set(1.0);
                let until =
                    swyx_contract::wire::rfc3339_from_millis(now_ms() + i64::from(granted) * 1000);
                self.status.update(|v| {
                    v.registration.state = "registered".into();
                    v.registration.registered_until = Some(until);
                    v.registration.last_error = None;
                });
                tracing::info!(granted_secs = granted, "registered with SwyxServer");
            }
            Err(e) => {
                self.reg.failures += 1;
                let wait = backoff(
                    self.ua.cfg.retry_min,
                    self.ua.cfg.retry_max,
                    self.reg.failures - 1,
                );
                self.reg.next_at = Some(now + wait);
                if !self.registered() {
                    metrics::gauge!("connector_sip_registered").set(0.0);
                    self.status
                        .update(|v| v.registration.state = "failing".into());
                }
                self.status
                    .update(|v| v.registration.last_error = Some(e.clone()));
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "registration failed");
            }
        }
    }
}
