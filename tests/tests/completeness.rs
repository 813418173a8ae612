//! What could not be certified before, and now cannot be fooled (issue "a verdict that cannot be
//! fooled"): a header-only file, a file whose every line is rejected, a revision that keeps one
//! symbol of a tier, rejected lines that raised nothing, and the same bytes filed under another
//! week. Each case ran through the real pipeline and the landing step on both backends; each
//! would have been certified (or accepted) before.

use std::path::{Path, PathBuf};

use spine_engine::readiness::evaluate_only;
use spine_engine::{PipelineError, RunContext};
use spine_model::{Category, IngestStatus, PartitionKey, ReadinessStatus, ReadyFor, Tier};
use spine_scenarios::{
    assert_ran_on_every_backend, at, config, date, engine, file, finra, generate_into,
    ingest_named_at, ingest_on_time, load_calendars,
};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::rejects;
use spine_store::test_support::for_each_backend;

const HEADER: &str = "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Week 2025-10-17, every tier on time, OTC certified; then `bad` arrives for OTC as a revision.
/// Returns the verdicts for (trading, compliance) after it, and the anomalies it opened.
async fn revise_with(
    store: &spine_store::Store,
    files: &[spine_gen::GeneratedFile],
    bad: &Path,
) -> (
    spine_engine::CaptureReport,
    Vec<spine_engine::readiness::Certification>,
) {
    let week = date(2025, 10, 17);
    load_calendars(store).await;
    let mut by_publication: Vec<_> = files.iter().filter(|f| f.week_ending == week).collect();
    by_publication.sort_by_key(|f| (f.last_update, f.tier));
    for f in by_publication {
        ingest_on_time(store, f).await;
    }
    let report = ingest_named_at(store, bad, Tier::Otc, week, at(2025, 11, 19, 9, 0))
        .await
        .expect("the bad file is captured, not refused");
    let mut verdicts = Vec::new();
    for use_ in [ReadyFor::Trading, ReadyFor::Compliance] {
        verdicts.push(
            evaluate_only(
                &engine(store),
                &finra(),
                &PartitionKey::week(week),
                use_,
                &RunContext::quiet(at(2025, 11, 25, 9, 0)),
            )
            .await
            .unwrap(),
        );
    }
    (report, verdicts)
}

#[tokio::test]
async fn a_header_only_file_is_captured_but_never_certified() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(date(2025, 10, 17), 1, Tier::ALL, &[]));
    let header_only = write(dir.path(), "otc_header_only.csv", &format!("{HEADER}\n"));
    let ran = for_each_backend(|db| {
        let (files, header_only) = (files.clone(), header_only.clone());
        async move {
            let (report, verdicts) = revise_with(&db.store, &files, &header_only).await;
            assert_eq!(report.status, IngestStatus::Revised);
            assert_eq!((report.rows_read, report.rows_accepted), (0, 0));
            let critical: Vec<_> = report
                .anomalies
                .iter()
                .filter(|a| !a.resolved && a.severity == spine_model::Severity::Critical)
                .collect();
            assert_eq!(critical.len(), 1, "{:?}", report.anomalies);
            assert!(
                critical[0].message.contains("header-only"),
                "{}",
                critical[0].message
            );
            for v in &verdicts {
                assert_eq!(v.status, ReadinessStatus::NotReady, "{}: {v:?}", db.backend);
                assert!(!v.criteria.all_partitions_present);
                assert!(
                    v.blocking_issues
                        .iter()
                        .any(|i| i.contains("is empty: its latest capture")),
                    "{:?}",
                    v.blocking_issues
                );
            }
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}

#[tokio::test]
async fn a_file_whose_every_line_is_rejected_is_never_certified() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(date(2025, 10, 17), 1, Tier::ALL, &[]));
    let lines: String = (0..5)
        .map(|i| format!("OTC|SYM{i}|Name|Firm|MPID|100|1|not-a-date\n"))
        .collect();
    let all_rejected = write(
        dir.path(),
        "otc_all_rejected.csv",
        &format!("{HEADER}\n{lines}"),
    );
    let ran = for_each_backend(|db| {
        let (files, all_rejected) = (files.clone(), all_rejected.clone());
        async move {
            let (report, verdicts) = revise_with(&db.store, &files, &all_rejected).await;
            assert_eq!(
                (report.rows_read, report.rows_accepted, report.rows_rejected),
                (5, 0, 5)
            );
            let a = report
                .anomalies
                .iter()
                .find(|a| a.severity == spine_model::Severity::Critical)
                .expect("a CRITICAL anomaly");
            assert!(
                a.message
                    .contains("accepted none of its 5 lines (BAD_DATE 5)"),
                "{}",
                a.message
            );
            assert!(verdicts.iter().all(|v| !v.is_ready));
            // Every line it refused is listed, with its line number.
            let listed = rejects::for_capture(db.store.conn(), &report.capture_id)
                .await
                .unwrap();
            let lines: Vec<Option<i64>> = listed.iter().map(|r| r.line_number).collect();
            assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5), Some(6)]);
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}

#[tokio::test]
async fn a_revision_that_keeps_one_symbol_blocks_every_use() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(date(2025, 10, 17), 1, Tier::ALL, &[]));
    let otc = file(&files, Tier::Otc, date(2025, 10, 17), 0);
    let text = std::fs::read_to_string(&otc.path).unwrap();
    let one_line: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    let one_symbol = write(dir.path(), "otc_one_symbol.csv", &one_line);
    let ran = for_each_backend(|db| {
        let (files, one_symbol) = (files.clone(), one_symbol.clone());
        async move {
            let (report, verdicts) = revise_with(&db.store, &files, &one_symbol).await;
            assert_eq!(report.rows_accepted, 1);
            let drops: Vec<_> = anomalies::list(
                db.store.conn(),
                &AnomalyFilter {
                    category: Some(Category::Completeness),
                    unresolved_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let causes: Vec<(&str, &str)> = drops
                .iter()
                .map(|a| (a.cause.as_deref().unwrap(), a.severity.as_str()))
                .collect();
            assert!(
                causes.contains(&("row_count_drop", "CRITICAL")),
                "{causes:?}"
            );
            assert!(
                causes.contains(&("symbol_count_drop", "CRITICAL")),
                "{causes:?}"
            );
            let symbols = drops
                .iter()
                .find(|a| a.cause.as_deref() == Some("symbol_count_drop"))
                .unwrap();
            assert!(
                symbols
                    .message
                    .contains("symbols: 1 against 60 in the previous capture"),
                "{}",
                symbols.message
            );
            // Trading and compliance: not ready, and the blocking issue says why.
            for v in &verdicts {
                assert!(!v.is_ready, "{}: {v:?}", db.backend);
                assert!(
                    v.blocking_issues
                        .iter()
                        .any(|i| i.contains("symbols: 1 against 60"))
                );
            }
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}

#[tokio::test]
async fn rejected_lines_raise_a_warning_with_their_reasons_and_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_into(dir.path(), &config(date(2025, 10, 17), 1, Tier::ALL, &[]));
    let otc = file(&files, Tier::Otc, date(2025, 10, 17), 0);
    let mut text = std::fs::read_to_string(&otc.path).unwrap();
    for i in 0..3 {
        text.push_str(&format!("OTC|ZZZ{i}|Name|Firm|MPID|100|1|2025-13-45\n"));
    }
    let with_rejects = write(dir.path(), "otc_with_rejects.csv", &text);
    let ran = for_each_backend(|db| {
        let (files, with_rejects) = (files.clone(), with_rejects.clone());
        async move {
            let (report, verdicts) = revise_with(&db.store, &files, &with_rejects).await;
            assert_eq!(report.rows_rejected, 3);
            let warning = report
                .anomalies
                .iter()
                .find(|a| a.category == Category::IncompleteInput && !a.resolved)
                .expect("the rejected lines are an anomaly");
            // 3 of 123 lines is 2.4%: past the 1% share, an ERROR that blocks compliance.
            assert_eq!(warning.severity, spine_model::Severity::Error);
            assert!(
                warning.message.contains("3 of 123 lines rejected"),
                "{}",
                warning.message
            );
            assert!(warning.message.contains("BAD_DATE 3"));
            let (trading, compliance) = (&verdicts[0], &verdicts[1]);
            assert!(trading.is_ready && trading.warnings.iter().any(|w| w.contains("BAD_DATE 3")));
            assert!(!compliance.is_ready);
            assert!(
                compliance
                    .blocking_issues
                    .iter()
                    .any(|i| i.contains("3 of 123 lines rejected"))
            );
            let listed = rejects::list(
                db.store.conn(),
                std::slice::from_ref(&report.capture_id),
                Some("BAD_DATE"),
            )
            .await
            .unwrap();
            assert_eq!(listed.len(), 3);
            assert!(listed.iter().all(|r| r.raw_line.ends_with("|2025-13-45")));
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}

#[tokio::test]
async fn the_same_bytes_are_never_filed_under_a_second_week() {
    let dir = tempfile::tempdir().unwrap();
    let week = date(2025, 10, 17);
    let files = generate_into(dir.path(), &config(week, 1, Tier::ALL, &[]));
    let otc = file(&files, Tier::Otc, week, 0);
    let ran = for_each_backend(|db| {
        let otc = otc.clone();
        async move {
            let store = &db.store;
            load_calendars(store).await;
            let first = ingest_on_time(store, &otc).await;
            for earlier in [date(2025, 10, 10), date(2025, 10, 3)] {
                let err =
                    ingest_named_at(store, &otc.path, Tier::Otc, earlier, at(2025, 11, 20, 9, 0))
                        .await
                        .expect_err("the same bytes under another week");
                let PipelineError::Input(message) = &err else {
                    panic!("{err}")
                };
                assert!(message.contains("already captured as"), "{message}");
                assert!(message.contains(&first.capture_id), "{message}");
            }
            let captured = spine_store::captures::with_content(
                store.conn(),
                &finra(),
                &spine_model::capture::content_hash(&std::fs::read(&otc.path).unwrap()),
            )
            .await
            .unwrap();
            assert_eq!(
                captured.len(),
                1,
                "{}: nothing else was written",
                db.backend
            );
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
