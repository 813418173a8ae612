//! A loopback web site that serves FINRA files as FINRA's download site does
//! (`/TIER/WEEK_ENDING.csv`, 404 until published), for the tests that drive `spine worker`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::NaiveDate;
use spine_gen::{GenConfig, generate};
use spine_model::Tier;

/// What the site serves: `TIER/WEEK_ENDING.csv` → bytes (absent: 404).
pub type Site = Arc<Mutex<HashMap<String, Vec<u8>>>>;

async fn serve_file(
    State(site): State<Site>,
    UrlPath((tier, file)): UrlPath<(String, String)>,
) -> Result<Vec<u8>, StatusCode> {
    site.lock()
        .unwrap()
        .get(&format!("{tier}/{file}"))
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)
}

/// Starts the site on 127.0.0.1 (stopped when the returned sender is dropped).
pub async fn start_site(site: Site) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    serve(
        axum::Router::new()
            .route("/{tier}/{file}", get(serve_file))
            .with_state(site),
    )
    .await
}

/// Serves `app` on a free port of 127.0.0.1 until the returned sender is dropped: the loopback
/// server of every test that imitates a publisher.
pub async fn serve(app: axum::Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .ok();
    });
    (addr, stop)
}

/// A date from its ISO text.
pub fn week(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The FINRA file of one tier and week: `symbols` symbols, deterministic bytes.
pub fn file(dir: &Path, tier: Tier, week_ending: NaiveDate, symbols: usize) -> Vec<u8> {
    let out = dir.join(format!("{tier}_{week_ending}_{symbols}"));
    let files = generate(
        &GenConfig {
            weeks: 1,
            symbols,
            mpids: 20,
            seed: 5,
            first_week_ending: week_ending,
            tiers: vec![tier],
            faults: Vec::new(),
        },
        &out,
    )
    .unwrap();
    std::fs::read(&files[0].path).unwrap()
}
