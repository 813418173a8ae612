//! Loopback receivers for the notification tests: an HTTP receiver that verifies signatures and
//! can fail its first requests, and an SMTP sink that captures messages. Both listen on
//! 127.0.0.1:0 and stop when dropped.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Spine-Delivery`.
    pub delivery_id: String,
    /// Whether `X-Spine-Signature` verified against the receiver's secret (false if absent).
    pub signature_ok: bool,
    /// The status the receiver answered with.
    pub status: u16,
    /// The raw body.
    pub body: String,
}

#[derive(Clone)]
struct ReceiverState {
    secret: Vec<u8>,
    fail_first: Arc<AtomicUsize>,
    fail_status: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

/// An HTTP receiver on loopback.
pub struct Receiver {
    /// Its URL.
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver that answers `fail_status` to its first `fail_first` requests and 200
    /// afterwards, checking signatures with `secret`.
    pub async fn start(secret: &str, fail_first: usize, fail_status: u16) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            secret: secret.as_bytes().to_vec(),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            fail_status,
            got: got.clone(),
        };
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            got,
            task,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status == 200)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let signature_ok = spine_notify::verify(&state.secret, &body, &header("x-spine-signature"));
    let fail = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail { state.fail_status } else { 200 };
    state.got.lock().unwrap().push(Received {
        delivery_id: header("x-spine-delivery"),
        signature_ok,
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::from_u16(status).unwrap()
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO`, each.
    pub to: Vec<String>,
    /// The DATA, with CRLF line ends, dot-stuffing removed.
    pub data: String,
}

/// A minimal SMTP server on loopback: 220, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. No
/// STARTTLS is offered, so an opportunistic client stays in plain text.
pub struct SmtpSink {
    /// `smtp://127.0.0.1:PORT?tls=opportunistic`.
    pub url: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts the sink.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(stream, store).await;
                });
            }
        });
        SmtpSink {
            url: format!("smtp://{addr}?from=spine@example.com"),
            mails,
            task,
        }
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = line.trim_end()[10..].trim().to_string();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(line.trim_end()[8..].trim().to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            store.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
