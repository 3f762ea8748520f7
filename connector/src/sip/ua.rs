//! The monitor user as a user agent: how our requests are addressed and sent (Via, Contact,
//! From, tags, Call-IDs), with the digest answer to a 401/407 challenge (RFC 3261 §22.2: the
//! same request again, CSeq + 1, with credentials).

use super::digest::{Credentials, authorize};
use super::message::{Message, Outgoing};
use super::transaction::TxLayer;
use crate::config::SipConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

pub struct Ua {
    pub cfg: SipConfig,
    pub tx: Arc<TxLayer>,
    pub local: watch::Receiver<SocketAddr>,
    pub transport: &'static str,
    pub creds: Credentials,
}

pub fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Ua {
    /// Our address of record, `sip:monitor@domain`.
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.cfg.username, self.cfg.domain)
    }

    pub fn contact(&self) -> String {
        let local = *self.local.borrow();
        let tp = match self.transport {
            "TCP" => ";transport=tcp",
            "TLS" => ";transport=tls",
            _ => "",
        };
        let scheme = if self.transport == "TLS" {
            "sips"
        } else {
            "sip"
        };
        format!("<{scheme}:{}@{local}{tp}>", self.cfg.username)
    }

    pub fn new_call_id(&self) -> String {
        format!("{}@{}", random_token(), self.local.borrow().ip())
    }

    /// Sends `req` (its Via is filled here) and returns the final response and the CSeq used,
    /// answering one digest challenge on the way.
    pub async fn send(&self, mut req: Outgoing) -> Result<(Message, u32), String> {
        let first = self.attempt(&mut req).await?;
        let code = first.code().unwrap_or(0);
        if code != 401 && code != 407 {
            return Ok((first, req.cseq));
        }
        let challenges = first.digest_challenges();
        let value = authorize(&challenges, &self.creds, req.method, &req.uri, 1)?;
        let header = if code == 401 {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        req.extra
            .retain(|(k, _)| k != "Authorization" && k != "Proxy-Authorization");
        req.extra.push((header.to_string(), value));
        req.cseq += 1;
        let second = self.attempt(&mut req).await?;
        if matches!(second.code(), Some(401 | 407)) {
            return Err(format!(
                "{} was refused with {} after authenticating as {:?}: check sip.username, sip.auth_username and sip.password",
                req.method,
                second.code().unwrap_or(0),
                self.creds.username
            ));
        }
        Ok((second, req.cseq))
    }

    async fn attempt(&self, req: &mut Outgoing) -> Result<Message, String> {
        let branch = format!("z9hG4bK{}", random_token());
        let local = *self.local.borrow();
        req.via = format!("SIP/2.0/{} {local};branch={branch};rport", self.transport);
        self.tx
            .request(&branch, req.render())
            .await
            .map_err(|e| format!("{} {}: {e}", req.method, req.uri))
    }
}
