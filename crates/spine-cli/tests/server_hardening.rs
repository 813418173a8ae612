//! `spine serve`'s protections, at the socket and the process: timeouts on idle connections and
//! request heads, the connection and expensive-request caps, the per-request timeout, the Host
//! allowlist, the graceful stop, `--public` and plain logs. Each server runs on `127.0.0.1:0`
//! over a fresh SQLite database and is stopped at the end; every wait is bounded.
//!
//! A request is made slow without any test hook in the server: the test holds the SQLite
//! pool's only connection in an open transaction, so the handler waits for the database (the
//! pool's acquire timeout is 5 s; the tests hold it for about one).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use serde_json::{Value, json};
use spine_cli::server::{AllowedHosts, AppState, ServerConfig, openapi, serve};
use spine_store::test_support::TestDb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on an ephemeral loopback port.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(db: &TestDb, config: ServerConfig) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            AppState::new(common::engine(&db.store), None),
            config,
            async move {
                stopped.await.ok();
            },
        ));
        Server { addr, stop, task }
    }

    /// Stops the server and waits (bounded) until every connection has finished.
    async fn stop(self) {
        self.stop.send(()).ok();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task does not panic")
            .expect("the server exits cleanly");
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// One request on a fresh connection (`Connection: close`), read to the end.
    async fn request(&self, head: &str) -> Reply {
        let mut stream = self.connect().await;
        stream.write_all(head.as_bytes()).await.unwrap();
        read_reply(&mut stream).await
    }

    /// `GET path` for `localhost`, as a client on this machine sends it.
    async fn get(&self, path: &str) -> Reply {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            self.addr.port()
        ))
        .await
    }
}

/// An answer read off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Reads one answer (head and `Content-Length` body), within 10 s.
async fn read_reply(stream: &mut TcpStream) -> Reply {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk).await.expect("read the answer");
            assert!(
                n > 0,
                "closed before an answer: {:?}",
                String::from_utf8_lossy(&data)
            );
            data.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.expect("read the body");
            assert!(n > 0, "closed in the middle of the body");
            body.extend_from_slice(&chunk[..n]);
        }
        Reply {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    })
    .await
    .expect("an answer within 10 s")
}

/// Waits (at most `limit`) for the server to close `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Err(_) => panic!("the server did not close the connection within {limit:?}"),
        Ok(Ok(0)) | Ok(Err(_)) => started.elapsed(),
        Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
    }
}

/// Asserts a refusal: the status, a JSON `{"error", "status"}` body naming `mentions`, the
/// `Retry-After` header when `retry_after` says so, and that the OpenAPI document describes
/// exactly this answer for `route` (a path template of the document).
#[track_caller]
fn assert_refusal(
    reply: &Reply,
    status: u16,
    retry_after: Option<&str>,
    route: &str,
    mentions: &[&str],
) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{reply:?}"
    );
    let body = reply.json();
    assert_eq!(body["status"], json!(status), "{body}");
    let error = body["error"].as_str().expect("an error message");
    for m in mentions {
        assert!(error.contains(m), "`{error}` should mention `{m}`");
    }
    assert_eq!(reply.header("retry-after"), retry_after, "{reply:?}");
    let doc = openapi::document();
    let documented = &doc["paths"][route]["get"]["responses"][status.to_string()];
    assert!(
        documented.is_object(),
        "{route}: {status} is not documented"
    );
    if retry_after.is_some() {
        assert!(
            documented["headers"]["Retry-After"].is_object(),
            "{route}: Retry-After undocumented"
        );
    }
    // The refusal is the documented error body (for a route whose own 503 is a verdict, one of
    // the two documented bodies).
    let schema = &documented["content"]["application/json"]["schema"];
    let error_schema = json!({"$ref": "#/components/schemas/Error"});
    assert!(
        *schema == error_schema
            || schema["oneOf"]
                .as_array()
                .is_some_and(|o| o.contains(&error_schema)),
        "{route}: {status} does not document the error body: {schema}"
    );
}

fn fast_config() -> ServerConfig {
    ServerConfig {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let db = TestDb::sqlite().await;
    let server = Server::start(
        &db,
        ServerConfig {
            idle_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        },
    )
    .await;
    let mut stream = server.connect().await;
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
        server.addr.port()
    );
    // Keep-alive works: two requests on one connection.
    for _ in 0..2 {
        stream.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(read_reply(&mut stream).await.status, 200);
    }
    // Then nothing is sent: the server closes it after about a second, not never.
    let took = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_client_that_stalls_in_its_request_head_is_cut_off_after_the_header_timeout() {
    let db = TestDb::sqlite().await;
    let server = Server::start(
        &db,
        ServerConfig {
            header_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        },
    )
    .await;
    // Half a request line, half the headers, and a connection that never says anything.
    for partial in ["GET /heal", "GET /health HTTP/1.1\r\nHost: local", ""] {
        let mut stream = server.connect().await;
        stream.write_all(partial.as_bytes()).await.unwrap();
        let took = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(took >= Duration::from_millis(800), "{partial:?}: {took:?}");
    }
    // A slow-loris on a kept-alive connection: the clock starts at the first byte of the next
    // request, and trickling bytes does not restart it.
    let mut stream = server.connect().await;
    let port = server.addr.port();
    stream
        .write_all(format!("GET /health HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_reply(&mut stream).await.status, 200);
    let started = Instant::now();
    let mut cut_off = false;
    for byte in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
        if stream.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    if !cut_off {
        closed_within(&mut stream, Duration::from_secs(3)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_answered_and_its_connection_closed() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, fast_config()).await;
    let mut stream = server.connect().await;
    stream
        .write_all(
            format!(
                "GET /health HTTP/1.1\r\nHost: localhost:{}\r\nContent-Length: 1000000\r\n\r\n0123456789",
                server.addr.port()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // No route reads a body: the answer comes at once, and the unread rest is not waited for.
    assert_eq!(read_reply(&mut stream).await.status, 200);
    closed_within(&mut stream, Duration::from_secs(3)).await;
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn past_max_expensive_a_doctor_request_is_refused_at_once_and_not_queued() {
    let db = TestDb::sqlite().await;
    let server = Server::start(
        &db,
        ServerConfig {
            max_expensive: 1,
            ..ServerConfig::default()
        },
    )
    .await;
    let doctor = "/api/v1/doctor/finra.otc_transparency?weeks=52";

    // The database is busy: the first doctor request waits for it, holding the one slot.
    let busy = db.store.begin().await.unwrap();
    let first = {
        let head = format!(
            "GET {doctor} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            server.addr.port()
        );
        let mut stream = server.connect().await;
        tokio::spawn(async move {
            stream.write_all(head.as_bytes()).await.unwrap();
            read_reply(&mut stream).await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !first.is_finished(),
        "the first request waits for the database"
    );

    // The second is refused immediately, as is any other expensive route (the cap is shared);
    // a cheap route is not capped.
    let started = Instant::now();
    let second = server.get(doctor).await;
    // "At once": well before the database frees up (the test holds it until below).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_refusal(
        &second,
        503,
        Some("1"),
        "/api/v1/doctor/{domain}",
        &["limit of 1 expensive requests", "retry later"],
    );
    let metrics = server.get("/metrics").await;
    assert_refusal(&metrics, 503, Some("1"), "/metrics", &["expensive"]);
    let anomalies = server.get("/api/v1/anomalies").await;
    assert_refusal(
        &anomalies,
        503,
        Some("1"),
        "/api/v1/anomalies",
        &["expensive"],
    );
    assert_eq!(server.get("/api/v1/openapi.json").await.status, 200);
    // A wrong method on an expensive route is still a 405, and takes no slot.
    let post = server
        .request("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(post.status, 405, "{post:?}");

    // The database frees up: the first request answers normally, and the slot is free again.
    drop(busy);
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first request completes")
        .unwrap();
    assert!([200, 503].contains(&first.status), "{first:?}");
    assert!(
        first.json()["blocking"].is_boolean(),
        "a doctor report: {first:?}"
    );
    assert_eq!(first.header("retry-after"), None);
    let again = server.get(doctor).await;
    assert!(again.json()["blocking"].is_boolean(), "{again:?}");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_request_that_runs_past_the_request_timeout_is_answered_503_with_retry_after() {
    let db = TestDb::sqlite().await;
    let server = Server::start(
        &db,
        ServerConfig {
            request_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        },
    )
    .await;
    let busy = db.store.begin().await.unwrap();
    let started = Instant::now();
    let reply = server
        .get("/api/v1/readiness/finra.otc_transparency/2025-12-19")
        .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_refusal(
        &reply,
        503,
        Some("5"),
        "/api/v1/readiness/{domain}/{week_ending}",
        &["did not complete within 1 s"],
    );
    drop(busy);
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn past_max_connections_a_connection_is_answered_503_and_closed() {
    let db = TestDb::sqlite().await;
    let server = Server::start(
        &db,
        ServerConfig {
            max_connections: 2,
            ..ServerConfig::default()
        },
    )
    .await;
    let port = server.addr.port();
    let request = format!("GET /health HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
    // Two kept-alive connections take both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = server.connect().await;
        stream.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(read_reply(&mut stream).await.status, 200);
        held.push(stream);
    }
    // The third is answered at once and closed.
    let started = Instant::now();
    let mut third = server.connect().await;
    third.write_all(request.as_bytes()).await.unwrap();
    let reply = read_reply(&mut third).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_refusal(
        &reply,
        503,
        Some("1"),
        "/health",
        &["too many open connections"],
    );
    assert_eq!(reply.header("connection"), Some("close"));
    closed_within(&mut third, Duration::from_secs(3)).await;
    // A slot frees when a connection closes.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = server.get("/health").await;
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed: {reply:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn only_the_allowed_hosts_are_answered() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, ServerConfig::default()).await;
    let port = server.addr.port();
    let get = |host: Option<&str>, version: &str| {
        let host = host.map_or(String::new(), |h| format!("Host: {h}\r\n"));
        format!("GET /health {version}\r\n{host}Connection: close\r\n\r\n")
    };
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "LocalHost".to_string(),
    ] {
        let reply = server.request(&get(Some(&host), "HTTP/1.1")).await;
        assert_eq!(reply.status, 200, "{host}: {reply:?}");
    }
    // A DNS-rebinding page's requests carry its own name.
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        "localhost@evil.example".to_string(),
    ] {
        let reply = server.request(&get(Some(&host), "HTTP/1.1")).await;
        assert_refusal(
            &reply,
            421,
            None,
            "/health",
            &["does not answer to the host", "--allow-host"],
        );
    }
    // Also on routes that would be refused otherwise, and for unknown paths.
    let reply = server
        .request("GET /api/v1/doctor/finra.otc_transparency HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .await;
    assert_refusal(
        &reply,
        421,
        None,
        "/api/v1/doctor/{domain}",
        &["evil.example"],
    );
    let reply = server
        .request("GET /nothing HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(reply.status, 421);
    // An absolute-form target names the host too, and wins over Host.
    let reply = server
        .request(&format!("GET http://evil.example/health HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"))
        .await;
    assert_eq!(reply.status, 421, "{reply:?}");
    // HTTP/1.1 requires a Host; HTTP/1.0 may omit it.
    let reply = server.request(&get(None, "HTTP/1.1")).await;
    assert_refusal(&reply, 400, None, "/health", &["no Host header"]);
    let reply = server
        .request("GET /health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .await;
    assert_refusal(&reply, 400, None, "/health", &["more than one Host"]);
    let reply = server.request(&get(None, "HTTP/1.0")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    server.stop().await;

    // --allow-host adds names, on any port.
    let server = Server::start(
        &db,
        ServerConfig {
            allowed_hosts: AllowedHosts::with(&["spine.internal.example".to_string()]).unwrap(),
            ..ServerConfig::default()
        },
    )
    .await;
    let reply = server
        .request(&get(Some("spine.internal.example:8080"), "HTTP/1.1"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = server.request(&get(Some("evil.example"), "HTTP/1.1")).await;
    assert_eq!(reply.status, 421);
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn stopping_lets_the_in_flight_request_finish_and_closes_idle_connections() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, ServerConfig::default()).await;
    let port = server.addr.port();
    let mut idle = server.connect().await;
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_reply(&mut idle).await.status, 200);

    let busy = db.store.begin().await.unwrap();
    let mut in_flight = server.connect().await;
    in_flight
        .write_all(
            format!("GET /api/v1/readiness/finra.otc_transparency/2025-12-19 HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Server { stop, task, .. } = server;
    stop.send(()).unwrap();
    // The idle connection is closed at once; the stop waits for the in-flight request.
    closed_within(&mut idle, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !task.is_finished(),
        "the server waits for the in-flight request"
    );
    drop(busy);
    let reply = read_reply(&mut in_flight).await;
    assert_eq!(reply.status, 503, "not ready, answered in full: {reply:?}");
    assert_eq!(reply.json()["status"], json!("NOT_READY"));
    closed_within(&mut in_flight, Duration::from_secs(3)).await;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    db.cleanup().await;
}

/// The `spine` binary on a database in `dir`, with stderr to `log`.
/// Sets up the database in `dir` with `spine db migrate`, as an operator does before
/// `spine serve` (which opens an existing database only).
fn migrate(dir: &std::path::Path) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("spine.db").display());
    let migrated = Command::new(env!("CARGO_BIN_EXE_spine"))
        .env("DATABASE_URL", &url)
        .args(["db", "migrate"])
        .output()
        .expect("run spine db migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
}

fn spine_serve(dir: &std::path::Path, args: &[&str], log: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_spine"))
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("spine.db").display()),
        )
        .env_remove("NO_COLOR")
        .env_remove("SPINE_LOG")
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("run spine serve")
}

/// Waits (at most 60 s: the binary migrates its database first) for the address the server
/// reports in `log`.
fn listening_address(log: &std::path::Path, child: &mut std::process::Child) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            return rest.split(' ').next().unwrap().parse().unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("spine serve exited ({status}): {text}");
        }
        assert!(Instant::now() < deadline, "no address in the log: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops the server as a service manager does (SIGTERM) and waits for it, bounded.
fn terminate(child: &mut std::process::Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "spine serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_non_loopback_bind_needs_public_and_public_needs_allow_host() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    // A server that starts instead of refusing is killed after 60 s (and the test fails).
    let run = |args: &[&str]| {
        let mut child = spine_serve(dir.path(), args, &log);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "spine serve {args:?} did not exit: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.code(), std::fs::read_to_string(&log).unwrap())
    };

    let (code, stderr) = run(&["--bind", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    for m in [
        "0.0.0.0:0 is not a loopback address",
        "--public",
        "--allow-host",
    ] {
        assert!(stderr.contains(m), "`{stderr}` should mention `{m}`");
    }
    assert!(
        !dir.path().join("spine.db").exists(),
        "a usage error opens nothing"
    );

    let (code, stderr) = run(&["--bind", "0.0.0.0:0", "--public"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--allow-host"), "{stderr}");

    let (code, stderr) = run(&["--allow-host", "spine.example.com:8080"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("without a port"), "{stderr}");

    // Given both, it starts, says it is exposed and to which names it answers.
    migrate(dir.path());
    let mut child = spine_serve(
        dir.path(),
        &[
            "--bind",
            "0.0.0.0:0",
            "--public",
            "--allow-host",
            "spine.internal.example",
        ],
        &log,
    );
    let addr = listening_address(&log, &mut child);
    terminate(&mut child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(addr.ip().is_unspecified(), "{addr}");
    assert!(
        stderr.contains("warning: --public")
            && stderr.contains("reachable from the network")
            && stderr.contains("spine.internal.example"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_refused_request_is_logged_once_in_plain_text_without_its_query_string() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    migrate(dir.path());
    let mut child = spine_serve(dir.path(), &["--bind", "127.0.0.1:0"], &log);
    // The server is another process: blocking this test's thread while it starts is harmless.
    let addr = listening_address(&log, &mut child);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /api/v1/anomalies?severity=ERROR&token=s3cret HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(read_reply(&mut stream).await.status, 421);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(read_reply(&mut stream).await.status, 200);
    drop(stream);
    terminate(&mut child);

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("\x1b["),
        "colour codes in a log file: {text:?}"
    );
    let refusals: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("refused a request"))
        .collect();
    assert_eq!(refusals.len(), 1, "logged once: {text}");
    let line = refusals[0];
    for m in ["WARN", "(421)", "path=/api/v1/anomalies", "evil.example"] {
        assert!(line.contains(m), "`{line}` should mention `{m}`");
    }
    assert!(
        !text.contains("s3cret") && !text.contains("severity=ERROR"),
        "the query string is not logged: {text}"
    );
    assert!(text.contains("spine serve: stopped"), "{text}");
}
