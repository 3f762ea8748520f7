//! The SIP side's single owner of state: the registration (RFC 3261 §10, renewed before expiry)
//! and one presence subscription per watched user. Requests run on their own tasks and report
//! back here; this loop decides what happens next, so no state is shared or locked.

use super::message::{Message, Outgoing, param};
use super::subscription::{Answer, Bucket, Dialog, Sub, SubState, backoff, classify, refresh_in};
use super::ua::{Ua, random_token};
use crate::clock::now_ms;
use crate::directory::Snapshot;
use crate::speaking::Engine;
use crate::status::{StatusBoard, Watch};
use ezk_sip_types::Name;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(super) enum Done {
    Register(Result<(Message, u32), String>, u32),
    Subscribe {
        user: String,
        call_id: String,
        result: Result<(Message, u32), String>,
    },
}

pub(super) struct Registration {
    pub(super) call_id: String,
    pub(super) from_tag: String,
    pub(super) cseq: u32,
    pub(super) until: Option<Instant>,
    pub(super) next_at: Option<Instant>,
    pub(super) failures: u32,
}

pub(super) struct Client {
    pub ua: Arc<Ua>,
    pub engine: Arc<Engine>,
    pub status: Arc<StatusBoard>,
    pub(super) reg: Registration,
    pub(super) subs: HashMap<String, Sub>,
    pub(super) by_call: HashMap<String, String>,
    bucket: Bucket,
    pub(super) done_tx: mpsc::Sender<Done>,
}

impl Client {
    pub fn new(
        ua: Arc<Ua>,
        engine: Arc<Engine>,
        status: Arc<StatusBoard>,
        done_tx: mpsc::Sender<Done>,
    ) -> Self {
        let rate = f64::from(ua.cfg.subscribe_rate_per_sec);
        let now = Instant::now();
        let reg = Registration {
            call_id: ua.new_call_id(),
            from_tag: random_token(),
            cseq: 0,
            until: None,
            next_at: Some(now),
            failures: 0,
        };
        Self {
            ua,
            engine,
            status,
            reg,
            subs: HashMap::new(),
            by_call: HashMap::new(),
            bucket: Bucket::new(rate, now),
            done_tx,
        }
    }

    pub(super) fn registered(&self) -> bool {
        self.reg.until.is_some_and(|u| u > Instant::now())
    }

    /// The directory says who to watch: new users are subscribed, removed ones dropped.
    pub fn sync(&mut self, snap: &Snapshot) {
        let now = Instant::now();
        let mut wanted: HashMap<String, String> = HashMap::new();
        for u in &snap.users {
            let uri = u.sip_uri.clone().unwrap_or_else(|| {
                self.ua
                    .cfg
                    .watch_uri_template
                    .replace("{user}", &u.swyx_user_id)
                    .replace("{domain}", &self.ua.cfg.domain)
            });
            wanted.insert(u.swyx_user_id.clone(), uri);
        }
        let gone: Vec<String> = self
            .subs
            .iter()
            .filter(|(id, s)| wanted.get(*id) != Some(&s.uri))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            // Unsubscribe (Expires: 0) so the server stops notifying about a user we dropped.
            if let Some((req, _)) = self.subscribe_request(&id, 0)
                && self.subs.get(&id).is_some_and(|s| s.dialog.is_some())
            {
                let ua = self.ua.clone();
                tokio::spawn(async move {
                    let _ = ua.send(req).await;
                });
            }
            if let Some(s) = self.subs.remove(&id) {
                if let Some(d) = &s.dialog {
                    self.by_call.remove(&d.call_id);
                }
                self.unwatched(&id);
            }
            self.status.update(|v| {
                v.watches.remove(&id);
            });
        }
        for (id, uri) in wanted {
            self.subs
                .entry(id.clone())
                .or_insert_with(|| Sub::new(uri, now));
            self.show(&id);
        }
    }

    pub(super) fn unwatched(&self, user: &str) {
        if let Err(e) = self.engine.on_unwatched(user, now_ms()) {
            tracing::error!(error = %e, "cannot record the end of a speaking period");
        }
    }

    pub(super) fn show(&self, user: &str) {
        if let Some(s) = self.subs.get(user) {
            let w = Watch {
                uri: s.uri.clone(),
                state: s.state.name().into(),
                reason: s.reason.clone(),
                presence: s.presence.clone(),
            };
            self.status.update(|v| {
                v.watches.insert(user.to_string(), w);
            });
        }
    }

    /// The earliest moment something is due.
    pub fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut at = now + Duration::from_secs(60);
        if let Some(n) = self.reg.next_at {
            at = at.min(n);
        }
        if self.registered() {
            for s in self.subs.values().filter(|s| !s.in_flight) {
                if let Some(n) = s.next_at {
                    at = at.min(n.max(if self.bucket.tokens >= 1.0 {
                        n
                    } else {
                        self.bucket.next_token(now)
                    }));
                }
                if let Some(e) = s.expires_at {
                    at = at.min(e);
                }
            }
        }
        at
    }

    pub fn tick(&mut self) {
        let now = Instant::now();
        if self.reg.next_at.is_some_and(|n| n <= now) {
            self.reg.next_at = None;
            self.send_register(self.ua.cfg.register_expires);
        }
        if !self.registered() {
            return;
        }
        let mut lost = Vec::new();
        for (user, s) in &mut self.subs {
            if s.expires_at.is_some_and(|e| e <= now) && !s.in_flight {
                // Expired without a successful refresh: the dialog is gone on the server too.
                if let Some(d) = s.dialog.take() {
                    self.by_call.remove(&d.call_id);
                }
                s.expires_at = None;
                s.next_at = Some(now);
                lost.push(user.clone());
            }
        }
        for u in lost {
            self.unwatched(&u);
        }
        let due: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, s)| !s.in_flight && s.next_at.is_some_and(|n| n <= now))
            .map(|(u, _)| u.clone())
            .collect();
        for user in due {
            if !self.bucket.take(now) {
                break;
            }
            self.send_subscribe(&user, self.ua.cfg.subscribe_expires);
        }
    }

    pub(super) fn subscribe_request(&self, user: &str, expires: u32) -> Option<(Outgoing, String)> {
        let s = self.subs.get(user)?;
        let aor = self.ua.aor();
        let extra = vec![
            ("Event".to_string(), "presence".to_string()),
            ("Accept".to_string(), "application/pidf+xml".to_string()),
            ("Expires".to_string(), expires.to_string()),
        ];
        Some(match &s.dialog {
            Some(d) => (
                Outgoing {
                    method: "SUBSCRIBE",
                    uri: d.target.clone(),
                    via: String::new(),
                    from: format!("<{aor}>;tag={}", d.from_tag),
                    to: match &d.to_tag {
                        Some(t) => format!("<{}>;tag={t}", s.uri),
                        None => format!("<{}>", s.uri),
                    },
                    call_id: d.call_id.clone(),
                    cseq: d.cseq + 1,
                    contact: self.ua.contact(),
                    extra,
                },
                d.call_id.clone(),
            ),
            None => {
                let call_id = self.ua.new_call_id();
                (
                    Outgoing {
                        method: "SUBSCRIBE",
                        uri: s.uri.clone(),
                        via: String::new(),
                        from: format!("<{aor}>;tag={}", random_token()),
                        to: format!("<{}>", s.uri),
                        call_id: call_id.clone(),
                        cseq: 1,
                        contact: self.ua.contact(),
                        extra,
                    },
                    call_id,
                )
            }
        })
    }

    fn send_subscribe(&mut self, user: &str, expires: u32) {
        let Some((req, call_id)) = self.subscribe_request(user, expires) else {
            return;
        };
        let Some(s) = self.subs.get_mut(user) else {
            return;
        };
        if s.dialog.is_none() {
            // A new dialog: remember our tag and Call-ID now, a NOTIFY may beat the 200 (RFC 6665 §4.1.2.4).
            let from_tag = param(&req.from, "tag").unwrap_or_default();
            s.dialog = Some(Dialog {
                call_id: call_id.clone(),
                from_tag,
                to_tag: None,
                cseq: 1,
                target: s.uri.clone(),
            });
            self.by_call.insert(call_id.clone(), user.to_string());
        }
        s.in_flight = true;
        s.next_at = None;
        let (ua, done, user) = (self.ua.clone(), self.done_tx.clone(), user.to_string());
        metrics::counter!("connector_sip_subscribes_total").increment(1);
        tokio::spawn(async move {
            let result = ua.send(req).await;
            let _ = done
                .send(Done::Subscribe {
                    user,
                    call_id,
                    result,
                })
                .await;
        });
    }

    pub fn on_done(&mut self, done: Done) {
        match done {
            Done::Register(result, expires) => self.on_register(result, expires),
            Done::Subscribe {
                user,
                call_id,
                result,
            } => self.on_subscribed(&user, &call_id, result),
        }
    }

    fn on_subscribed(&mut self, user: &str, call_id: &str, result: Result<(Message, u32), String>) {
        let now = Instant::now();
        let (min, max, requested) = (
            self.ua.cfg.retry_min,
            self.ua.cfg.retry_max,
            self.ua.cfg.subscribe_expires,
        );
        let Some(s) = self.subs.get_mut(user) else {
            return;
        };
        s.in_flight = false;
        if s.dialog.as_ref().is_none_or(|d| d.call_id != call_id) {
            s.next_at.get_or_insert(now);
            return; // the answer belongs to a dialog replaced meanwhile
        }
        let answer = match &result {
            Ok((m, _)) => classify(
                m.code().unwrap_or(0),
                m.expires(),
                m.header(&Name::MIN_EXPIRES)
                    .and_then(|v| v.trim().parse().ok()),
                requested,
                "",
            ),
            Err(e) => Answer::Failed(e.clone()),
        };
        let mut lost = false;
        match answer {
            Answer::Accepted { expires, pending } => {
                if let (Some(d), Ok((m, cseq))) = (s.dialog.as_mut(), &result) {
                    d.cseq = *cseq;
                    if d.to_tag.is_none() {
                        d.to_tag = m.to_tag();
                    }
                    if let Some(target) = m.contact_uri() {
                        d.target = target;
                    }
                }
                s.failures = 0;
                s.expires_at = Some(now + Duration::from_secs(expires.into()));
                s.next_at = Some(now + refresh_in(expires));
                if s.state != SubState::Active || pending {
                    s.state = if pending {
                        SubState::Pending
                    } else {
                        SubState::Active
                    };
                }
                s.reason = None;
            }
            Answer::DialogGone => {
                lost = s.dialog.is_some() && s.state == SubState::Active;
                s.dialog = None;
                s.expires_at = None;
                s.next_at = Some(now);
            }
            Answer::TooBrief(min_expires) => {
                s.next_at = Some(now);
                s.reason = Some(format!("server wants expires ≥ {min_expires}"));
            }
            Answer::Refused(reason) => {
                tracing::warn!(swyx_user_id = %user, uri = %s.uri, %reason, "cannot watch this user");
                lost = true;
                s.dialog = None;
                s.expires_at = None;
                s.state = SubState::Failing;
                s.reason = Some(reason);
                s.failures += 1;
                s.next_at = Some(now + max);
            }
            Answer::Failed(reason) => {
                tracing::warn!(swyx_user_id = %user, %reason, "SUBSCRIBE failed; retrying");
                s.failures += 1;
                s.next_at = Some(now + backoff(min, max, s.failures - 1));
                // A refresh may fail while the subscription still runs; only a new one failing counts.
                if s.expires_at.is_none_or(|e| e <= now) {
                    lost = s.state == SubState::Active;
                    s.dialog = None;
                    s.state = SubState::Failing;
                }
                s.reason = Some(reason);
            }
        }
        if let Some(d) = s.dialog.as_ref() {
            self.by_call.insert(d.call_id.clone(), user.to_string());
        } else {
            self.by_call.remove(call_id);
        }
        if lost {
            self.unwatched(user);
        }
        self.show(user);
    }
}
