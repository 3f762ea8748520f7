//! A small transaction layer, written here because the SIP crates that parse messages well do not
//! offer one that fits (see the crate README): RFC 3261 §17.1.2 for our requests (non-INVITE
//! client transaction: over UDP retransmit at T1, doubling up to T2 — Timer E — until a final
//! response; give up after 64·T1 — Timer F; over TCP/TLS no retransmission, Timer F only) and
//! §17.2.2 for the server's NOTIFYs (a retransmitted request gets the cached response again and is
//! not processed twice; the cache lives 64·T1 — Timer J). Responses are matched to transactions
//! by the top Via branch (§17.1.3).

use super::message::Message;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// RFC 3261 T2: the longest retransmission interval for non-INVITE requests.
const T2: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("no final response within {0:?} (Timer F)")]
    Timeout(Duration),
    #[error("the transport is closed")]
    Closed,
}

pub struct TxLayer {
    out: mpsc::Sender<Vec<u8>>,
    t1: Duration,
    reliable: bool,
    clients: Mutex<HashMap<String, oneshot::Sender<Message>>>,
    answered: Mutex<HashMap<String, (Instant, Vec<u8>)>>,
}

impl TxLayer {
    pub fn new(out: mpsc::Sender<Vec<u8>>, t1: Duration, reliable: bool) -> Self {
        Self {
            out,
            t1,
            reliable,
            clients: Mutex::default(),
            answered: Mutex::default(),
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request whose top Via carries `branch` and waits for its final response
    /// (provisional 1xx responses are skipped; they only stop retransmission in §17.1.2.2, which
    /// for the few hundred milliseconds involved here changes nothing worth the code).
    pub async fn request(&self, branch: &str, bytes: Vec<u8>) -> Result<Message, TxError> {
        let (tx, mut rx) = oneshot::channel();
        Self::lock(&self.clients).insert(branch.to_string(), tx);
        let result = self.run(&bytes, &mut rx).await;
        Self::lock(&self.clients).remove(branch);
        result
    }

    async fn run(
        &self,
        bytes: &[u8],
        rx: &mut oneshot::Receiver<Message>,
    ) -> Result<Message, TxError> {
        let timer_f = self.t1 * 64;
        let deadline = Instant::now() + timer_f;
        let mut interval = self.t1;
        self.out
            .send(bytes.to_vec())
            .await
            .map_err(|_| TxError::Closed)?;
        loop {
            let next = if self.reliable {
                deadline
            } else {
                (Instant::now() + interval).min(deadline)
            };
            tokio::select! {
                r = &mut *rx => return r.map_err(|_| TxError::Closed),
                _ = tokio::time::sleep_until(next) => {
                    if Instant::now() >= deadline {
                        return Err(TxError::Timeout(timer_f));
                    }
                    // Timer E fired: retransmit, double the interval up to T2.
                    self.out.send(bytes.to_vec()).await.map_err(|_| TxError::Closed)?;
                    interval = (interval * 2).min(T2);
                }
            }
        }
    }

    /// Routes a response to its transaction; false if none waits for it (a late retransmission).
    pub fn on_response(&self, msg: Message) -> bool {
        if msg.code().is_some_and(|c| c < 200) {
            return true;
        }
        let Some(branch) = msg.branch() else {
            return false;
        };
        match Self::lock(&self.clients).remove(&branch) {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// If `req` retransmits a request already answered, answers it again and returns true.
    pub async fn absorb_retransmission(&self, req: &Message) -> bool {
        let key = server_key(req);
        let cached = {
            let mut answered = Self::lock(&self.answered);
            let now = Instant::now();
            let timer_j = self.t1 * 64;
            answered.retain(|_, (at, _)| now.duration_since(*at) < timer_j);
            answered.get(&key).map(|(_, b)| b.clone())
        };
        match cached {
            Some(bytes) => {
                let _ = self.out.send(bytes).await;
                true
            }
            None => false,
        }
    }

    /// Sends the final response to `req` and keeps it for retransmissions of `req`.
    pub async fn respond(&self, req: &Message, bytes: Vec<u8>) {
        Self::lock(&self.answered).insert(server_key(req), (Instant::now(), bytes.clone()));
        let _ = self.out.send(bytes).await;
    }
}

/// §17.2.3: branch plus method identify a server transaction (sent-by is the same flow here).
fn server_key(req: &Message) -> String {
    format!(
        "{}|{}",
        req.branch().unwrap_or_default(),
        req.method().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(branch: &str) -> Message {
        Message::parse(format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch={branch}\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
        ).as_bytes()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn udp_requests_are_retransmitted_until_answered() {
        let (out, mut wire) = mpsc::channel(16);
        let tx = std::sync::Arc::new(TxLayer::new(out, Duration::from_millis(500), false));
        let t = tx.clone();
        let pending =
            tokio::spawn(async move { t.request("z9hG4bK1", b"REGISTER".to_vec()).await });
        // The first send, then Timer E at 500 ms and 1 s later.
        for _ in 0..3 {
            assert_eq!(wire.recv().await.as_deref(), Some(&b"REGISTER"[..]));
        }
        assert!(tx.on_response(resp("z9hG4bK1")));
        assert_eq!(pending.await.unwrap().unwrap().code(), Some(200));
        assert!(
            !tx.on_response(resp("z9hG4bK1")),
            "a late copy matches nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timer_f_ends_an_unanswered_request() {
        let (out, _wire) = mpsc::channel(64);
        let tx = TxLayer::new(out, Duration::from_millis(10), true);
        assert!(matches!(
            tx.request("b", b"X".to_vec()).await,
            Err(TxError::Timeout(d)) if d == Duration::from_millis(640)
        ));
    }
}
