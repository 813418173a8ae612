//! What the CLI's integration tests share: the engine the binary runs, and ingesting a generated
//! file through the engine's capture lifecycle at an explicit time.

#![allow(dead_code)]

pub mod site;

use chrono::{DateTime, Utc};
use spine_engine::capture::{self, FetchedInput};
use spine_engine::{CaptureReport, Engine, RunContext};
use spine_finra::FinraDomain;
use spine_gen::GeneratedFile;
use spine_model::PartitionKey;
use spine_store::Store;

/// The engine of the `spine` binary (FINRA and the exchange calendar) over a test database.
pub fn engine(store: &Store) -> Engine {
    Engine::new(store.clone(), spine_cli::registry::registry())
}

/// Ingests a generated file with its own tier and week at `at`, as `spine ingest` would.
pub async fn ingest(store: &Store, f: &GeneratedFile, at: DateTime<Utc>) -> CaptureReport {
    let input = FetchedInput::local_file(&f.path).unwrap();
    capture::ingest_fetched(
        &engine(store),
        &FinraDomain::default(),
        &input,
        &PartitionKey::week_tier(f.week_ending, f.tier),
        &RunContext::quiet(at),
    )
    .await
    .unwrap_or_else(|e| panic!("ingest {}: {e}", f.path.display()))
}

/// Loads the shipped exchange calendars at `at`.
pub async fn load_calendars(store: &Store, at: DateTime<Utc>) {
    spine_calendar::load_shipped(&engine(store), at)
        .await
        .expect("load the shipped calendars");
}
