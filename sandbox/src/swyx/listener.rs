//! A listener that can stop listening and start again on the same port, synchronously, to emulate
//! a connector process that is down ("connection refused") and comes back at the same address.
//!
//! Closing drops the listening socket at once (new connects are refused) and kills the
//! connections it had accepted (a stopped process closes its sockets too), so a client's pooled
//! keep-alive connection cannot keep reaching a "stopped" connector.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::sync::lock;

pub(crate) struct Switch {
    addr: SocketAddr,
    runtime: tokio::runtime::Handle,
    state: Mutex<SwitchState>,
    /// Bumped on every close; connections from an older epoch are dead.
    epoch: AtomicU64,
    next_conn: AtomicU64,
}

#[derive(Default)]
struct SwitchState {
    listener: Option<TcpListener>,
    accept_waker: Option<Waker>,
    /// Wakers of connections parked in a read, so a close can make them notice.
    conn_wakers: HashMap<u64, Waker>,
}

impl Switch {
    /// Binds `addr` (port 0 = any) inside the current tokio runtime.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Arc<Self>> {
        let listener = listen(addr)?;
        let addr = listener.local_addr()?;
        Ok(Arc::new(Self {
            addr,
            runtime: tokio::runtime::Handle::current(),
            state: Mutex::new(SwitchState {
                listener: Some(listener),
                ..Default::default()
            }),
            epoch: AtomicU64::new(0),
            next_conn: AtomicU64::new(0),
        }))
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn is_listening(&self) -> bool {
        lock(&self.state).listener.is_some()
    }

    /// Stops listening now and kills the accepted connections.
    pub(crate) fn close(&self) {
        let mut st = lock(&self.state);
        st.listener = None;
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for (_, w) in st.conn_wakers.drain() {
            w.wake();
        }
    }

    /// Listens again on the same address (no-op if listening).
    pub(crate) fn reopen(&self) -> io::Result<()> {
        let mut st = lock(&self.state);
        if st.listener.is_none() {
            let _rt = self.runtime.enter();
            st.listener = Some(listen(self.addr)?);
            if let Some(w) = st.accept_waker.take() {
                w.wake();
            }
        }
        Ok(())
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut st = lock(&self.state);
        // Kept even while listening: a dropped listener forgets its wakers without waking them.
        st.accept_waker = Some(cx.waker().clone());
        match &st.listener {
            Some(l) => l.poll_accept(cx),
            None => Poll::Pending,
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Reopening the same port must not fail on connections still in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The `axum::serve` side of a [`Switch`].
pub(crate) struct SwitchListener(pub(crate) Arc<Switch>);

impl axum::serve::Listener for SwitchListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match std::future::poll_fn(|cx| self.0.poll_accept(cx)).await {
                Ok((stream, peer)) => {
                    let conn = Conn {
                        stream,
                        epoch: self.0.epoch.load(Ordering::SeqCst),
                        id: self.0.next_conn.fetch_add(1, Ordering::Relaxed),
                        switch: self.0.clone(),
                    };
                    return (conn, peer);
                }
                Err(e) => {
                    // E.g. out of file descriptors: pause instead of spinning.
                    tracing::warn!(error = %e, "swyx connector: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.0.addr)
    }
}

/// An accepted connection that dies when its listener is closed.
pub(crate) struct Conn {
    stream: TcpStream,
    epoch: u64,
    id: u64,
    switch: Arc<Switch>,
}

impl Conn {
    fn check(&self) -> io::Result<()> {
        if self.switch.epoch.load(Ordering::SeqCst) == self.epoch {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connector stopped listening",
            ))
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        lock(&self.switch.state).conn_wakers.remove(&self.id);
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        let res = Pin::new(&mut self.stream).poll_read(cx, buf);
        if res.is_pending() {
            let mut st = lock(&self.switch.state);
            // Re-checked under the lock: a close between the two checks would miss this waker.
            self.check()?;
            st.conn_wakers.insert(self.id, cx.waker().clone());
        }
        res
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
