//! The accept loop of `spine serve` and the life of each connection.
//!
//! `axum::serve` has no knobs (its own docs send you to hyper for them), so this is the same
//! loop with the limits `spine serve` needs:
//!
//! - **a connection cap**: each connection holds a permit of a semaphore of
//!   `max_connections`; past it a connection is answered a canned 503 with `Retry-After` and
//!   closed (or, when even the few slots for that are taken, closed at once), never queued;
//! - **timeouts per connection**, kept by a small watchdog beside hyper's HTTP/1 connection:
//!   the request head must arrive within `header_timeout` (from the opening of the connection,
//!   then from the first byte of each later request), a keep-alive connection is closed after
//!   `idle_timeout` with no byte sent or received, and a connection asked to close that does
//!   not (a client that stopped reading its answer) is dropped `header_timeout` later. hyper's
//!   own `header_read_timeout` cannot express this: it also runs while a keep-alive connection
//!   waits for its next request, so it cannot be both short (slow-loris) and long (keep-alive)
//!   (hyperium/hyper#1628, #3828). It is kept as a backstop at `header_timeout + idle_timeout`.
//! - **graceful shutdown**: when the shutdown future completes the listener closes, every
//!   connection is asked to finish its in-flight request and close, and the loop returns once
//!   all have (each bounded by the timeouts above).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::Service as _;

use super::config::{RETRY_AFTER_BUSY_SECS, ServerConfig};

/// Refused connections being answered at once; past this a refused connection is closed
/// without an answer, so a flood costs neither unbounded tasks nor file descriptors.
const REFUSAL_SLOTS: usize = 64;

/// How long a refused connection is kept to read (and discard) what the client sent, so
/// closing does not reset the connection before the client has read the 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Pause after an accept error that is not about one connection (out of file descriptors):
/// retrying at once would spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// Serves `app` on `listener` with `config`'s limits until `shutdown` completes, then lets
/// every open connection finish its in-flight request.
pub(super) async fn run<F>(
    listener: TcpListener,
    app: Router,
    config: ServerConfig,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSAL_SLOTS));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            // The client gave up before we got to it: nothing to do.
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                tracing::error!("cannot accept a connection: {e}");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                }
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(connection(
                    stream,
                    peer,
                    app.clone(),
                    config.clone(),
                    stopping.clone(),
                    slot,
                ));
            }
            Err(_) => refuse(stream, peer, &refusals, config.max_connections),
        }
    }
    // New connections are refused by the operating system from here on.
    drop(listener);
    stop.send_replace(());
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Accept errors that concern one connection only (it was reset or aborted while queued).
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The whole answer to a connection over the cap, written before reading anything.
fn busy_response() -> Vec<u8> {
    let body = serde_json::json!({
        "error": "the server has too many open connections; retry later",
        "status": 503,
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {RETRY_AFTER_BUSY_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the cap with a 503 and closes it, in a task bounded in time and
/// number ([`REFUSAL_SLOTS`], [`REFUSAL_LINGER`]); past that number, closes it at once.
fn refuse(stream: TcpStream, peer: SocketAddr, refusals: &Arc<Semaphore>, max: usize) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        tracing::warn!(
            %peer,
            "refused a connection: {max} connections are open (--max-connections); closed it unanswered"
        );
        return;
    };
    tracing::warn!(
        %peer,
        "refused a connection: {max} connections are open (--max-connections); answered 503"
    );
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(&busy_response()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<(), io::Error>(())
        })
        .await;
    });
}

/// Serves one connection until it ends, is closed by the watchdog, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    config: Arc<ServerConfig>,
    mut stopping: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    let clock = Arc::new(ConnectionClock::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: clock.clone(),
    });
    let service = {
        let clock = clock.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = clock.busy();
            // The router is always ready (axum's `Router::poll_ready` returns `Ready`).
            let answer = app.clone().call(request);
            async move {
                let response = answer.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.header_timeout + config.idle_timeout);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut closing_since: Option<Instant> = None;
    let mut stop_seen = false;
    loop {
        let deadline = clock.deadline(&config, closing_since);
        let changed = clock.changed.notified();
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            _ = stopping.changed(), if !stop_seen => {
                stop_seen = true;
                conn.as_mut().graceful_shutdown();
                closing_since.get_or_insert_with(Instant::now);
            }
            () = changed => {}
            () = sleep_until(deadline.map(|(at, _)| at)) => match deadline.map(|(_, why)| why) {
                Some(Expiry::Idle) => {
                    tracing::debug!(%peer, "closing an idle connection (--idle-timeout)");
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
                Some(Expiry::Head) => {
                    tracing::warn!(
                        %peer,
                        "cut off a client that did not send a complete request head within {:?} (--header-timeout)",
                        config.header_timeout
                    );
                    return;
                }
                Some(Expiry::Close) => {
                    tracing::debug!(%peer, "dropped a connection that did not close when asked");
                    return;
                }
                None => {}
            },
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is between requests, for the watchdog.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head since `since`: the connection opened then, or the first
    /// byte of its next request arrived then.
    Head { since: Instant },
    /// Answering `requests` (hyper answers one at a time; counted all the same).
    Busy { requests: usize },
    /// Nothing to answer; the last byte was sent or received at `since`.
    Idle { since: Instant },
}

/// Which limit a deadline enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// The request head did not arrive in time: drop the connection.
    Head,
    /// Idle for too long: ask hyper to close (it closes at once when truly idle).
    Idle,
    /// Asked to close and has not: drop it.
    Close,
}

/// One connection's phase, moved by its reads and writes ([`Watched`]) and its requests
/// ([`ConnectionClock::busy`]), and read by its watchdog.
#[derive(Debug)]
struct ConnectionClock {
    phase: Mutex<Phase>,
    /// Woken when a deadline moves earlier (a request ends, a request head starts).
    changed: Notify,
}

impl ConnectionClock {
    fn new() -> ConnectionClock {
        ConnectionClock {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: on an idle connection, a request head has started.
    fn on_read(&self) {
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head {
                since: Instant::now(),
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes left: an answer still being sent keeps the connection from being idle.
    fn on_write(&self) {
        if let Phase::Idle { since } = &mut *self.phase() {
            *since = Instant::now();
        }
    }

    /// A request is being answered until the guard is dropped.
    fn busy(self: &Arc<Self>) -> BusyGuard {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            _ => Phase::Busy { requests: 1 },
        };
        BusyGuard(self.clone())
    }

    /// The next deadline, if any: none while a request is answered (the request timeout
    /// bounds that).
    fn deadline(
        &self,
        config: &ServerConfig,
        closing_since: Option<Instant>,
    ) -> Option<(Instant, Expiry)> {
        match *self.phase() {
            Phase::Head { since } => Some((since + config.header_timeout, Expiry::Head)),
            Phase::Busy { .. } => None,
            Phase::Idle { since } => Some(match closing_since {
                None => (since + config.idle_timeout, Expiry::Idle),
                Some(closing) => (since.max(closing) + config.header_timeout, Expiry::Close),
            }),
        }
    }
}

/// Marks a request answered when dropped (whether it completed or was abandoned).
struct BusyGuard(Arc<ConnectionClock>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        *phase = match *phase {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            _ => Phase::Idle {
                since: Instant::now(),
            },
        };
        drop(phase);
        self.0.changed.notify_one();
    }
}

/// The connection's socket, telling its clock when bytes move.
struct Watched {
    inner: TcpStream,
    clock: Arc<ConnectionClock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.clock.on_read();
        }
        result
    }
}

impl Watched {
    fn wrote(&self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.on_write();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
