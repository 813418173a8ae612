//! Repository behaviour, run on SQLite and (when `SPINE_TEST_POSTGRES_URL` is set) PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use spine_model::{
    Category, DependencyType, Domain, ExecutionStatus, PartitionKey, ReadinessCriteria,
    ReadinessStatus, ReadyFor, ScheduleType, Severity, Stage, Tier,
};
use spine_store::anomalies::{AnomalyExt, AnomalyFilter, NewAnomaly};
use spine_store::captures::{CaptureOutcome, NewCapture};
use spine_store::finra_otc::{self, NormalizedRow};
use spine_store::lineage::{NewCalcInput, NewDependency};
use spine_store::manifest::StageRecord;
use spine_store::readiness::Evaluation;
use spine_store::rejects::NewReject;
use spine_store::schedules::NewSchedule;
use spine_store::test_support::for_each_backend;
use spine_store::{
    StoreError, anomalies, captures, executions, lineage, manifest, readiness, rejects, schedules,
};

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, 0, 0).unwrap()
}

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
}

fn otc() -> PartitionKey {
    PartitionKey::week_tier(week(), Tier::Otc)
}

fn capture(hash: &str, at: DateTime<Utc>) -> NewCapture {
    NewCapture {
        domain: finra(),
        partition: otc(),
        content_hash: hash.to_string(),
        source_locator: "file:///data/otc.csv".to_string(),
        source_last_update: NaiveDate::from_ymd_opt(2026, 1, 16),
        captured_at: at,
        rows_read: 10,
        rows_accepted: 9,
        rows_rejected: 1,
        metadata: Some(json!({"week_derivation": "explicit"})),
    }
}

#[tokio::test]
async fn captures_are_idempotent_and_revisions_supersede() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let first = captures::record(conn, capture("aaa", t(1))).await.unwrap();
        let CaptureOutcome::New(first) = first else {
            panic!("{}: first capture must be New", db.backend)
        };
        assert!(first.capture_id.starts_with("cap_"));
        assert_eq!(first.supersedes_capture_id, None);

        let again = captures::record(conn, capture("aaa", t(2))).await.unwrap();
        assert!(matches!(&again, CaptureOutcome::Unchanged(c) if c.capture_id == first.capture_id));
        assert_eq!(
            captures::history(conn, &finra(), &otc())
                .await
                .unwrap()
                .len(),
            1
        );

        let rev = captures::record(conn, capture("bbb", t(3))).await.unwrap();
        let CaptureOutcome::Revision {
            capture: rev,
            previous,
        } = rev
        else {
            panic!("{}: changed bytes must be a Revision", db.backend)
        };
        assert_eq!(previous.capture_id, first.capture_id);
        assert_eq!(
            rev.supersedes_capture_id.as_deref(),
            Some(first.capture_id.as_str())
        );
        assert_ne!(rev.capture_id, first.capture_id);

        let latest = captures::latest(conn, &finra(), &otc())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.capture_id, rev.capture_id);
        let as_of = captures::as_of(conn, &finra(), &otc(), t(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(as_of.capture_id, first.capture_id);
        assert!(
            captures::as_of(conn, &finra(), &otc(), t(0))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            latest.metadata_json,
            Some(json!({"week_derivation": "explicit"}))
        );
        assert_eq!(latest.captured_at, t(3));
    })
    .await;
}

#[tokio::test]
async fn latest_covered_selects_every_tier_of_a_week() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let other_week = NaiveDate::from_ymd_opt(2025, 12, 26).unwrap();
        for (i, tier) in Tier::ALL.iter().enumerate() {
            let mut c = capture(&format!("h{i}"), t(1));
            c.partition = PartitionKey::week_tier(week(), *tier);
            captures::record(conn, c).await.unwrap();
        }
        let mut rev = capture("h-rev", t(2));
        rev.partition = PartitionKey::week_tier(week(), Tier::Otc);
        let rev = captures::record(conn, rev).await.unwrap();
        let mut later = capture("other", t(1));
        later.partition = PartitionKey::week_tier(other_week, Tier::Otc);
        captures::record(conn, later).await.unwrap();

        let covered = captures::latest_covered(conn, &finra(), &PartitionKey::week(week()))
            .await
            .unwrap();
        assert_eq!(covered.len(), 3, "{}", db.backend);
        let otc_latest = covered
            .iter()
            .find(|c| c.partition_key == otc().canonical())
            .unwrap();
        assert_eq!(otc_latest.capture_id, rev.capture().capture_id);
        let all = captures::latest_covered(conn, &finra(), &PartitionKey::new())
            .await
            .unwrap();
        assert_eq!(all.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn manifest_keeps_the_latest_capture_per_stage() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let stage = |stage, capture_id: &str, rows, at| StageRecord {
            domain: finra(),
            partition: otc(),
            stage,
            capture_id: capture_id.to_string(),
            row_count: rows,
            metrics: Some(json!({"rows": rows})),
            execution_id: Some("exec_1".into()),
            batch_id: None,
            updated_at: at,
        };
        for s in Stage::ALL {
            manifest::record_stage(conn, stage(*s, "cap_a", 10, t(1)))
                .await
                .unwrap();
        }
        manifest::record_stage(conn, stage(Stage::Raw, "cap_b", 12, t(2)))
            .await
            .unwrap();
        let entries = manifest::stages(conn, &finra(), &otc()).await.unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].stage, "RAW");
        assert_eq!(entries[0].capture_id, "cap_b");
        assert_eq!(entries[0].row_count, 12);
        assert_eq!(entries[2].stage, "CALC");
        assert_eq!(entries[2].capture_id, "cap_a");
        assert_eq!(
            manifest::furthest_stage(&entries, "cap_a"),
            Some(Stage::Calc)
        );
        assert_eq!(
            manifest::furthest_stage(&entries, "cap_b"),
            Some(Stage::Raw)
        );
        assert_eq!(manifest::list(conn, &finra()).await.unwrap().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn rejects_are_stored_in_bulk_and_in_line_order() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let rows: Vec<NewReject> = (0..2_500)
            .rev()
            .map(|i| NewReject {
                domain: finra(),
                partition: otc(),
                stage: Stage::Raw,
                capture_id: "cap_x".into(),
                line_number: Some(i + 2),
                reason_code: "NON_NUMERIC_QUANTITY".into(),
                detail: format!("totalWeeklyShareQuantity `x{i}` is not a whole number"),
                raw_line: format!("OTC|SYM{i}|Name|Venue|MPID|x{i}|1|2026-01-16"),
                source_locator: Some("otc.csv".into()),
                execution_id: None,
                created_at: t(1),
            })
            .collect();
        assert_eq!(rejects::insert_many(conn, rows).await.unwrap(), 2_500);
        assert_eq!(rejects::insert_many(conn, Vec::new()).await.unwrap(), 0);
        assert_eq!(
            rejects::count_for_capture(conn, "cap_x").await.unwrap(),
            2_500
        );
        let stored = rejects::for_capture(conn, "cap_x").await.unwrap();
        assert_eq!(stored[0].line_number, Some(2));
        assert_eq!(
            stored[0].raw_line,
            "OTC|SYM0|Name|Venue|MPID|x0|1|2026-01-16"
        );
        assert_eq!(stored.last().unwrap().line_number, Some(2_501));
    })
    .await;
}

#[tokio::test]
async fn a_stage_transaction_stores_awkward_values_exactly_and_rolls_back_when_dropped() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        // Tabs, newlines, backslashes, quotes and NULLs: what COPY's text format must escape.
        let awkward = |capture: &str| -> Vec<NewReject> {
            (0..3)
                .map(|i| NewReject {
                    domain: finra(),
                    partition: otc(),
                    stage: Stage::Raw,
                    capture_id: capture.into(),
                    line_number: (i != 1).then_some(i + 2),
                    reason_code: "WRONG_FIELD_COUNT".into(),
                    detail: format!("tab\there, newline\nthere, cr\rhere #{i}"),
                    raw_line: format!("back\\slash\\x00 \"quoted\" é {i}"),
                    source_locator: (i != 2).then(|| "otc.csv".to_string()),
                    execution_id: None,
                    created_at: t(1),
                })
                .collect()
        };
        let txn = db.store.begin_stage().await.unwrap();
        assert_eq!(
            rejects::insert_many(&txn, awkward("cap_c")).await.unwrap(),
            3
        );
        // Reads inside the stage see its rows.
        assert_eq!(rejects::count_for_capture(&txn, "cap_c").await.unwrap(), 3);
        txn.commit().await.unwrap();
        rejects::insert_many(conn, awkward("cap_p")).await.unwrap();
        let copied = rejects::for_capture(conn, "cap_c").await.unwrap();
        let plain = rejects::for_capture(conn, "cap_p").await.unwrap();
        assert_eq!(copied.len(), 3);
        for (c, p) in copied.iter().zip(&plain) {
            assert_eq!(
                (&c.detail, &c.raw_line, c.line_number, &c.source_locator),
                (&p.detail, &p.raw_line, p.line_number, &p.source_locator)
            );
        }
        assert!(
            copied
                .iter()
                .any(|r| r.detail.contains("tab\there, newline\nthere"))
        );
        assert!(copied.iter().any(|r| r.line_number.is_none()));

        // A stage that fails (dropped without a commit) leaves nothing.
        let txn = db.store.begin_stage().await.unwrap();
        rejects::insert_many(&txn, awkward("cap_d")).await.unwrap();
        drop(txn);
        assert_eq!(rejects::count_for_capture(conn, "cap_d").await.unwrap(), 0);
    })
    .await;
}

/// NORMALIZED rows written through a stage come back exactly, whatever the count relative to
/// the statements (1,024 rows on SQLite) and `COPY` batches (20,000 on PostgreSQL) the writes are
/// pipelined in; a failure in a later statement or batch leaves nothing of the stage.
#[tokio::test]
async fn normalized_rows_round_trip_at_every_batch_boundary_and_a_late_failure_leaves_nothing() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let rows = |n: i64, duplicate_at: Option<i64>| -> Vec<NormalizedRow> {
            (0..n)
                .map(|i| NormalizedRow {
                    line_number: match duplicate_at {
                        Some(d) if i == d => 2,
                        _ => i + 2,
                    },
                    symbol: format!("S{i}"),
                    mpid: format!("M{}", i % 7),
                    total_shares: i * 10,
                    total_trades: i,
                    last_update_date: NaiveDate::from_ymd_opt(2026, 1, 12 + (i % 3) as u32)
                        .unwrap(),
                })
                .collect()
        };
        let counts = [1i64, 1_024, 2_049, 20_000, 40_001];
        let mut captures_of = Vec::new();
        let txn = db.store.begin_stage().await.unwrap();
        for (i, n) in counts.iter().enumerate() {
            // Each a revision of the one before: a capture row, whatever its outcome.
            let c = match captures::record(&txn, capture(&format!("n{i}"), t(1)))
                .await
                .unwrap()
            {
                CaptureOutcome::New(c) | CaptureOutcome::Revision { capture: c, .. } => c,
                CaptureOutcome::Unchanged(_) => panic!("new bytes are not unchanged"),
            };
            let written = finra_otc::insert_normalized(&txn, c.id, rows(*n, None))
                .await
                .unwrap();
            assert_eq!(written, *n as u64, "{}: {n} rows", db.backend);
            captures_of.push((c.capture_id, *n));
        }
        txn.commit().await.unwrap();
        for (capture_id, n) in &captures_of {
            let stored = finra_otc::normalized_page(conn, capture_id, 0, 100_000)
                .await
                .unwrap();
            assert_eq!(stored.len() as i64, *n, "{}: {capture_id}", db.backend);
            let expected = rows(*n, None);
            for i in [0, (*n / 2) as usize, (*n - 1) as usize] {
                let (got, want) = (&stored[i], &expected[i]);
                assert_eq!(
                    (
                        got.line_number,
                        &got.symbol,
                        &got.mpid,
                        got.total_shares,
                        got.total_trades,
                        got.last_update_date
                    ),
                    (
                        want.line_number,
                        &want.symbol,
                        &want.mpid,
                        want.total_shares,
                        want.total_trades,
                        want.last_update_date
                    ),
                    "{}: row {i} of {capture_id}",
                    db.backend
                );
            }
        }

        // Line 2 again as the 41,000th row: the key refuses it in the third batch, after two
        // batches (and 40 statements) went through; the stage keeps none of them.
        let (CaptureOutcome::New(c) | CaptureOutcome::Revision { capture: c, .. }) =
            captures::record(conn, capture("late", t(2))).await.unwrap()
        else {
            panic!("new bytes are not unchanged")
        };
        let txn = db.store.begin_stage().await.unwrap();
        let failed = finra_otc::insert_normalized(&txn, c.id, rows(45_000, Some(41_000))).await;
        assert!(
            failed.is_err(),
            "{}: a duplicate line must fail",
            db.backend
        );
        drop(txn);
        assert!(
            finra_otc::normalized_page(conn, &c.capture_id, 0, 10)
                .await
                .unwrap()
                .is_empty(),
            "{}: nothing of the failed stage stays",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn anomalies_filter_and_resolve_with_a_required_note() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let other =
            PartitionKey::week_tier(NaiveDate::from_ymd_opt(2025, 12, 26).unwrap(), Tier::Otc);
        let a = anomalies::record(
            conn,
            NewAnomaly {
                partition: Some(otc()),
                stage: Some(Stage::Normalized),
                details: Some(json!({"affected": 3})),
                sample_records: Some(json!([{"symbol": "AAA"}])),
                affected_records: Some(3),
                ..NewAnomaly::new(
                    finra(),
                    Severity::Critical,
                    Category::BusinessRule,
                    "trades without shares",
                    t(1),
                )
            },
        )
        .await
        .unwrap();
        anomalies::record(
            conn,
            NewAnomaly {
                partition: Some(other),
                ..NewAnomaly::new(
                    finra(),
                    Severity::Warn,
                    Category::Completeness,
                    "few venues",
                    t(2),
                )
            },
        )
        .await
        .unwrap();

        let all = anomalies::list(conn, &AnomalyFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].severity().unwrap(), Severity::Critical);
        assert_eq!(all[0].partition().unwrap(), Some(otc()));
        let by_week = AnomalyFilter {
            week_ending: Some(week()),
            ..Default::default()
        };
        assert_eq!(anomalies::list(conn, &by_week).await.unwrap().len(), 1);
        let scope = AnomalyFilter {
            partition: Some(PartitionKey::week(week())),
            ..Default::default()
        };
        assert_eq!(anomalies::list(conn, &scope).await.unwrap()[0].id, a.id);
        let errors_up = AnomalyFilter {
            min_severity: Some(Severity::Error),
            ..Default::default()
        };
        assert_eq!(anomalies::list(conn, &errors_up).await.unwrap().len(), 1);
        let warn = AnomalyFilter {
            severity: Some(Severity::Warn),
            ..Default::default()
        };
        assert_eq!(
            anomalies::list(conn, &warn).await.unwrap()[0].message,
            "few venues"
        );
        let cat = AnomalyFilter {
            category: Some(Category::Completeness),
            ..Default::default()
        };
        assert_eq!(anomalies::list(conn, &cat).await.unwrap().len(), 1);

        let err = anomalies::resolve(conn, a.id, "   ", t(3))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("note is required")),
            "{err}"
        );
        let resolved = anomalies::resolve(conn, a.id, "vendor re-sent the file", t(3))
            .await
            .unwrap();
        assert_eq!(resolved.resolved_at, Some(t(3)));
        assert_eq!(
            resolved.resolution_note.as_deref(),
            Some("vendor re-sent the file")
        );
        assert!(anomalies::resolve(conn, a.id, "again", t(4)).await.is_err());
        assert!(matches!(
            anomalies::resolve(conn, 9_999, "x", t(4)).await,
            Err(StoreError::NotFound { .. })
        ));

        let open = AnomalyFilter {
            unresolved_only: true,
            ..Default::default()
        };
        let open = anomalies::list(conn, &open).await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].message, "few venues");
        assert_eq!(all[0].details_json, Some(json!({"affected": 3})));
    })
    .await;
}

fn evaluation(ready: bool, captures: &[&str], at: DateTime<Utc>) -> Evaluation {
    Evaluation {
        domain: finra(),
        partition: PartitionKey::week(week()),
        ready_for: ReadyFor::Trading,
        status: if ready {
            ReadinessStatus::Ready
        } else {
            ReadinessStatus::NotReady
        },
        criteria: ReadinessCriteria {
            all_partitions_present: ready,
            all_stages_complete: true,
            no_critical_anomalies: true,
            dependencies_current: true,
            age_exceeds_preliminary: true,
        },
        blocking_issues: if ready {
            vec![]
        } else {
            vec!["missing tier NMS_TIER_2".into()]
        },
        captures_judged: captures.iter().map(|c| c.to_string()).collect(),
        evaluated_at: at,
        evaluated_by: "ops".into(),
    }
}

/// The current row and event of a [`readiness::Recorded::Changed`], failing on any other
/// outcome.
fn changed(recorded: readiness::Recorded) -> (readiness::Readiness, readiness::ReadinessEvent) {
    match recorded {
        readiness::Recorded::Changed { current, event } => (current, event),
        other => panic!("expected a change of verdict, got {other:?}"),
    }
}

/// An evaluation of the week for trading with a chosen status, signer and clock.
fn evaluation_of(
    status: ReadinessStatus,
    by: &str,
    at: DateTime<Utc>,
    captures: &[&str],
) -> Evaluation {
    let ready = status != ReadinessStatus::NotReady;
    Evaluation {
        status,
        evaluated_by: by.into(),
        ..evaluation(ready, captures, at)
    }
}

#[tokio::test]
async fn recorded_at_is_the_wall_clock_even_when_evaluated_as_of_1999() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let as_of_1999 = Utc.with_ymd_and_hms(1999, 6, 30, 16, 0, 0).unwrap();
        // The store keeps microseconds: compare against the wall clock at that precision.
        let before = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let (current, event) = changed(
            readiness::record_evaluation(conn, evaluation(true, &["cap_a"], as_of_1999))
                .await
                .unwrap(),
        );
        let after = Utc::now();
        assert_eq!(event.evaluated_at, as_of_1999);
        assert!(
            before <= event.recorded_at && event.recorded_at <= after,
            "{}: recorded_at {} is not the wall clock ({before} ..= {after})",
            db.backend,
            event.recorded_at
        );
        assert!(!event.backdated);
        assert_eq!(current.evaluated_at, as_of_1999);
        assert_eq!(current.recorded_at, event.recorded_at);
        // As stored, not just as returned.
        let stored = readiness::history(conn, &finra(), None, None)
            .await
            .unwrap();
        assert_eq!(stored, vec![event]);
    })
    .await;
}

#[tokio::test]
async fn a_backdated_not_ready_does_not_replace_a_newer_ready() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let (ready, _) = changed(
            readiness::record_evaluation(
                conn,
                evaluation_of(ReadinessStatus::Ready, "alice", t(10), &["cap_a"]),
            )
            .await
            .unwrap(),
        );

        let recorded = readiness::record_evaluation(
            conn,
            evaluation_of(ReadinessStatus::NotReady, "bob", t(5), &["cap_a"]),
        )
        .await
        .unwrap();
        let readiness::Recorded::Backdated { current, event } = recorded else {
            panic!("{}: expected backdated, got {recorded:?}", db.backend)
        };
        assert_eq!(current, ready, "the current verdict is untouched");
        assert!(event.backdated);
        assert_eq!(event.status, "NOT_READY");
        assert_eq!(event.evaluated_at, t(5));
        assert_eq!(
            event.certified_at, None,
            "a backdated evaluation certifies nothing"
        );

        let stored = readiness::current(
            conn,
            &finra(),
            &PartitionKey::week(week()),
            ReadyFor::Trading,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(stored, ready);
        assert_eq!(stored.status, "READY");
        assert_eq!(stored.certified_by.as_deref(), Some("alice"));

        let history = readiness::history(conn, &finra(), None, None)
            .await
            .unwrap();
        let shape: Vec<_> = history
            .iter()
            .map(|h| (h.status.as_str(), h.evaluated_at, h.backdated))
            .collect();
        // Oldest as-of first: the backdated row sorts before the verdict it did not replace.
        assert_eq!(shape, [("NOT_READY", t(5), true), ("READY", t(10), false)]);
        assert!(history[0].recorded_at >= history[1].recorded_at);
    })
    .await;
}

#[tokio::test]
async fn a_re_check_as_of_before_the_last_check_is_backdated_too() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let ready = |at| evaluation_of(ReadinessStatus::Ready, "alice", at, &["cap_a"]);
        readiness::record_evaluation(conn, ready(t(1)))
            .await
            .unwrap();
        let checked = readiness::record_evaluation(conn, ready(t(9)))
            .await
            .unwrap();
        assert_eq!(checked.as_str(), "unchanged");
        // Ready was confirmed as of 09:00: a NOT_READY as of 05:00 is older news.
        let late = readiness::record_evaluation(
            conn,
            evaluation_of(ReadinessStatus::NotReady, "bob", t(5), &["cap_a"]),
        )
        .await
        .unwrap();
        assert_eq!(late.as_str(), "backdated");
        assert_eq!(late.current().status, "READY");
        assert_eq!(late.current().last_checked_at, Some(t(9)));
    })
    .await;
}

#[tokio::test]
async fn two_identical_evaluations_append_one_history_row_and_move_last_checked_at() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let (first, event) = changed(
            readiness::record_evaluation(conn, evaluation(true, &["cap_a"], t(1)))
                .await
                .unwrap(),
        );
        assert_eq!(first.last_checked_at, None);

        let again = readiness::record_evaluation(conn, evaluation(true, &["cap_a"], t(2)))
            .await
            .unwrap();
        let readiness::Recorded::Unchanged { current } = &again else {
            panic!("{}: expected unchanged, got {again:?}", db.backend)
        };
        assert_eq!(again.event(), None);
        assert_eq!(current.last_checked_at, Some(t(2)));
        // The verdict itself did not move: same as-of time, certification and recording.
        assert_eq!(current.evaluated_at, t(1));
        assert_eq!(current.certified_at, Some(t(1)));
        assert_eq!(current.recorded_at, first.recorded_at);

        assert_eq!(
            readiness::history(conn, &finra(), None, None)
                .await
                .unwrap(),
            vec![event]
        );
        let stored = readiness::current(
            conn,
            &finra(),
            &PartitionKey::week(week()),
            ReadyFor::Trading,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(stored.last_checked_at, Some(t(2)));
    })
    .await;
}

#[tokio::test]
async fn a_changed_verdict_appends_and_clears_last_checked_at() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        readiness::record_evaluation(conn, evaluation(true, &["cap_a"], t(1)))
            .await
            .unwrap();
        readiness::record_evaluation(conn, evaluation(true, &["cap_a"], t(2)))
            .await
            .unwrap();
        // Same status and captures, but a warning opened: a different outcome.
        let (current, event) = changed(
            readiness::record_evaluation(
                conn,
                evaluation_of(ReadinessStatus::ReadyWithWarnings, "ops", t(3), &["cap_a"]),
            )
            .await
            .unwrap(),
        );
        assert_eq!(current.status, "READY_WITH_WARNINGS");
        assert_eq!(current.evaluated_at, t(3));
        assert_eq!(current.last_checked_at, None);
        assert_eq!(current.recorded_at, event.recorded_at);
        assert!(!event.backdated);
        // And a different blocking issue is a change too.
        let mut blocked = evaluation(false, &["cap_a"], t(4));
        let (_, _) = changed(
            readiness::record_evaluation(conn, blocked.clone())
                .await
                .unwrap(),
        );
        blocked.blocking_issues = vec!["missing tier OTC".into()];
        blocked.evaluated_at = t(5);
        changed(readiness::record_evaluation(conn, blocked).await.unwrap());
        let statuses: Vec<String> = readiness::history(conn, &finra(), None, None)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.status)
            .collect();
        assert_eq!(
            statuses,
            ["READY", "READY_WITH_WARNINGS", "NOT_READY", "NOT_READY"]
        );
    })
    .await;
}

#[tokio::test]
async fn the_audit_trail_names_who_issued_a_kept_certification() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let day_after = |h| t(h) + Duration::days(1);
        let record = |status, by, at| {
            readiness::record_evaluation(conn, evaluation_of(status, by, at, &["cap_a"]))
        };
        record(ReadinessStatus::Ready, "alice", t(1)).await.unwrap();
        // bob's verdict differs (a warning) but judges the same captures ready: alice's
        // certification stands, and it is still hers.
        record(ReadinessStatus::ReadyWithWarnings, "bob", day_after(2))
            .await
            .unwrap();
        record(ReadinessStatus::NotReady, "carol", day_after(4))
            .await
            .unwrap();
        // A backdated evaluation neither issues nor carries a certification.
        record(ReadinessStatus::Ready, "dave", day_after(3))
            .await
            .unwrap();
        record(ReadinessStatus::Ready, "erin", day_after(5))
            .await
            .unwrap();

        let rows = |trail: Vec<readiness::AuditEvent>| -> Vec<_> {
            trail
                .into_iter()
                .map(|a| {
                    (
                        a.event.evaluated_by.unwrap(),
                        a.event.certified_at,
                        a.certified_by,
                        a.event.backdated,
                    )
                })
                .collect()
        };
        let s = |v: &str| v.to_string();
        let all = readiness::audit_trail(conn, &finra(), None, None)
            .await
            .unwrap();
        assert_eq!(
            rows(all),
            [
                (s("alice"), Some(t(1)), Some(s("alice")), false),
                (s("bob"), Some(t(1)), Some(s("alice")), false),
                (s("dave"), None, None, true),
                (s("carol"), None, None, false),
                (s("erin"), Some(day_after(5)), Some(s("erin")), false),
            ]
        );
        // The issuing event may lie before the window: the signer is still found.
        let window = readiness::audit_trail(conn, &finra(), Some(day_after(0).date_naive()), None)
            .await
            .unwrap();
        assert_eq!(
            rows(window)[0],
            (s("bob"), Some(t(1)), Some(s("alice")), false)
        );
    })
    .await;
}

#[tokio::test]
async fn readiness_keeps_current_status_and_an_append_only_history() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let cur = changed(
            readiness::record_evaluation(conn, evaluation(false, &["cap_a"], t(1)))
                .await
                .unwrap(),
        )
        .0;
        assert!(!cur.is_ready);
        assert_eq!(cur.certified_at, None);
        assert_eq!(cur.blocking_issues, json!(["missing tier NMS_TIER_2"]));

        let (cur, event) = changed(
            readiness::record_evaluation(conn, evaluation(true, &["cap_a", "cap_b"], t(2)))
                .await
                .unwrap(),
        );
        assert!(cur.is_ready);
        assert_eq!(cur.certified_at, Some(t(2)));
        assert_eq!(cur.certified_by.as_deref(), Some("ops"));
        assert_eq!(event.certified_at, Some(t(2)));

        // Re-judging the same captures keeps the original certification time (and, the outcome
        // being the same, appends nothing).
        let recorded =
            readiness::record_evaluation(conn, evaluation(true, &["cap_a", "cap_b"], t(3)))
                .await
                .unwrap();
        assert_eq!(recorded.as_str(), "unchanged");
        let cur = recorded.current();
        assert_eq!(cur.certified_at, Some(t(2)));
        assert_eq!(cur.evaluated_at, t(2));
        assert_eq!(cur.last_checked_at, Some(t(3)));

        // A revision re-certifies.
        let (cur, _) = changed(
            readiness::record_evaluation(conn, evaluation(true, &["cap_a", "cap_c"], t(4)))
                .await
                .unwrap(),
        );
        assert_eq!(cur.certified_at, Some(t(4)));
        assert_eq!(cur.captures_judged, json!(["cap_a", "cap_c"]));

        let history = readiness::history(conn, &finra(), None, None)
            .await
            .unwrap();
        assert_eq!(history.len(), 3);
        assert!(!history[0].is_ready);
        assert_eq!(history[0].captures_judged, json!(["cap_a"]));
        let windowed = readiness::history(conn, &finra(), t(1).date_naive().succ_opt(), None)
            .await
            .unwrap();
        assert!(windowed.is_empty());
        let current = readiness::current(
            conn,
            &finra(),
            &PartitionKey::week(week()),
            ReadyFor::Trading,
        )
        .await
        .unwrap();
        assert_eq!(current.unwrap().id, cur.id);
        assert!(
            readiness::current(
                conn,
                &finra(),
                &PartitionKey::week(week()),
                ReadyFor::Compliance
            )
            .await
            .unwrap()
            .is_none()
        );
        assert_eq!(
            readiness::list_current(conn, Some(&finra()))
                .await
                .unwrap()
                .len(),
            1
        );

        // The audit trail cannot be rewritten, even by hand.
        use sea_orm::ConnectionTrait;
        let update = conn
            .execute_unprepared("UPDATE core_readiness_history SET is_ready = NOT is_ready")
            .await;
        assert!(
            update.is_err(),
            "{}: history must refuse UPDATE",
            db.backend
        );
        let delete = conn
            .execute_unprepared("DELETE FROM core_readiness_history")
            .await;
        assert!(
            delete.is_err(),
            "{}: history must refuse DELETE",
            db.backend
        );
        assert_eq!(
            readiness::history(conn, &finra(), None, None)
                .await
                .unwrap()
                .len(),
            3
        );
    })
    .await;
}

#[tokio::test]
async fn lineage_records_dependencies_and_consumed_inputs() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let calendar = Domain::parse(Domain::EXCHANGE_CALENDAR).unwrap();
        let dep = NewDependency {
            calc_domain: finra(),
            calc_pipeline: "finra_otc.calc".into(),
            calc_table: Some("finra_otc_volume_per_day".into()),
            depends_on_domain: calendar.clone(),
            depends_on_table: "ref_calendar_trading_days".into(),
            dependency_type: DependencyType::Required,
            description: Some("trading days divide weekly volume".into()),
        };
        let first = lineage::register_dependency(conn, dep.clone(), t(1))
            .await
            .unwrap();
        let again = lineage::register_dependency(
            conn,
            NewDependency {
                description: Some("updated".into()),
                ..dep
            },
            t(2),
        )
        .await
        .unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(again.description.as_deref(), Some("updated"));
        assert_eq!(
            lineage::list_dependencies(conn, Some(&finra()))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            lineage::dependents_of(conn, &calendar, Some("ref_calendar_trading_days"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            lineage::dependents_of(conn, &finra(), None)
                .await
                .unwrap()
                .is_empty()
        );

        let cal_key = PartitionKey::new()
            .with("exchange_code", "XNYS")
            .with("year", "2025");
        let input = |cap: &str| NewCalcInput {
            calc_domain: finra(),
            calc_table: "finra_otc_volume_per_day".into(),
            calc_partition: otc(),
            calc_capture_id: "cap_f".into(),
            input_domain: calendar.clone(),
            input_table: Some("ref_calendar_trading_days".into()),
            input_partition: cal_key.clone(),
            input_capture_id: cap.into(),
            recorded_at: t(1),
        };
        lineage::record_calc_input(conn, input("cap_cal1"))
            .await
            .unwrap();
        lineage::record_calc_input(conn, input("cap_cal2"))
            .await
            .unwrap();
        let inputs = lineage::inputs_of(conn, "cap_f").await.unwrap();
        assert_eq!(inputs.len(), 1, "a recompute replaces the consumed input");
        assert_eq!(inputs[0].input_capture_id, "cap_cal2");
        assert_eq!(
            lineage::consumers_of(conn, &calendar, &cal_key)
                .await
                .unwrap()
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn schedules_upsert_and_validate_templates() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        // The migrations seed one schedule per FINRA tier.
        let seeded = schedules::list(conn, Some(&finra()), false).await.unwrap();
        assert_eq!(seeded.len(), 3);
        assert!(
            seeded
                .iter()
                .all(|s| s.is_active && s.schedule_type == "WEEKLY")
        );
        let s = NewSchedule {
            domain: finra(),
            pipeline: "finra_otc.ingest.test".into(),
            schedule_type: ScheduleType::Weekly,
            cron_expression: None,
            partition_template: r#"{"tier":"${TIER}","week_ending":"${FRIDAY}"}"#.into(),
            partition_values: Some(json!({"TIER": ["NMS_TIER_1", "NMS_TIER_2", "OTC"]})),
            expected_delay_hours: Some(336),
            preliminary_hours: Some(48),
            description: Some("FINRA OTC weekly".into()),
            is_active: true,
        };
        let a = schedules::upsert(conn, s.clone(), t(1)).await.unwrap();
        let b = schedules::upsert(
            conn,
            NewSchedule {
                preliminary_hours: Some(72),
                ..s.clone()
            },
            t(2),
        )
        .await
        .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(b.preliminary_hours, Some(72));
        assert_eq!(
            b.partition_values,
            Some(json!({"TIER": ["NMS_TIER_1", "NMS_TIER_2", "OTC"]}))
        );
        let bad = schedules::upsert(
            conn,
            NewSchedule {
                partition_template: "{tier}".into(),
                ..s.clone()
            },
            t(3),
        )
        .await;
        assert!(matches!(bad, Err(StoreError::Invalid(ref m)) if m.contains("partition_template")));
        schedules::upsert(
            conn,
            NewSchedule {
                pipeline: "other".into(),
                is_active: false,
                ..s
            },
            t(3),
        )
        .await
        .unwrap();
        assert_eq!(
            schedules::list(conn, Some(&finra()), false)
                .await
                .unwrap()
                .len(),
            5
        );
        assert_eq!(schedules::list(conn, None, true).await.unwrap().len(), 4);
    })
    .await;
}

#[tokio::test]
async fn executions_record_start_and_finish() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let e = executions::start(
            conn,
            executions::NewExecution {
                pipeline: "finra_otc.ingest".into(),
                domain: finra(),
                partition: Some(otc()),
                params: Some(json!({"file": "otc.csv"})),
                trigger_source: "cli".into(),
                work_item_id: None,
                started_at: t(1),
            },
        )
        .await
        .unwrap();
        assert_eq!(e.status, "RUNNING");
        let done = executions::finish(
            conn,
            &e.execution_id,
            ExecutionStatus::Completed,
            Some(9),
            None,
            t(2),
        )
        .await
        .unwrap();
        assert_eq!(done.status, "COMPLETED");
        assert_eq!(done.finished_at, Some(t(2)));
        assert_eq!(executions::recent(conn, 5).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_unit_of_work_rolls_back_as_a_whole() {
    for_each_backend(|db| async move {
        let txn = db.store.begin().await.unwrap();
        captures::record(&txn, capture("zzz", t(1))).await.unwrap();
        anomalies::record(
            &txn,
            NewAnomaly::new(finra(), Severity::Info, Category::Freshness, "x", t(1)),
        )
        .await
        .unwrap();
        drop(txn); // no commit: a crash part-way
        let conn = db.store.conn();
        assert!(
            captures::latest(conn, &finra(), &otc())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            anomalies::list(conn, &AnomalyFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn postgres_runs_when_configured() {
    let ran = for_each_backend(|_| async {}).await;
    assert_eq!(ran[0], "sqlite");
    if std::env::var(spine_store::test_support::POSTGRES_URL_VAR).is_ok_and(|v| !v.is_empty()) {
        assert_eq!(ran, vec!["sqlite", "postgres"]);
    }
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let err = spine_store::Store::connect("postgres://nobody:secret@127.0.0.1:1/none")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to database `postgres://nobody:***@127.0.0.1:1/none`"),
        "{msg}"
    );
    assert!(!msg.contains("secret"));
}

#[tokio::test]
async fn record_once_keeps_one_open_anomaly_per_partition_and_cause() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let missing = |at| NewAnomaly {
            partition: Some(otc()),
            cause: Some("source_unavailable".into()),
            ..NewAnomaly::new(
                finra(),
                Severity::Error,
                Category::IncompleteInput,
                "OTC file: HTTP 404",
                at,
            )
        };
        let first = anomalies::record_once(conn, missing(t(1))).await.unwrap();
        assert!(matches!(first, anomalies::Recorded::Created(_)));
        let again = anomalies::record_once(conn, missing(t(2))).await.unwrap();
        assert!(
            matches!(&again, anomalies::Recorded::AlreadyOpen(a) if a.id == first.anomaly().id)
        );
        // Another cause on the same partition is another anomaly.
        let other = NewAnomaly {
            cause: Some("late".into()),
            ..missing(t(2))
        };
        assert!(matches!(
            anomalies::record_once(conn, other).await.unwrap(),
            anomalies::Recorded::Created(_)
        ));
        assert!(
            anomalies::record_once(
                conn,
                NewAnomaly {
                    cause: None,
                    ..missing(t(2))
                }
            )
            .await
            .is_err()
        );

        let resolved = anomalies::resolve_open(
            conn,
            &finra(),
            &otc(),
            Category::IncompleteInput,
            "source_unavailable",
            "retry succeeded",
            t(3),
        )
        .await
        .unwrap();
        assert_eq!(resolved.len(), 1);
        assert_eq!(
            resolved[0].resolution_note.as_deref(),
            Some("retry succeeded")
        );
        // Once resolved, the same cause can open again.
        assert!(matches!(
            anomalies::record_once(conn, missing(t(4))).await.unwrap(),
            anomalies::Recorded::Created(_)
        ));
    })
    .await;
}

#[tokio::test]
async fn schema_drift_and_the_data_probe_name_what_the_api_could_not_read() {
    use spine_store::ConnectionTrait;
    use spine_store::admin::{self, PROBED_TABLES};
    let ran = for_each_backend(|db| async move {
        let conn = db.store.conn();
        let drift = admin::schema_drift(&db.store).await.unwrap();
        assert!(drift.is_current(), "{}: {drift:?}", db.backend);
        admin::probe_data(&db.store).await.unwrap();

        // A newer binary's migration, and one of ours rolled back.
        conn.execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_future', 0)",
        )
        .await
        .unwrap();
        conn.execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = 'm20260103_000001_finra_rows_by_line'",
        )
        .await
        .unwrap();
        let drift = admin::schema_drift(&db.store).await.unwrap();
        assert_eq!(drift.unknown, ["m29990101_000001_future"], "{}", db.backend);
        assert_eq!(drift.pending, ["m20260103_000001_finra_rows_by_line"]);
        assert!(!drift.is_current());

        // Each probed table, unreadable in turn, is named.
        for table in PROBED_TABLES {
            conn.execute_unprepared(&format!("ALTER TABLE {table} RENAME TO {table}_gone"))
                .await
                .unwrap();
            let failure = admin::probe_data(&db.store).await.unwrap_err();
            assert_eq!(failure.table, *table, "{}", db.backend);
            assert!(failure.to_string().contains(table), "{failure}");
            conn.execute_unprepared(&format!("ALTER TABLE {table}_gone RENAME TO {table}"))
                .await
                .unwrap();
        }
        admin::probe_data(&db.store).await.unwrap();
    })
    .await;
    assert!(ran.contains(&"sqlite"));
}
