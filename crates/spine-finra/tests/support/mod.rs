//! What the source tests share: the engine with FINRA and the calendar, generated weeks as
//! FINRA's API rows, and a loopback file server that answers conditional GETs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use spine_engine::{Engine, Registry};
use spine_gen::{GenConfig, GeneratedFile};
use spine_model::Tier;
use spine_store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The run's clock in these tests.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap()
}

/// The engine with FINRA and the exchange calendar it depends on, the calendars loaded.
pub async fn engine(store: &Store) -> Engine {
    let registry = Registry::new()
        .with(spine_finra::plugin())
        .and_then(|r| r.with(Arc::new(spine_calendar::CalendarDomain)))
        .unwrap();
    let engine = Engine::new(store.clone(), registry);
    spine_calendar::load_shipped(&engine, now())
        .await
        .expect("load the shipped calendars");
    engine
}

/// One generated week of one tier (FINRA's exact file format).
pub fn generate_week(
    dir: &Path,
    tier: Tier,
    week_ending: NaiveDate,
    symbols: usize,
) -> GeneratedFile {
    spine_gen::generate(
        &GenConfig {
            weeks: 1,
            symbols,
            mpids: 12,
            first_week_ending: week_ending,
            tiers: vec![tier],
            ..GenConfig::default()
        },
        dir,
    )
    .expect("generate")
    .remove(0)
}

/// The lines of a generated file after its header.
pub fn data_lines(file: &GeneratedFile) -> Vec<String> {
    std::fs::read_to_string(&file.path)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// A file's lines as the JSON rows FINRA's API serves for them: every field, `weekStartDate`
/// the week's Monday, quantities alternately as JSON numbers and strings (FINRA sends both).
pub fn api_rows(lines: &[String], week_start: NaiveDate, tier_identifier: &str) -> Vec<Value> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('|').collect();
            let quantity = |s: &str| match s.parse::<u64>() {
                Ok(n) if i % 2 == 0 => json!(n),
                _ => json!(s),
            };
            json!({
                "weekStartDate": week_start.to_string(),
                "tierIdentifier": tier_identifier,
                "tierDescription": f[0],
                "summaryTypeCode": "ATS_W_SMBL_FIRM",
                "issueSymbolIdentifier": f[1],
                "issueName": f[2],
                "marketParticipantName": f[3],
                "MPID": f[4],
                "firmCRDNumber": 100_000 + i,
                "totalWeeklyShareQuantity": quantity(f[5]),
                "totalWeeklyTradeCount": quantity(f[6]),
                "lastUpdateDate": f[7],
            })
        })
        .collect()
}

/// (shares, trades) summed over file lines.
pub fn totals(lines: &[String]) -> (i64, i64) {
    lines.iter().fold((0, 0), |(s, t), line| {
        let f: Vec<&str> = line.split('|').collect();
        (
            s + f[5].parse::<i64>().unwrap_or(0),
            t + f[6].parse::<i64>().unwrap_or(0),
        )
    })
}

/// One file the server serves: its body and ETag.
#[derive(Debug, Clone)]
pub struct Served {
    /// The body.
    pub body: Vec<u8>,
    /// The ETag sent with it (and compared with `If-None-Match`).
    pub etag: Option<String>,
    /// The `Content-Type` sent.
    pub content_type: &'static str,
}

/// One GET the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The path.
    pub path: String,
    /// The `If-None-Match` sent, if any.
    pub if_none_match: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Files {
    served: HashMap<String, Served>,
    seen: Vec<Seen>,
}

/// A loopback file server (127.0.0.1 only) answering GETs from an in-memory map, 304 when
/// `If-None-Match` names the current ETag, 404 for anything else. Dropping it stops it.
pub struct FileServer {
    addr: SocketAddr,
    files: Arc<Mutex<Files>>,
    task: JoinHandle<()>,
}

impl FileServer {
    /// Starts serving nothing on `127.0.0.1:0`.
    pub async fn start() -> FileServer {
        let files = Arc::new(Mutex::new(Files::default()));
        let router = Router::new().fallback(serve).with_state(files.clone());
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FileServer { addr, files, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `path` with `etag` (replacing what was there).
    pub fn put(&self, path: &str, body: Vec<u8>, etag: Option<&str>) {
        self.files.lock().unwrap().served.insert(
            path.to_owned(),
            Served {
                body,
                etag: etag.map(str::to_owned),
                content_type: "text/plain",
            },
        );
    }

    /// Serves an HTML page at `path` (a portal's error page where a file was expected).
    pub fn put_html(&self, path: &str, body: &str) {
        self.files.lock().unwrap().served.insert(
            path.to_owned(),
            Served {
                body: body.as_bytes().to_vec(),
                etag: None,
                content_type: "text/html",
            },
        );
    }

    /// Every GET answered, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.files.lock().unwrap().seen.clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(files): State<Arc<Mutex<Files>>>, uri: Uri, headers: HeaderMap) -> Response {
    let mut files = files.lock().unwrap();
    let path = uri.path().to_owned();
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = match files.served.get(&path) {
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
        Some(file) if file.etag.is_some() && file.etag == if_none_match => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut().insert(
                header::ETAG,
                HeaderValue::from_str(file.etag.as_deref().unwrap()).unwrap(),
            );
            r
        }
        Some(file) => {
            let mut r = Response::new(Body::from(file.body.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(file.content_type),
            );
            if let Some(etag) = &file.etag {
                r.headers_mut()
                    .insert(header::ETAG, HeaderValue::from_str(etag).unwrap());
            }
            r
        }
    };
    files.seen.push(Seen {
        path,
        if_none_match,
        status: response.status().as_u16(),
    });
    response
}
