//! The FINRA OTC stages end to end through the engine, on SQLite and (when configured)
//! PostgreSQL, from generated files in FINRA's exact format — and from the real sample week,
//! which `cargo xtask test` requires whenever it is present beside the project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use spine_engine::capture::{self, FetchedInput, InputBytes, SourceRequest};
use spine_engine::{CaptureReport, Engine, PipelineResult, Registry, RunContext};
use spine_finra::parse::unescape_raw;
use spine_finra::pipeline as finra_otc;
use spine_finra::{FinraDetail, FinraDomain};
use spine_gen::{Fault, GenConfig, GeneratedFile, generate};
use spine_model::capture::content_hash;
use spine_model::{Domain, IngestStatus, PartitionKey, Tier, WeekEnding};
use spine_store::Store;
use spine_store::finra_otc as repo;
use spine_store::test_support::for_each_backend;
use spine_store::{capture_chunks, captures, lineage, rejects};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap()
}

/// The engine with FINRA and the exchange calendar it depends on.
fn engine(store: &Store) -> Engine {
    let registry = Registry::new()
        .with(spine_finra::plugin())
        .and_then(|r| r.with(std::sync::Arc::new(spine_calendar::CalendarDomain)))
        .unwrap();
    Engine::new(store.clone(), registry)
}

fn hint(tier: Option<Tier>, week: Option<NaiveDate>) -> PartitionKey {
    let mut hint = PartitionKey::new();
    if let Some(w) = week {
        hint = hint.with(PartitionKey::WEEK_ENDING, w.to_string());
    }
    if let Some(t) = tier {
        hint = hint.with(PartitionKey::TIER, t.as_str());
    }
    hint
}

async fn try_ingest(
    store: &Store,
    path: &Path,
    tier: Option<Tier>,
    week: Option<NaiveDate>,
) -> PipelineResult<CaptureReport> {
    // As `spine ingest` does: the shipped exchange calendars are there (idempotent).
    spine_calendar::load_shipped(&engine(store), now()).await?;
    let input = FetchedInput::local_file(path)?;
    capture::ingest_fetched(
        &engine(store),
        &FinraDomain::default(),
        &input,
        &hint(tier, week),
        &RunContext::quiet(now()),
    )
    .await
}

async fn ingest(
    store: &Store,
    path: &Path,
    tier: Option<Tier>,
    week: Option<NaiveDate>,
) -> CaptureReport {
    try_ingest(store, path, tier, week)
        .await
        .unwrap_or_else(|e| panic!("ingest {}: {e}", path.display()))
}

/// The real FINRA week beside the project. Absent, the test says so on stderr and checks
/// nothing; but when `SPINE_REQUIRE_REAL_SAMPLE` is set (`cargo xtask test` sets it whenever the
/// sample exists) its absence is a failure, so a CI run cannot pass without checking it.
fn real_sample() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/finra/finra_otc_weekly_otc_20251215.csv");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("SPINE_REQUIRE_REAL_SAMPLE").is_none(),
        "SPINE_REQUIRE_REAL_SAMPLE is set but {} is missing",
        p.display()
    );
    eprintln!(
        "SKIPPED: the real FINRA sample {} is absent; its checks did not run",
        p.display()
    );
    None
}

#[tokio::test]
async fn the_real_week_gives_exact_totals_shares_and_hhi() {
    let Some(path) = real_sample() else {
        return;
    };
    // An independent computation straight from the file, with no project code.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut per_symbol: BTreeMap<String, (i64, i64, Vec<i64>)> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        let e = per_symbol.entry(f[1].to_string()).or_default();
        let shares: i64 = f[5].parse().unwrap();
        e.0 += shares;
        e.1 += f[6].parse::<i64>().unwrap();
        e.2.push(shares);
    }
    for_each_backend(|db| {
        let path = path.clone();
        let per_symbol = per_symbol.clone();
        async move {
            let report = ingest(&db.store, &path, None, None).await;
            assert_eq!(report.rows_read, 5_328);
            assert_eq!(report.rows_rejected, 0);
            assert_eq!(
                report.detail_as::<FinraDetail>().unwrap().week_ending,
                NaiveDate::from_ymd_opt(2025, 11, 14).unwrap()
            );
            let id = report.capture_id.as_str();
            let summary = repo::symbol_summary(db.store.conn(), id, None)
                .await
                .unwrap();
            assert_eq!(summary.len(), 3_111);
            for row in &summary {
                let (shares, trades, venues) = &per_symbol[&row.symbol];
                assert_eq!(
                    (row.total_shares, row.total_trades),
                    (*shares, *trades),
                    "{}",
                    row.symbol
                );
                assert_eq!(row.venue_count as usize, venues.len());
            }
            let venues = repo::venue_share(db.store.conn(), id).await.unwrap();
            assert_eq!(venues.len(), 9);
            let total: f64 = venues.iter().map(|v| v.share).sum();
            assert!((total - 1.0).abs() < 1e-9, "venue shares sum to {total}");
            for h in repo::hhi(db.store.conn(), id, None).await.unwrap() {
                let (sum, _, venues) = &per_symbol[&h.symbol];
                let by_hand: f64 = venues
                    .iter()
                    .map(|s| (*s as f64 / *sum as f64).powi(2))
                    .sum();
                assert!((0.0..=1.0).contains(&h.hhi));
                assert!(
                    (h.hhi - by_hand).abs() < 1e-12,
                    "{}: {} vs {by_hand}",
                    h.symbol,
                    h.hhi
                );
            }
        }
    })
    .await;
}

/// One generated week of `small_config`'s shape with `faults`, and its OTC file.
fn one_otc_week(dir: &Path, faults: Vec<Fault>) -> GeneratedFile {
    let files = generate(
        &GenConfig {
            weeks: 1,
            ..small_config(faults)
        },
        dir,
    )
    .unwrap();
    files.into_iter().find(|f| f.tier == Tier::Otc).unwrap()
}

fn small_config(faults: Vec<Fault>) -> GenConfig {
    GenConfig {
        weeks: 2,
        symbols: 120,
        mpids: 12,
        seed: 7,
        first_week_ending: NaiveDate::from_ymd_opt(2025, 11, 21).unwrap(),
        faults,
        ..GenConfig::default()
    }
}

#[tokio::test]
async fn every_injected_fault_becomes_a_reject_at_its_line() {
    let parser_faults: Vec<Fault> = Fault::ALL
        .iter()
        .copied()
        .filter(|f| f.is_parser_fault())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let files = generate(&small_config(parser_faults.clone()), dir.path()).unwrap();
    for_each_backend(|db| {
        let files = files.clone();
        let parser_faults = parser_faults.clone();
        async move {
            for file in files.iter().filter(|f| !f.faults.is_empty()) {
                let report = ingest(
                    &db.store,
                    &file.path,
                    Some(file.tier),
                    Some(file.week_ending),
                )
                .await;
                assert_eq!(
                    report.rows_read,
                    report.rows_accepted + report.rows_rejected
                );
                let stored = rejects::for_capture(db.store.conn(), &report.capture_id)
                    .await
                    .unwrap();
                assert_eq!(stored.len() as i64, report.rows_rejected);
                let capture = captures::get(db.store.conn(), &report.capture_id)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(capture.rows_rejected, report.rows_rejected);
                for injected in file
                    .faults
                    .iter()
                    .filter(|i| parser_faults.contains(&i.fault))
                {
                    for line in &injected.lines {
                        let hit = stored.iter().find(|r| r.line_number == Some(*line as i64));
                        let hit = hit.unwrap_or_else(|| {
                            panic!(
                                "{}: no reject at line {line} for {}",
                                db.backend, injected.fault
                            )
                        });
                        assert!(!hit.raw_line.is_empty());
                        assert!(!hit.detail.is_empty());
                    }
                }
                let codes: Vec<&str> = stored.iter().map(|r| r.reason_code.as_str()).collect();
                for code in [
                    "WRONG_FIELD_COUNT",
                    "COMMA_DELIMITED",
                    "TRUNCATED_LINE",
                    "NON_NUMERIC_QUANTITY",
                    "NEGATIVE_QUANTITY",
                    "EMPTY_SYMBOL",
                    "EMPTY_MPID",
                    "UNKNOWN_TIER",
                    "BAD_DATE",
                    "DUPLICATE_SYMBOL_MPID",
                ] {
                    assert!(
                        codes.contains(&code),
                        "{}: {code} missing from {codes:?}",
                        file.path.display()
                    );
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn reingesting_is_a_no_op_and_a_revision_keeps_both_captures() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(&small_config(vec![Fault::Revision]), dir.path()).unwrap();
    for_each_backend(|db| {
        let files = files.clone();
        async move {
            let conn = db.store.conn();
            let original = files
                .iter()
                .find(|f| {
                    f.tier == Tier::Otc
                        && f.revision == 0
                        && f.week_ending == files.iter().map(|f| f.week_ending).max().unwrap()
                })
                .unwrap();
            let revised = files
                .iter()
                .find(|f| f.tier == Tier::Otc && f.revision == 1)
                .unwrap();
            let first = ingest(
                &db.store,
                &original.path,
                Some(Tier::Otc),
                Some(original.week_ending),
            )
            .await;
            assert_eq!(first.status, IngestStatus::Ingested);
            // The bytes are kept once, whatever the number of ingests.
            let hash = content_hash(&std::fs::read(&original.path).unwrap());
            let chunks = capture_chunks::count(conn, &hash).await.unwrap();
            assert!(chunks > 0);
            let again = ingest(
                &db.store,
                &original.path,
                Some(Tier::Otc),
                Some(original.week_ending),
            )
            .await;
            assert_eq!(again.status, IngestStatus::Unchanged);
            assert_eq!(again.capture_id, first.capture_id);
            assert_eq!(capture_chunks::count(conn, &hash).await.unwrap(), chunks);

            let rev = ingest(
                &db.store,
                &revised.path,
                Some(Tier::Otc),
                Some(revised.week_ending),
            )
            .await;
            assert_eq!(rev.status, IngestStatus::Revised);
            assert_eq!(rev.supersedes.as_deref(), Some(first.capture_id.as_str()));
            let partition = PartitionKey::week_tier(original.week_ending, Tier::Otc);
            let domain = Domain::parse(Domain::FINRA_OTC).unwrap();
            assert_eq!(
                captures::history(conn, &domain, &partition)
                    .await
                    .unwrap()
                    .len(),
                2
            );
            let latest =
                finra_otc::resolve_capture(&db.store, original.week_ending, Tier::Otc, None)
                    .await
                    .unwrap();
            assert_eq!(latest.capture_id, rev.capture_id);
            // Both captures' analytics stay queryable.
            let old = repo::symbol_summary(conn, &first.capture_id, None)
                .await
                .unwrap();
            let new = repo::symbol_summary(conn, &rev.capture_id, None)
                .await
                .unwrap();
            assert!(!old.is_empty() && !new.is_empty());
            assert_ne!(old, new);
        }
    })
    .await;
}

#[tokio::test]
async fn volume_per_day_uses_the_calendar_and_records_which_capture() {
    let dir = tempfile::tempdir().unwrap();
    // The week ending 2025-11-28 has Thanksgiving (Nov 27): 4 trading days.
    let files = generate(
        &GenConfig {
            weeks: 1,
            first_week_ending: NaiveDate::from_ymd_opt(2025, 11, 28).unwrap(),
            ..small_config(vec![])
        },
        dir.path(),
    )
    .unwrap();
    for_each_backend(|db| {
        let files = files.clone();
        async move {
            let conn = db.store.conn();
            spine_calendar::load_shipped(&engine(&db.store), now())
                .await
                .unwrap();
            let mut week_shares = BTreeMap::new();
            for f in &files {
                let report = ingest(&db.store, &f.path, Some(f.tier), Some(f.week_ending)).await;
                assert_eq!(
                    report.stage,
                    Some(spine_model::Stage::Calc),
                    "{:?}",
                    report.notes
                );
                let (rows, calendar) = repo::volume_per_day(conn, &report.capture_id, None)
                    .await
                    .unwrap();
                assert!(rows.iter().all(|r| r.trading_days == 4));
                let r = &rows[0];
                assert!((r.shares_per_day - r.total_shares as f64 / 4.0).abs() < 1e-9);
                let inputs = lineage::inputs_of(conn, &report.capture_id).await.unwrap();
                assert_eq!(inputs.len(), 1);
                assert_eq!(Some(inputs[0].input_capture_id.clone()), calendar);
                let shares: i64 = repo::symbol_summary(conn, &report.capture_id, None)
                    .await
                    .unwrap()
                    .iter()
                    .map(|s| s.total_shares)
                    .sum();
                week_shares.insert(f.tier, shares);
            }
            let split = repo::tier_split(conn, files[0].week_ending).await.unwrap();
            assert_eq!(split.len(), 3);
            let all: i64 = week_shares.values().sum();
            for s in &split {
                assert_eq!(s.shares, week_shares[&s.tier]);
                assert!((s.share - s.shares as f64 / all as f64).abs() < 1e-12);
            }
            assert!((split.iter().map(|s| s.share).sum::<f64>() - 1.0).abs() < 1e-9);
            let deps = lineage::list_dependencies(conn, None).await.unwrap();
            assert_eq!(deps.len(), 1);
            assert_eq!(deps[0].dependency_type, "REQUIRED");
        }
    })
    .await;
}

#[tokio::test]
async fn a_contradicting_tier_or_week_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![]);
    for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            let err = try_ingest(&db.store, &otc.path, Some(Tier::NmsTier1), None)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("--tier NMS_TIER_1 contradicts"),
                "{err}"
            );
            let after = otc.last_update + chrono::Days::new(7);
            let friday = WeekEnding::on_or_before(after).date();
            let err = try_ingest(&db.store, &otc.path, None, Some(friday))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("contradicts"), "{err}");
            // A week whose data FINRA would no longer revise: the file's stamp is implausible.
            let long_before = otc.week_ending - chrono::Days::new(7 * 60);
            let err = try_ingest(&db.store, &otc.path, None, Some(long_before))
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("contradicts") && err.to_string().contains("days after"),
                "{err}"
            );
            let err = try_ingest(
                &db.store,
                &otc.path,
                None,
                Some(otc.week_ending.pred_opt().unwrap()),
            )
            .await
            .unwrap_err();
            assert!(err.to_string().contains("not a Friday"), "{err}");
            // Nothing was written by the refused runs.
            let domain = Domain::parse(Domain::FINRA_OTC).unwrap();
            assert!(
                captures::latest_covered(db.store.conn(), &domain, &PartitionKey::new())
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    })
    .await;
}

/// Serves `body` with `status` to every connection on a loopback port, for `requests` requests.
async fn serve(
    status: u16,
    body: Vec<u8>,
    requests: usize,
) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        for _ in 0..requests {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}/finra_otc_weekly_otc.csv"), handle)
}

#[tokio::test]
async fn http_sources_ingest_and_http_failures_are_recorded_as_failed_runs() {
    use spine_engine::PipelineError;
    use spine_engine::source::{FetchOptions, SourceError};
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![]);
    let body = std::fs::read(&otc.path).unwrap();
    for_each_backend(|db| {
        let body = body.clone();
        async move {
            let request = |source: String| SourceRequest {
                source,
                hint: PartitionKey::week_tier(otc.week_ending, Tier::Otc),
                fetch: FetchOptions {
                    timeout: std::time::Duration::from_secs(5),
                    ..FetchOptions::default()
                },
                trigger: "test".into(),
                run: RunContext::quiet(now()),
            };
            let (url, server) = serve(200, body.clone(), 1).await;
            let report = capture::ingest(
                &engine(&db.store),
                &FinraDomain::default(),
                request(url.clone()),
            )
            .await
            .unwrap();
            server.await.unwrap();
            assert_eq!(report.status, IngestStatus::Ingested);
            assert_eq!(
                report.capture_id,
                spine_model::capture::capture_id(
                    &Domain::parse(Domain::FINRA_OTC).unwrap(),
                    &PartitionKey::week_tier(otc.week_ending, Tier::Otc),
                    &content_hash(&body),
                )
            );
            let capture = captures::get(db.store.conn(), &report.capture_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(capture.source_locator, url);

            for status in [404u16, 503] {
                let (url, server) = serve(status, b"nope".to_vec(), 1).await;
                let err =
                    capture::ingest(&engine(&db.store), &FinraDomain::default(), request(url))
                        .await
                        .unwrap_err();
                server.await.unwrap();
                let PipelineError::Source {
                    error,
                    execution_id,
                } = err
                else {
                    panic!("{}: expected a source error", db.backend)
                };
                assert_eq!(error.http_status(), Some(status));
                assert_eq!(
                    matches!(*error, SourceError::NotFound { .. }),
                    status == 404
                );
                let execution =
                    spine_store::executions::get(db.store.conn(), &execution_id.unwrap())
                        .await
                        .unwrap();
                assert_eq!(execution.status, "FAILED");
                assert!(execution.error.unwrap().contains(&status.to_string()));
            }
            let recent = spine_store::executions::recent(db.store.conn(), 10)
                .await
                .unwrap();
            assert_eq!(recent.iter().filter(|e| e.status == "COMPLETED").count(), 1);
        }
    })
    .await;
}

/// Makes the database refuse inserts into `table`: a real failure in the middle of a stage.
async fn sabotage(db: &spine_store::test_support::TestDbRef, table: &str) {
    use spine_store::ConnectionTrait;
    let sql = if db.backend == "sqlite" {
        format!(
            "CREATE TRIGGER sabotage BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        )
    } else {
        format!(
            "CREATE OR REPLACE FUNCTION sabotage() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER sabotage BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION sabotage();"
        )
    };
    db.store.conn().execute_unprepared(&sql).await.unwrap();
}

async fn repair(db: &spine_store::test_support::TestDbRef, table: &str) {
    use spine_store::ConnectionTrait;
    let sql = if db.backend == "sqlite" {
        "DROP TRIGGER sabotage".to_string()
    } else {
        format!("DROP TRIGGER sabotage ON {table}")
    };
    db.store.conn().execute_unprepared(&sql).await.unwrap();
}

#[tokio::test]
async fn a_failing_stage_leaves_nothing_behind_and_can_be_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![Fault::NegativeQuantity]);
    for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            let conn = db.store.conn();
            let ingest_otc =
                || try_ingest(&db.store, &otc.path, Some(Tier::Otc), Some(otc.week_ending));
            let capture_id = spine_model::capture::capture_id(
                &Domain::parse(Domain::FINRA_OTC).unwrap(),
                &PartitionKey::week_tier(otc.week_ending, Tier::Otc),
                &content_hash(&std::fs::read(&otc.path).unwrap()),
            );

            let bytes = std::fs::read(&otc.path).unwrap();
            let hash = content_hash(&bytes);

            // RAW fails at its last write (the capture row): its bytes and rejects go too.
            sabotage(&db, "core_captures").await;
            assert!(ingest_otc().await.is_err());
            repair(&db, "core_captures").await;
            assert!(captures::get(conn, &capture_id).await.unwrap().is_none());
            assert_eq!(capture_chunks::count(conn, &hash).await.unwrap(), 0);
            assert_eq!(
                rejects::count_for_capture(conn, &capture_id).await.unwrap(),
                0
            );

            // NORMALIZED fails: RAW stays committed, NORMALIZED leaves no row, the manifest
            // says the capture stopped at RAW.
            sabotage(&db, "finra_otc_normalized").await;
            assert!(ingest_otc().await.is_err());
            repair(&db, "finra_otc_normalized").await;
            let capture = captures::get(conn, &capture_id)
                .await
                .unwrap()
                .expect("RAW committed");
            assert!(capture_chunks::count(conn, &hash).await.unwrap() > 0);
            // Every line as received, rejected ones included, is there to be shown.
            let text = String::from_utf8(bytes.clone()).unwrap();
            for (i, expected) in text.lines().enumerate().step_by(7) {
                let got = spine_engine::received::line(conn, &hash, i as i64 + 1)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("line {} is not kept", i + 1));
                assert_eq!(String::from_utf8(got).unwrap(), expected, "line {}", i + 1);
            }
            let past_the_end = text.lines().count() as i64 + 1;
            assert_eq!(
                spine_engine::received::line(conn, &hash, past_the_end)
                    .await
                    .unwrap(),
                None
            );
            assert!(
                repo::normalized_page(conn, &capture_id, 0, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(rejects::count_for_capture(conn, &capture_id).await.unwrap() > 0);
            let partition = PartitionKey::week_tier(otc.week_ending, Tier::Otc);
            let domain = Domain::parse(Domain::FINRA_OTC).unwrap();
            let stages = spine_store::manifest::stages(conn, &domain, &partition)
                .await
                .unwrap();
            assert_eq!(
                spine_store::manifest::furthest_stage(&stages, &capture_id),
                Some(spine_model::Stage::Raw)
            );

            // Re-ingesting the same bytes resumes the capture from where it stopped and finishes
            // it; once complete, the same bytes again are a no-op.
            let resumed = ingest_otc().await.unwrap();
            assert_eq!(resumed.status, IngestStatus::Resumed, "{:?}", resumed.notes);
            assert_eq!(resumed.stage, Some(spine_model::Stage::Calc));
            assert_eq!(resumed.capture_id, capture_id);
            assert_eq!(ingest_otc().await.unwrap().status, IngestStatus::Unchanged);
            // Re-running a stage by hand is still possible and idempotent.
            let run = RunContext::quiet(now());
            let calcs = finra_otc::normalize(&db.store, &capture, &run)
                .await
                .unwrap();
            finra_otc::calc(&engine(&db.store), &capture, Some(calcs.calcs), &run)
                .await
                .unwrap();
            let stages = spine_store::manifest::stages(conn, &domain, &partition)
                .await
                .unwrap();
            assert_eq!(
                spine_store::manifest::furthest_stage(&stages, &capture_id),
                Some(spine_model::Stage::Calc)
            );
            assert_eq!(
                repo::normalized_page(conn, &capture_id, 0, 1_000_000)
                    .await
                    .unwrap()
                    .len() as i64,
                capture.rows_accepted
            );
        }
    })
    .await;
}

/// One generated week with one line of each case the strict parser handles appended: each bad
/// line is a reject at its line number on every backend (a NUL included, which PostgreSQL
/// refused before), the quoted and the Windows-1252 rows join their venue and are kept, the
/// week is derived from the dominant stamp (not a stray one), and the capture reaches CALC: a
/// quantity that would overflow the totals no longer fails NORMALIZED.
#[tokio::test]
async fn each_bad_line_is_a_reject_and_the_rest_reaches_calc() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![]);
    let text = std::fs::read_to_string(&otc.path).unwrap();
    let first: Vec<&str> = text.lines().nth(1).unwrap().split('|').collect();
    let (symbol, mpid) = (first[1].to_string(), first[4].to_string());
    let venues: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split('|').nth(4).unwrap())
        .collect();
    let stamp = otc.last_update;
    let last = otc.rows as i64 + 1;
    let nul_line = format!("OTC|X.TEST4|Na\0me|Venue|{mpid}|10|1|{stamp}").into_bytes();
    let mut bytes = text.clone().into_bytes();
    for line in [
        format!("OTC|{symbol}|Name|Venue|ZZZ1|{}|1|{stamp}", i64::MAX).into_bytes(),
        format!("OTC|X.TEST1|Name|Venue|{mpid}|10|1|1900-01-01").into_bytes(),
        b"   ".to_vec(),
        format!("OTC|X.TEST2|Name|Venue|\"{mpid}\"|10|1|{stamp}").into_bytes(),
        [
            b"OTC|X.TEST3|Caf\xE9 Holdings|Venue|".as_slice(),
            mpid.as_bytes(),
            format!("|10|1|{stamp}").as_bytes(),
        ]
        .concat(),
        nul_line.clone(),
    ] {
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
    }
    let path = dir.path().join("dirty.csv");
    std::fs::write(&path, &bytes).unwrap();
    for_each_backend(|db| {
        let (path, symbol, mpid, venues, nul_line) = (
            path.clone(),
            symbol.clone(),
            mpid.clone(),
            venues.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            nul_line.clone(),
        );
        let otc = otc.clone();
        async move {
            let conn = db.store.conn();
            spine_calendar::load_shipped(&engine(&db.store), now())
                .await
                .unwrap();
            let report = ingest(&db.store, &path, None, None).await;
            assert_eq!(
                report.stage,
                Some(spine_model::Stage::Calc),
                "{:?}",
                report.notes
            );
            assert_eq!(
                report.detail_as::<FinraDetail>().unwrap().week_ending,
                otc.week_ending
            );
            assert_eq!(report.rows_read, otc.rows as i64 + 6);
            assert_eq!(report.rows_rejected, 4);
            let stored = rejects::for_capture(conn, &report.capture_id)
                .await
                .unwrap();
            let got: Vec<(i64, &str)> = stored
                .iter()
                .map(|r| (r.line_number.unwrap(), r.reason_code.as_str()))
                .collect();
            assert_eq!(
                got,
                [
                    (last + 1, "TOTAL_OVERFLOW"),
                    (last + 2, "INCONSISTENT_LAST_UPDATE"),
                    (last + 3, "BLANK_LINE"),
                    (last + 6, "CONTROL_CHARACTER"),
                ]
            );
            assert!(
                stored[0]
                    .detail
                    .contains(&format!("symbol `{symbol}` shares")),
                "{}",
                stored[0].detail
            );
            assert!(stored[1].detail.contains("1900-01-01"));
            assert_eq!(unescape_raw(&stored[3].raw_line), nul_line);
            // Every accepted row reached NORMALIZED, the quoted MPID as its venue.
            let normalized = repo::normalized_page(conn, &report.capture_id, 0, 1_000_000)
                .await
                .unwrap();
            assert_eq!(normalized.len() as i64, report.rows_accepted);
            let test2 = normalized.iter().find(|r| r.symbol == "X.TEST2").unwrap();
            assert_eq!(test2.mpid, mpid);
            assert!(normalized.iter().any(|r| r.symbol == "X.TEST3"));
            let shares = repo::venue_share(conn, &report.capture_id).await.unwrap();
            assert_eq!(shares.len(), venues.len(), "no venue `\"{mpid}\"`, no ZZZ1");
            // What the parser did to the data is recorded with the capture and told.
            let capture = captures::get(conn, &report.capture_id)
                .await
                .unwrap()
                .unwrap();
            let decoding = &capture.metadata_json.unwrap()["decoding"];
            assert_eq!(decoding["unquoted_fields"], 1);
            assert_eq!(decoding["repaired_rows"], 1);
            assert_eq!(decoding["repaired_lines"], serde_json::json!([last + 5]));
            assert!(
                report.notes.iter().any(|n| n.contains("Windows-1252")),
                "{:?}",
                report.notes
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_earlier_week_than_the_stamp_derives_is_kept_with_both_weeks_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![]);
    let earlier = otc.week_ending - chrono::Days::new(7);
    for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            let report = ingest(&db.store, &otc.path, None, Some(earlier)).await;
            let capture = captures::get(db.store.conn(), &report.capture_id)
                .await
                .unwrap()
                .unwrap();
            let derivation = &capture.metadata_json.unwrap()["week_derivation"];
            assert_eq!(derivation["method"], "explicit");
            assert_eq!(derivation["week_ending"], earlier.to_string());
            assert_eq!(
                derivation["derived_week_ending"],
                otc.week_ending.to_string()
            );
            assert!(
                derivation["reason"]
                    .as_str()
                    .unwrap()
                    .contains("the file carries no week"),
                "{derivation}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_file_rewritten_after_it_was_hashed_is_not_captured() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![]);
    for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            let conn = db.store.conn();
            spine_calendar::load_shipped(&engine(&db.store), now())
                .await
                .unwrap();
            // Hashed as other bytes (the file changed between the hash and RAW's read).
            let input = FetchedInput {
                bytes: InputBytes::File(otc.path.clone()),
                locator: otc.path.display().to_string(),
                content_hash: content_hash(b"the bytes that were hashed"),
                request: None,
            };
            let err = capture::ingest_fetched(
                &engine(&db.store),
                &FinraDomain::default(),
                &input,
                &hint(Some(Tier::Otc), Some(otc.week_ending)),
                &RunContext::quiet(now()),
            )
            .await
            .unwrap_err()
            .to_string();
            assert!(err.contains("changed while it was being ingested"), "{err}");
            let partition = PartitionKey::week_tier(otc.week_ending, Tier::Otc);
            let domain = Domain::parse(Domain::FINRA_OTC).unwrap();
            assert!(
                captures::history(conn, &domain, &partition)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                capture_chunks::count(conn, &input.content_hash)
                    .await
                    .unwrap(),
                0
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_capture_made_before_bytes_were_kept_is_normalized_from_its_raw_rows() {
    let dir = tempfile::tempdir().unwrap();
    let otc = one_otc_week(dir.path(), vec![Fault::NegativeQuantity]);
    for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            use spine_store::ConnectionTrait;
            let conn = db.store.conn();
            let report = ingest(&db.store, &otc.path, Some(Tier::Otc), Some(otc.week_ending)).await;
            let capture = captures::get(conn, &report.capture_id)
                .await
                .unwrap()
                .unwrap();
            let before = repo::normalized_page(conn, &capture.capture_id, 0, 1_000_000)
                .await
                .unwrap();
            // What an older version stored: the accepted lines as RAW rows, no kept bytes.
            let rejected: Vec<i64> = rejects::for_capture(conn, &capture.capture_id)
                .await
                .unwrap()
                .iter()
                .filter_map(|r| r.line_number)
                .collect();
            assert!(!rejected.is_empty());
            let text = std::fs::read_to_string(&otc.path).unwrap();
            let raw: Vec<repo::RawRow> = text
                .lines()
                .enumerate()
                .skip(1)
                .map(|(i, line)| (i as i64 + 1, line))
                .filter(|(n, _)| !rejected.contains(n))
                .map(|(line_number, line)| repo::RawRow {
                    line_number,
                    line: line.to_string(),
                })
                .collect();
            repo::insert_raw(conn, &capture.capture_id, raw)
                .await
                .unwrap();
            conn.execute_unprepared("DELETE FROM core_capture_chunks")
                .await
                .unwrap();
            assert!(
                spine_engine::received::restore(conn, &capture.content_hash)
                    .await
                    .unwrap()
                    .is_none()
            );
            finra_otc::normalize(&db.store, &capture, &RunContext::quiet(now()))
                .await
                .unwrap();
            let after = repo::normalized_page(conn, &capture.capture_id, 0, 1_000_000)
                .await
                .unwrap();
            assert_eq!(after, before);
            assert_eq!(after.len() as i64, capture.rows_accepted);
        }
    })
    .await;
}
