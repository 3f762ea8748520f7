//! How the stand-in answers: REGISTER with a digest challenge (RFC 3261 §22, MD5, qop=auth),
//! SUBSCRIBE to presence (RFC 3856 / 6665: 200, then a NOTIFY with the current PIDF), refreshes,
//! unsubscribes and the configured faults.

use super::net::{count, send, send_request};
use super::wire::{Msg, param, response, user_of};
use super::{Dialog, Inner, Route};
use md5::Digest as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn md5_hex(s: &str) -> String {
    md5::Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn handle(inner: &Arc<Inner>, msg: Msg, route: Route) {
    if !msg.is_request() {
        if let Some(tx) = msg.branch().and_then(|b| inner.lock().pending.remove(&b)) {
            let _ = tx.send(msg.code());
        }
        return;
    }
    match msg.method() {
        "REGISTER" => register(inner, &msg, &route),
        "SUBSCRIBE" => subscribe(inner, &msg, route),
        "OPTIONS" => send(
            inner,
            &route,
            response(&msg, 200, "OK", Some(&token()), &[]),
        ),
        _ => send(
            inner,
            &route,
            response(&msg, 405, "Method Not Allowed", Some(&token()), &[]),
        ),
    }
}

fn digest_ok(inner: &Inner, msg: &Msg, method: &str) -> Option<String> {
    let auth = msg.get("authorization")?;
    let body = auth.strip_prefix("Digest ")?;
    let p = |k: &str| {
        body.split(',').find_map(|kv| {
            let (a, b) = kv.split_once('=')?;
            (a.trim().eq_ignore_ascii_case(k)).then(|| b.trim().trim_matches('"').to_string())
        })
    };
    let (user, nonce, uri, resp) = (p("username")?, p("nonce")?, p("uri")?, p("response")?);
    let password = inner
        .opts
        .accounts
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, pw)| pw.clone())?;
    if !inner.lock().nonces.contains(&nonce) {
        return None;
    }
    let ha1 = md5_hex(&format!("{user}:{}:{password}", inner.opts.domain));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let want = match (p("qop"), p("nc"), p("cnonce")) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        }
        _ => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
    };
    (want == resp).then_some(user)
}

fn register(inner: &Arc<Inner>, msg: &Msg, route: &Route) {
    let Some(user) = digest_ok(inner, msg, "REGISTER") else {
        let nonce = token();
        inner.lock().nonces.insert(nonce.clone());
        let failed = msg.get("authorization").is_some();
        count(inner, |s| {
            if failed {
                s.register_failures += 1
            } else {
                s.register_challenges += 1
            }
        });
        let challenge = format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5",
            inner.opts.domain
        );
        send(
            inner,
            route,
            response(
                msg,
                401,
                "Unauthorized",
                Some(&token()),
                &[("WWW-Authenticate", challenge)],
            ),
        );
        return;
    };
    let requested = msg
        .get("contact")
        .and_then(|c| param(c, "expires"))
        .or_else(|| msg.get("expires").map(str::to_string))
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(3600);
    let granted = requested.min(inner.opts.max_register_expires);
    {
        let mut st = inner.lock();
        if granted == 0 {
            st.registered.remove(&user);
        } else {
            st.registered.insert(
                user.clone(),
                Instant::now() + Duration::from_secs(granted.into()),
            );
        }
        st.stats.registers += 1;
    }
    inner.bump();
    let contact = format!("{};expires={granted}", msg.get("contact").unwrap_or(""));
    send(
        inner,
        route,
        response(
            msg,
            200,
            "OK",
            Some(&token()),
            &[("Contact", contact), ("Expires", granted.to_string())],
        ),
    );
}

fn subscribe(inner: &Arc<Inner>, msg: &Msg, route: Route) {
    let watcher = user_of(msg.get("from").unwrap_or(""));
    let watched = user_of(msg.uri());
    let requested = msg
        .get("expires")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(3600);
    let granted = requested.min(inner.opts.max_subscribe_expires);
    let reply = |code, reason: &str, tag: &str, extra: &[(&str, String)]| {
        send(inner, &route, response(msg, code, reason, Some(tag), extra))
    };
    if !msg
        .get("event")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("presence"))
    {
        return reply(489, "Bad Event", &token(), &[]);
    }
    let call_id = msg.call_id().to_string();
    if msg.tag("to").is_some() {
        // In-dialog: a refresh or an unsubscribe.
        let mut st = inner.lock();
        let fault = st.refresh_481 > 0;
        let Some(d) = st.dialogs.get_mut(&call_id).filter(|_| !fault) else {
            if fault {
                st.refresh_481 -= 1;
                st.dialogs.remove(&call_id);
            }
            st.stats.answered_481 += 1;
            drop(st);
            inner.bump();
            return reply(481, "Call/Transaction Does Not Exist", &token(), &[]);
        };
        let tag = d.our_tag.clone();
        d.route = route.clone();
        if granted == 0 {
            st.stats.unsubscribes += 1;
        } else {
            d.expires_at = Instant::now() + Duration::from_secs(granted.into());
            st.stats.refreshes += 1;
        }
        drop(st);
        reply(200, "OK", &tag, &[("Expires", granted.to_string())]);
        notify(
            inner,
            &call_id,
            (granted == 0).then(|| "timeout".to_string()),
        );
        return;
    }
    let (known, forbidden, registered) = {
        let st = inner.lock();
        (
            st.users.contains_key(&watched),
            st.forbidden.contains(&(watcher.clone(), watched.clone())),
            st.registered
                .get(&watcher)
                .is_some_and(|t| *t > Instant::now()),
        )
    };
    if !known {
        count(inner, |s| s.answered_404 += 1);
        return reply(404, "Not Found", &token(), &[]);
    }
    if forbidden || !registered {
        count(inner, |s| s.answered_403 += 1);
        return reply(403, "Forbidden", &token(), &[]);
    }
    let tag = token();
    let dialog = Dialog {
        watcher,
        watched: watched.clone(),
        our_tag: tag.clone(),
        their_from: msg.get("from").unwrap_or("").to_string(),
        contact: msg
            .get("contact")
            .map(|c| {
                c.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default(),
        route: route.clone(),
        expires_at: Instant::now() + Duration::from_secs(granted.into()),
        cseq: 0,
    };
    {
        let mut st = inner.lock();
        st.dialogs.insert(call_id.clone(), dialog);
        st.stats.subscribes += 1;
    }
    inner.bump();
    let contact = format!("<sip:{watched}@{}>", inner.udp_addr);
    reply(
        200,
        "OK",
        &tag,
        &[("Expires", granted.to_string()), ("Contact", contact)],
    );
    notify(inner, &call_id, None);
}

/// Sends the dialog's NOTIFY: the current PIDF, or `terminated` with `reason` (and forgets it).
pub(super) fn notify(inner: &Arc<Inner>, call_id: &str, terminated: Option<String>) {
    let (bytes, route, branch) = {
        let mut st = inner.lock();
        let Some(d) = st.dialogs.get_mut(call_id) else {
            return;
        };
        d.cseq += 1;
        let d = d.clone();
        let presence = st
            .users
            .get(&d.watched)
            .cloned()
            .unwrap_or(super::UserPresence::LoggedOff);
        let state = match &terminated {
            Some(reason) => format!("terminated;reason={reason}"),
            None => format!(
                "active;expires={}",
                d.expires_at
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .max(1)
            ),
        };
        if terminated.is_some() {
            st.dialogs.remove(call_id);
        }
        st.stats.notifies_sent += 1;
        let domain = &inner.opts.domain;
        let basic = if presence == super::UserPresence::LoggedOff {
            "closed"
        } else {
            "open"
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:ls=\"http://sip.lanphone.de/presence/\" entity=\"sip:{w}@{domain}\"><tuple id=\"swyx-{w}\"><status><basic>{basic}</basic><ls:userstatus>{v}</ls:userstatus></status></tuple></presence>",
            w = d.watched,
            v = presence.wire()
        );
        let (tp, local) = match d.route {
            Route::Udp(_) => ("UDP", inner.udp_addr),
            Route::Tcp(_) => ("TCP", inner.tcp_addr),
        };
        let branch = format!("z9hG4bK{}", token());
        let bytes = format!(
            "NOTIFY {contact} SIP/2.0\r\nVia: SIP/2.0/{tp} {local};branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:{w}@{domain}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} NOTIFY\r\nContact: <sip:{w}@{local}>\r\nEvent: presence\r\nSubscription-State: {state}\r\nContent-Type: application/pidf+xml\r\nContent-Length: {len}\r\n\r\n{body}",
            contact = if d.contact.is_empty() {
                format!("sip:{}@{}", d.watcher, domain)
            } else {
                d.contact.clone()
            },
            w = d.watched,
            tag = d.our_tag,
            to = d.their_from,
            cseq = d.cseq,
            len = body.len(),
        );
        (bytes.into_bytes(), d.route, branch)
    };
    inner.bump();
    send_request(inner, route, branch, call_id.to_string(), bytes);
}

pub(super) fn notify_watchers(inner: &Arc<Inner>, user: &str, terminated: Option<String>) -> usize {
    let ids: Vec<String> = inner
        .lock()
        .dialogs
        .iter()
        .filter(|(_, d)| d.watched == user)
        .map(|(k, _)| k.clone())
        .collect();
    for id in &ids {
        notify(inner, id, terminated.clone());
    }
    ids.len()
}

/// Subscriptions not refreshed in time end with `terminated;reason=timeout` (RFC 6665 §4.2.2).
pub(super) fn expire(inner: &Arc<Inner>) {
    let now = Instant::now();
    let expired: Vec<String> = inner
        .lock()
        .dialogs
        .iter()
        .filter(|(_, d)| d.expires_at <= now)
        .map(|(k, _)| k.clone())
        .collect();
    for id in expired {
        count(inner, |s| s.expired += 1);
        notify(inner, &id, Some("timeout".into()));
    }
}
