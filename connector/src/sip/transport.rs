//! The one flow between the connector and SwyxServer (RFC 3261 §18): a connected UDP socket, or
//! one TCP or TLS connection that is re-opened when it drops. Outgoing bytes go in through a
//! channel; complete incoming messages come out through another, with `Reset` after a new
//! connection (the server forgot our registration and dialogs with the old one).
//!
//! Only the configured server's address is accepted: a connected UDP socket drops datagrams from
//! anywhere else, so nobody else on the network can forge a NOTIFY that makes a user "speak".

use super::message::{Message, frame_len};
use crate::config::{SipConfig, SipTransport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

pub enum Incoming {
    Message(Box<Message>),
    /// A new stream connection replaced a lost one.
    Reset,
}

pub struct Transport {
    pub out: mpsc::Sender<Vec<u8>>,
    /// Our address as the server sees the flow (for Via and Contact); changes on reconnect.
    pub local: watch::Receiver<SocketAddr>,
    pub reliable: bool,
    pub name: &'static str,
}

pub async fn resolve(server: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(server)
        .await
        .map_err(|e| format!("cannot resolve sip.server {server:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("sip.server {server:?} resolves to no address"))
}

/// Opens the flow and starts its task; the first connection must succeed (a wrong address is a
/// configuration error to report at start), later ones are retried.
pub async fn open(
    cfg: &SipConfig,
    incoming: mpsc::Sender<Incoming>,
    stop: watch::Receiver<bool>,
) -> Result<Transport, String> {
    let peer = resolve(&cfg.server).await?;
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(1024);
    match cfg.transport {
        SipTransport::Udp => {
            let sock = UdpSocket::bind(cfg.local_address)
                .await
                .map_err(|e| format!("cannot bind sip.local_address {}: {e}", cfg.local_address))?;
            sock.connect(peer)
                .await
                .map_err(|e| format!("cannot reach {peer}: {e}"))?;
            let local = sock.local_addr().map_err(|e| e.to_string())?;
            let (_, local_rx) = watch::channel(local);
            tokio::spawn(run_udp(Arc::new(sock), out_rx, incoming, stop));
            Ok(Transport {
                out: out_tx,
                local: local_rx,
                reliable: false,
                name: "UDP",
            })
        }
        SipTransport::Tcp | SipTransport::Tls => {
            let tls = match cfg.transport {
                SipTransport::Tls => Some(super::tls::connector(cfg)?),
                _ => None,
            };
            let server_name = cfg.tls_server_name.clone().unwrap_or_else(|| {
                cfg.server
                    .rsplit_once(':')
                    .map_or(cfg.server.clone(), |(h, _)| h.to_string())
            });
            let dialer = Dialer {
                peer,
                tls,
                server_name,
                bind: cfg.local_address,
            };
            let first = dialer.connect().await?;
            let (local_tx, local_rx) = watch::channel(first.1);
            let name = if dialer.tls.is_some() { "TLS" } else { "TCP" };
            tokio::spawn(run_stream(
                dialer,
                first,
                out_rx,
                incoming,
                local_tx,
                stop,
                cfg.retry_min,
                cfg.retry_max,
            ));
            Ok(Transport {
                out: out_tx,
                local: local_rx,
                reliable: true,
                name,
            })
        }
    }
}

async fn run_udp(
    sock: Arc<UdpSocket>,
    mut out: mpsc::Receiver<Vec<u8>>,
    incoming: mpsc::Sender<Incoming>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            _ = crate::runtime::stopped(&mut stop) => return,
            Some(bytes) = out.recv() => {
                if let Err(e) = sock.send(&bytes).await {
                    // The transaction layer retransmits; an ICMP error is not fatal.
                    tracing::debug!(error = %e, "SIP UDP send failed");
                }
            }
            r = sock.recv(&mut buf) => match r {
                Ok(n) => deliver(&buf[..n], &incoming).await,
                Err(e) => tracing::debug!(error = %e, "SIP UDP receive failed"),
            },
        }
    }
}

async fn deliver(bytes: &[u8], incoming: &mpsc::Sender<Incoming>) {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return; // keep-alive
    }
    match Message::parse(bytes) {
        Ok(m) => {
            let _ = incoming.send(Incoming::Message(Box::new(m))).await;
        }
        Err(e) => tracing::warn!(error = %e, "dropped an unparsable SIP message"),
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Dialer {
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
    server_name: String,
    bind: SocketAddr,
}

impl Dialer {
    async fn connect(&self) -> Result<(Box<dyn Stream>, SocketAddr), String> {
        let socket = if self.peer.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(|e| e.to_string())?;
        if self.bind.port() != 0 || !self.bind.ip().is_unspecified() {
            socket
                .bind(self.bind)
                .map_err(|e| format!("cannot bind sip.local_address {}: {e}", self.bind))?;
        }
        let tcp: TcpStream =
            tokio::time::timeout(Duration::from_secs(10), socket.connect(self.peer))
                .await
                .map_err(|_| format!("connecting to {} timed out", self.peer))?
                .map_err(|e| format!("cannot connect to {}: {e}", self.peer))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(|e| e.to_string())?;
        match &self.tls {
            None => Ok((Box::new(tcp), local)),
            Some(c) => {
                let name = rustls_pki_types::ServerName::try_from(self.server_name.clone())
                    .map_err(|_| {
                        format!("{:?} is not a valid TLS server name", self.server_name)
                    })?;
                let s = c
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake with {} failed: {e}", self.peer))?;
                Ok((Box::new(s), local))
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_stream(
    dialer: Dialer,
    first: (Box<dyn Stream>, SocketAddr),
    mut out: mpsc::Receiver<Vec<u8>>,
    incoming: mpsc::Sender<Incoming>,
    local: watch::Sender<SocketAddr>,
    mut stop: watch::Receiver<bool>,
    retry_min: Duration,
    retry_max: Duration,
) {
    let mut conn = Some(first.0);
    let mut failures = 0u32;
    loop {
        let Some(stream) = conn.take() else {
            let wait = retry_min
                .saturating_mul(1 << failures.min(10))
                .min(retry_max);
            tokio::select! {
                _ = crate::runtime::stopped(&mut stop) => return,
                _ = tokio::time::sleep(wait) => {}
            }
            match dialer.connect().await {
                Ok((s, addr)) => {
                    failures = 0;
                    local.send_replace(addr);
                    conn = Some(s);
                    let _ = incoming.send(Incoming::Reset).await;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "SIP reconnect failed");
                    // Drop what was queued meanwhile: transactions time out and retry.
                    while out.try_recv().is_ok() {}
                }
            }
            continue;
        };
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut buf: Vec<u8> = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 16_384];
        let lost = 'conn: loop {
            tokio::select! {
                _ = crate::runtime::stopped(&mut stop) => {
                    // Let the last messages (unsubscribe, unregister) go out.
                    while let Ok(bytes) = out.try_recv() {
                        let _ = wr.write_all(&bytes).await;
                    }
                    let _ = wr.shutdown().await;
                    return;
                }
                Some(bytes) = out.recv() => {
                    if let Err(e) = wr.write_all(&bytes).await {
                        break format!("write failed: {e}");
                    }
                }
                r = rd.read(&mut chunk) => match r {
                    Ok(0) => break "the server closed the connection".to_string(),
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        loop {
                            match frame_len(&buf) {
                                Ok(Some(len)) => {
                                    let frame: Vec<u8> = buf.drain(..len).collect();
                                    deliver(&frame, &incoming).await;
                                }
                                Ok(None) => break,
                                Err(e) => break 'conn format!("stream out of sync: {e}"),
                            }
                        }
                    }
                    Err(e) => break format!("read failed: {e}"),
                },
            }
        };
        tracing::warn!(reason = %lost, "SIP connection lost; reconnecting");
    }
}
