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
        let requested = self.ua.cfg.subscribe_expires;
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
                    // The notifier may shorten the lifetime (RFC 6665 §4.1.3; refresh earlier
                    // then), never lengthen it: a longer one counts as what we asked for, which
                    // also keeps the sums below small.
                    let exp = u32::try_from(exp).unwrap_or(u32::MAX).min(requested);
                    let until = now + Duration::from_secs(exp.into());
                    s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
                    if !s.in_flight {
                        let refresh = now + super::subscription::refresh_in(exp);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PresenceConfig, SipConfig, SipTransport};
    use crate::sip::subscription::{Dialog, Sub, refresh_in};
    use crate::sip::{digest::Credentials, transaction::TxLayer, ua::Ua};
    use crate::speaking::Engine;
    use crate::store::Store;
    use std::sync::Arc;
    use tokio::sync::{Notify, mpsc, watch};

    const EXPIRES: u32 = 600;
    const RETRY_MAX: Duration = Duration::from_secs(300);

    /// A client watching 1001 in dialog `c1` (our tag `ours`); its flow goes nowhere.
    fn client(dir: &std::path::Path) -> Client {
        let cfg = SipConfig {
            server: "127.0.0.1:5060".into(),
            transport: SipTransport::Udp,
            domain: "swyx.local".into(),
            username: "monitor".into(),
            auth_username: "monitor".into(),
            password: "secret".into(),
            local_address: "127.0.0.1:5070".parse().unwrap(),
            register_expires: 600,
            subscribe_expires: EXPIRES,
            subscribe_rate_per_sec: 20,
            retry_min: Duration::from_secs(1),
            retry_max: RETRY_MAX,
            watch_uri_template: "sip:{user}@{domain}".into(),
            t1: Duration::from_millis(500),
            tls_ca_file: None,
            tls_server_name: None,
        };
        let (out, _) = mpsc::channel(8);
        let ua = Ua {
            cfg,
            tx: Arc::new(TxLayer::new(out, Duration::from_millis(500), false)),
            local: watch::channel("127.0.0.1:5070".parse().unwrap()).1,
            transport: "UDP",
            creds: Credentials {
                username: "monitor".into(),
                password: "secret".into(),
            },
        };
        let store = Arc::new(Store::open(&dir.join("c.db")).unwrap());
        let engine = Engine::new(
            PresenceConfig::default(),
            store,
            Arc::new(Notify::new()),
            Arc::default(),
        );
        Client::new(
            Arc::new(ua),
            Arc::new(engine),
            Arc::default(),
            mpsc::channel(8).0,
        )
    }

    /// `on_notify` for 1001 with this `Subscription-State`, on a fresh dialog.
    fn notify(c: &mut Client, state: &str) -> (u16, Sub) {
        let mut sub = Sub::new("sip:1001@swyx.local".into(), Instant::now());
        sub.next_at = None;
        sub.dialog = Some(Dialog {
            call_id: "c1".into(),
            from_tag: "ours".into(),
            to_tag: None,
            cseq: 1,
            target: "sip:1001@swyx.local".into(),
        });
        c.subs.insert("1001".into(), sub);
        c.by_call.insert("c1".into(), "1001".into());
        let req = Message::parse(
            format!(
                "NOTIFY sip:monitor@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn\r\n\
                 From: <sip:1001@swyx.local>;tag=srv\r\nTo: <sip:monitor@swyx.local>;tag=ours\r\n\
                 Call-ID: c1\r\nCSeq: 2 NOTIFY\r\nEvent: presence\r\nSubscription-State: {state}\r\n\
                 Content-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let (code, _) = c.on_notify(&req);
        (code, c.subs["1001"].clone())
    }

    #[tokio::test(start_paused = true)]
    async fn a_notify_cannot_lengthen_the_subscription_or_overflow_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = client(dir.path());
        let now = Instant::now();
        let lifetime = Duration::from_secs(EXPIRES.into());
        // 2^32 used to wrap to 0 (a SUBSCRIBE every 500 ms); u64::MAX panicked the SIP task.
        for huge in ["4294967296", "18446744073709551615"] {
            let (code, s) = notify(&mut c, &format!("active;expires={huge}"));
            assert_eq!(code, 200, "{huge}");
            assert_eq!(s.expires_at, Some(now + lifetime), "{huge}");
            assert_eq!(
                s.next_at,
                Some(now + refresh_in(EXPIRES)),
                "refreshed as if granted what we asked for ({huge})"
            );
        }
        // A shorter lifetime is the notifier's right.
        let (_, s) = notify(&mut c, "active;expires=100");
        assert_eq!(s.expires_at, Some(now + Duration::from_secs(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_retry_max_is_cut_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = client(dir.path());
        let now = Instant::now();
        for reason in ["probation", "giveup", "rejected"] {
            let state = format!("terminated;reason={reason};retry-after=18446744073709551615");
            let (code, s) = notify(&mut c, &state);
            assert_eq!(code, 200, "{reason}");
            assert!(s.dialog.is_none(), "{reason}");
            assert_eq!(s.next_at, Some(now + RETRY_MAX), "{reason}");
        }
        let (_, s) = notify(&mut c, "terminated;reason=probation;retry-after=7");
        assert_eq!(s.next_at, Some(now + Duration::from_secs(7)));
    }
}
