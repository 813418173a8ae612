//! Workspace-level scenario tests: one file per scenario under `tests/`, each driven through the
//! real pipelines from generated input and pinned with an insta snapshot. This library holds
//! what the scenarios share: the fixed clock and the ingest helper.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use spine_cli::domains::finra_otc::parse::PublicationLags;
use spine_cli::pipelines::finra_otc::{self, IngestReport, IngestRequest};
use spine_model::capture::content_hash;
use spine_store::Store;

/// The scenarios' fixed clock, so snapshots are stable.
pub fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap()
}

/// Ingests one generated file with the file's own tier and week, on the scenarios' clock.
pub async fn ingest(store: &Store, path: &Path) -> IngestReport {
    ingest_at(store, path, clock()).await
}

/// The moment FINRA publishes a file stamped `last_update`: noon UTC that day, before the
/// schedules' 18:00 due time, so an on-time scenario is on time.
pub fn published_at(last_update: chrono::NaiveDate) -> DateTime<Utc> {
    last_update
        .and_hms_opt(12, 0, 0)
        .expect("noon exists")
        .and_utc()
}

/// Ingests one generated file at time `at` (the capture's `captured_at`).
pub async fn ingest_at(store: &Store, path: &Path, at: DateTime<Utc>) -> IngestReport {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    finra_otc::ingest(
        store,
        IngestRequest {
            path: path.to_path_buf(),
            locator: name,
            content_hash: content_hash(&std::fs::read(path).expect("read generated file")),
            tier: None,
            week_ending: None,
            lags: PublicationLags::default(),
            run: spine_cli::pipelines::RunContext::quiet(at),
        },
    )
    .await
    .expect("ingest")
}
