//! The stand-in's sockets: UDP (with the packet-loss fault), TCP connections (framed by
//! Content-Length), the expiry sweep, and sending a NOTIFY until the subscriber answers.

use super::wire::Msg;
use super::{Inner, Route, SipStats};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

pub(super) struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

pub(super) fn spawn(inner: Arc<Inner>, tcp: tokio::net::TcpListener) -> Tasks {
    let udp_loop = {
        let inner = inner.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = inner.udp.recv_from(&mut buf).await {
                if drop_this(&inner) {
                    continue;
                }
                if let Some(msg) = Msg::parse(&buf[..n]) {
                    super::server::handle(&inner, msg, Route::Udp(from));
                }
            }
        })
    };
    let tcp_loop = {
        let inner = inner.clone();
        tokio::spawn(async move {
            let mut next_id = 0u64;
            while let Ok((stream, _)) = tcp.accept().await {
                next_id += 1;
                tokio::spawn(connection(inner.clone(), stream, next_id));
            }
        })
    };
    let sweep = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            super::server::expire(&inner);
        }
    });
    Tasks(vec![udp_loop, tcp_loop, sweep])
}

fn drop_this(inner: &Inner) -> bool {
    let mut st = inner.lock();
    if st.udp_drop_every == 0 {
        return false;
    }
    st.udp_counter += 1;
    let drop = st.udp_counter.is_multiple_of(st.udp_drop_every);
    if drop {
        st.stats.udp_dropped += 1;
    }
    drop
}

async fn connection(inner: Arc<Inner>, stream: tokio::net::TcpStream, id: u64) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
    inner.lock().conns.insert(id, tx);
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16_384];
    while let Ok(n) = rd.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = frame(&buf) {
            let bytes: Vec<u8> = buf.drain(..len).collect();
            if let Some(msg) = Msg::parse(&bytes) {
                super::server::handle(&inner, msg, Route::Tcp(id));
            }
        }
    }
    inner.lock().conns.remove(&id);
    writer.abort();
}

fn frame(buf: &[u8]) -> Option<usize> {
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if skip > 0 {
        return Some(skip);
    }
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .or_else(|| l.strip_prefix("l:"))
        })
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= head + len).then_some(head + len)
}

pub(super) fn send(inner: &Arc<Inner>, route: &Route, bytes: Vec<u8>) {
    match route {
        Route::Udp(to) => {
            if drop_this(inner) {
                return;
            }
            let _ = inner.udp.try_send_to(&bytes, *to);
        }
        Route::Tcp(id) => {
            if let Some(tx) = inner.lock().conns.get(id).cloned() {
                let _ = tx.try_send(bytes);
            }
        }
    }
}

/// Sends a NOTIFY (a request of ours) and retransmits it over UDP (every 50 ms, doubling) until
/// the subscriber answers; a 481 answer ends the dialog.
pub(super) fn send_request(
    inner: &Arc<Inner>,
    route: Route,
    branch: String,
    call_id: String,
    bytes: Vec<u8>,
) {
    let (tx, mut rx) = oneshot::channel();
    inner.lock().pending.insert(branch.clone(), tx);
    let inner = inner.clone();
    tokio::spawn(async move {
        // TCP is reliable: one send, then wait for the answer (RFC 3261 §17.1.2.2).
        let reliable = matches!(route, Route::Tcp(_));
        let mut wait = if reliable {
            Duration::from_secs(8)
        } else {
            Duration::from_millis(50)
        };
        let give_up = Instant::now() + Duration::from_secs(8);
        loop {
            send(&inner, &route, bytes.clone());
            tokio::select! {
                code = &mut rx => {
                    if code == Ok(481) {
                        inner.lock().dialogs.remove(&call_id);
                        inner.bump();
                    }
                    return;
                }
                _ = tokio::time::sleep(wait) => {}
            }
            if reliable || Instant::now() > give_up {
                inner.lock().pending.remove(&branch);
                return;
            }
            count(&inner, |s| s.notify_retransmissions += 1);
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    });
}

pub(super) fn count(inner: &Inner, f: impl FnOnce(&mut SipStats)) {
    f(&mut inner.lock().stats);
    inner.bump();
}
