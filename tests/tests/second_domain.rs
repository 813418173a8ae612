//! The seam: a second market-data domain, written here in a test and shipped nowhere, goes
//! through the same engine paths as FINRA — registered, ingested, scheduled (missed, then late),
//! certified and diagnosed — without a line of engine code knowing it exists. Its anomalies are
//! recorded under its own name, and FINRA's verdicts never see them.
//!
//! `acme.prices` is a weekly file of `symbol,price` lines; the operator names its week. RAW
//! checks each line (a malformed one is a reject with its line number), NORMALIZED flags
//! non-positive prices (a WARN business rule of its own), CALC counts the symbols.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::json;
use spine_engine::anomaly::{AnomalySummary, Detector};
use spine_engine::capture::{self, FetchedInput};
use spine_engine::doctor::diagnose;
use spine_engine::domain::{
    CapturePlan, DetectionSpec, DomainPlugin, PipelineSpec, PlannedCapture, StagesOutcome,
};
use spine_engine::readiness::{certify, evaluate_only};
use spine_engine::schedules::check;
use spine_engine::{Engine, PipelineError, PipelineResult, Registry, RunContext};
use spine_model::{
    AnomalyCause, Category, Domain, ExpectedState, IngestStatus, PartitionKey, ReadinessStatus,
    ReadyFor, ScheduleType, Severity, Stage,
};
use spine_scenarios::{assert_ran_on_every_backend, at, date, load_calendars};
use spine_store::anomalies::{self, AnomalyFilter};
use spine_store::captures::{self, CaptureOutcome, NewCapture};
use spine_store::manifest::{self, StageRecord};
use spine_store::rejects::{self, NewReject};
use spine_store::schedules::NewSchedule;
use spine_store::test_support::for_each_backend;

const ACME: &str = "acme.prices";
const INGEST: &str = "acme.ingest";
const NON_POSITIVE_PRICE: AnomalyCause = AnomalyCause::named("non_positive_price");

fn acme() -> Domain {
    Domain::parse(ACME).unwrap()
}

/// The test-only domain.
struct AcmePrices;

async fn stage<C: spine_store::ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    stage: Stage,
    capture_id: &str,
    rows: i64,
    run: &RunContext,
) -> PipelineResult<()> {
    manifest::record_stage(
        conn,
        StageRecord {
            domain: acme(),
            partition: partition.clone(),
            stage,
            capture_id: capture_id.to_string(),
            row_count: rows,
            metrics: None,
            execution_id: run.execution_id.clone(),
            batch_id: None,
            updated_at: run.now,
        },
    )
    .await?;
    Ok(())
}

#[async_trait]
impl DomainPlugin for AcmePrices {
    fn name(&self) -> Domain {
        acme()
    }

    fn description(&self) -> &'static str {
        "weekly closing prices (a test domain)"
    }

    fn pipelines(&self) -> Vec<PipelineSpec> {
        vec![PipelineSpec {
            name: INGEST,
            arguments: "--file --week-ending",
            description: "ingest a weekly price file",
        }]
    }

    fn detections(&self) -> Vec<DetectionSpec> {
        vec![DetectionSpec {
            cause: NON_POSITIVE_PRICE,
            category: Category::BusinessRule,
            severity: Severity::Warn,
            stage: Stage::Normalized,
            description: "a price of zero or less",
        }]
    }

    fn seeded_schedules(&self) -> Vec<NewSchedule> {
        vec![NewSchedule {
            domain: acme(),
            pipeline: INGEST.to_string(),
            schedule_type: ScheduleType::Weekly,
            cron_expression: None,
            partition_template: r#"{"week_ending":"${FRIDAY}"}"#.to_string(),
            partition_values: None,
            expected_delay_hours: Some(24),
            preliminary_hours: Some(0),
            description: Some("prices are due one trading day after the week".into()),
            is_active: true,
        }]
    }

    async fn plan(
        &self,
        _engine: &Engine,
        _input: &FetchedInput,
        hint: &PartitionKey,
    ) -> PipelineResult<CapturePlan> {
        let Some(week) = hint.week_ending() else {
            return Err(PipelineError::Input(
                "acme.prices needs --week-ending".into(),
            ));
        };
        Ok(CapturePlan {
            partition: PartitionKey::week(week),
            source_last_update: None,
            metadata: None,
            detail: None,
        })
    }

    async fn capture(
        &self,
        engine: &Engine,
        planned: &PlannedCapture,
        input: &FetchedInput,
        run: &RunContext,
    ) -> PipelineResult<StagesOutcome> {
        let text = input.read_to_string()?;
        let partition = planned.plan.partition.clone();
        let mut outcome = StagesOutcome::new(IngestStatus::Ingested);
        let mut prices = Vec::new();
        let mut refused = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            outcome.rows_read += 1;
            match line.split_once(',').map(|(s, p)| (s, p.parse::<f64>())) {
                Some((symbol, Ok(price))) if !symbol.is_empty() => {
                    prices.push((i as i64 + 1, symbol.to_string(), price))
                }
                _ => refused.push(NewReject {
                    domain: acme(),
                    partition: partition.clone(),
                    stage: Stage::Raw,
                    capture_id: planned.capture_id.clone(),
                    line_number: Some(i as i64 + 1),
                    reason_code: "NOT_SYMBOL_COMMA_PRICE".into(),
                    detail: format!("`{line}` is not symbol,price"),
                    raw_line: line.to_string(),
                    source_locator: Some(input.locator.clone()),
                    execution_id: run.execution_id.clone(),
                    created_at: run.now,
                }),
            }
        }
        outcome.rows_accepted = prices.len() as i64;
        outcome.rows_rejected = refused.len() as i64;
        if !refused.is_empty() {
            outcome
                .rejects_by_reason
                .insert("NOT_SYMBOL_COMMA_PRICE".into(), refused.len() as u64);
        }
        let store = engine.store();
        // RAW: the capture, its rejects and the stage, atomically.
        let txn = store.begin().await?;
        rejects::insert_many(&txn, refused).await?;
        let recorded = captures::record(
            &txn,
            NewCapture {
                domain: acme(),
                partition: partition.clone(),
                content_hash: input.content_hash.clone(),
                source_locator: input.locator.clone(),
                source_last_update: None,
                captured_at: run.now,
                rows_read: outcome.rows_read,
                rows_accepted: outcome.rows_accepted,
                rows_rejected: outcome.rows_rejected,
                metadata: None,
            },
        )
        .await?;
        if let CaptureOutcome::Revision { previous, .. } = &recorded {
            outcome.status = IngestStatus::Revised;
            outcome.supersedes = Some(previous.capture_id.clone());
        }
        stage(
            &txn,
            &partition,
            Stage::Raw,
            &planned.capture_id,
            outcome.rows_accepted,
            run,
        )
        .await?;
        txn.commit().await?;
        // NORMALIZED: its own business rule, recorded under its own domain.
        let txn = store.begin().await?;
        let bad: Vec<_> = prices.iter().filter(|(_, _, p)| *p <= 0.0).collect();
        if !bad.is_empty() {
            let domain = acme();
            let detector = Detector {
                domain: &domain,
                pipeline: INGEST,
                run,
            };
            let recorded = detector
                .once(
                    &txn,
                    &partition,
                    Some(Stage::Normalized),
                    Severity::Warn,
                    Category::BusinessRule,
                    &NON_POSITIVE_PRICE,
                    format!("{} prices are zero or less", bad.len()),
                    json!({"lines": bad.iter().map(|(l, _, _)| l).collect::<Vec<_>>()}),
                    Some(&planned.capture_id),
                )
                .await?;
            outcome
                .anomalies
                .push(AnomalySummary::opened(recorded.anomaly()));
        }
        stage(
            &txn,
            &partition,
            Stage::Normalized,
            &planned.capture_id,
            prices.len() as i64,
            run,
        )
        .await?;
        // CALC: the symbols priced.
        stage(
            &txn,
            &partition,
            Stage::Calc,
            &planned.capture_id,
            prices.len() as i64,
            run,
        )
        .await?;
        txn.commit().await?;
        outcome.stage = Some(Stage::Calc);
        Ok(outcome)
    }
}

fn registry() -> Registry {
    spine_cli::registry::registry()
        .with(Arc::new(AcmePrices))
        .expect("acme registers beside FINRA and the calendar")
}

async fn ingest_acme(
    engine: &Engine,
    dir: &std::path::Path,
    week: NaiveDate,
    body: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> spine_engine::CaptureReport {
    let path = dir.join(format!("prices_{week}.csv"));
    std::fs::write(&path, body).unwrap();
    capture::ingest_fetched(
        engine,
        &AcmePrices,
        &FetchedInput::local_file(&path).unwrap(),
        &PartitionKey::week(week),
        &RunContext::quiet(at),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_second_domain_runs_through_the_same_engine_paths_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let (w1, w2) = (date(2026, 1, 2), date(2026, 1, 9));
    let ran = for_each_backend(|db| {
        let dir = dir.path().to_path_buf();
        async move {
            let engine = Engine::new(db.store.clone(), registry());
            let conn = engine.store().conn();
            load_calendars(engine.store()).await;
            engine.bootstrap(at(2026, 1, 1, 0, 0)).await.unwrap();

            // Week 1 arrives on time (due one trading day after Friday: Monday 2026-01-05).
            let first = ingest_acme(
                &engine,
                &dir,
                w1,
                "symbol,price\nAAA,10.5\nBBB,0\nnot a price line\n",
                at(2026, 1, 3, 9, 0),
            )
            .await;
            assert_eq!(first.status, IngestStatus::Ingested);
            assert_eq!(
                (first.rows_read, first.rows_accepted, first.rows_rejected),
                (3, 2, 1)
            );
            assert_eq!(first.stage, Some(Stage::Calc));
            let reject = &rejects::for_capture(conn, &first.capture_id).await.unwrap()[0];
            assert_eq!(
                (reject.line_number, reject.domain.as_str()),
                (Some(4), ACME)
            );

            // Week 2 is not there when its schedule is checked: missed, under acme's name.
            let checked = check(
                engine.store(),
                &acme(),
                w1,
                w2,
                &RunContext::quiet(at(2026, 1, 13, 9, 0)),
            )
            .await
            .unwrap();
            let states: Vec<ExpectedState> = checked.expected.iter().map(|e| e.status).collect();
            assert_eq!(states, [ExpectedState::Present, ExpectedState::Missed]);
            let missed = anomalies::list(
                conn,
                &AnomalyFilter {
                    category: Some(Category::Schedule),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(missed.len(), 1);
            assert_eq!(missed[0].domain, ACME);
            assert_eq!(missed[0].pipeline.as_deref(), Some(INGEST));
            assert_eq!(
                missed[0].partition_key,
                Some(PartitionKey::week(w2).canonical())
            );
            let blocked = certify(
                &engine,
                &acme(),
                &PartitionKey::week(w2),
                ReadyFor::Compliance,
                "desk",
                &RunContext::quiet(at(2026, 1, 13, 9, 5)),
            )
            .await
            .unwrap()
            .certification;
            assert!(!blocked.is_ready, "{blocked:?}");

            // It arrives late: the landing resolves "missed" and records "late", both acme's.
            let late = ingest_acme(
                &engine,
                &dir,
                w2,
                "symbol,price\nAAA,11\nBBB,4\n",
                at(2026, 1, 13, 10, 0),
            )
            .await;
            assert_eq!(late.anomalies.len(), 2, "{:?}", late.anomalies);
            assert!(late.anomalies[0].resolved && late.anomalies[0].category == Category::Schedule);
            assert_eq!(late.anomalies[1].category, Category::Freshness);
            assert!(
                late.notes.iter().any(|n| n.contains(
                    "re-evaluated readiness of {\"week_ending\":\"2026-01-09\"} for compliance"
                )),
                "{:?}",
                late.notes
            );
            let acme_anomalies = anomalies::list(
                conn,
                &AnomalyFilter {
                    domain: Some(acme()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let causes: Vec<(&str, bool)> = acme_anomalies
                .iter()
                .map(|a| (a.cause.as_deref().unwrap(), a.resolved_at.is_some()))
                .collect();
            assert_eq!(
                causes,
                [
                    ("non_positive_price", false),
                    ("rejected_lines", false),
                    ("missed", true),
                    ("late", false)
                ]
            );

            // The engine's own completeness check judged acme's capture too: one line of three
            // rejected is past the 1% share, an ERROR of acme's.
            let rejected = &acme_anomalies[1];
            assert_eq!(
                (rejected.severity.as_str(), rejected.domain.as_str()),
                ("ERROR", ACME)
            );
            assert!(
                rejected.message.contains("NOT_SYMBOL_COMMA_PRICE 1"),
                "{}",
                rejected.message
            );

            // Certified through the same readiness path: week 1 carries its own warning, week 2
            // its late arrival; neither is blocked by anything of FINRA's.
            let ready = certify(
                &engine,
                &acme(),
                &PartitionKey::week(w2),
                ReadyFor::Compliance,
                "desk",
                &RunContext::quiet(at(2026, 1, 14, 9, 0)),
            )
            .await
            .unwrap()
            .certification;
            assert_eq!(
                ready.status,
                ReadinessStatus::ReadyWithWarnings,
                "{ready:?}"
            );
            assert_eq!(
                ready.captures_judged,
                std::slice::from_ref(&late.capture_id)
            );
            let w1_verdict = evaluate_only(
                &engine,
                &acme(),
                &PartitionKey::week(w1),
                ReadyFor::Trading,
                &RunContext::quiet(at(2026, 1, 14, 9, 0)),
            )
            .await
            .unwrap();
            assert!(w1_verdict.is_ready);
            assert!(
                w1_verdict
                    .warnings
                    .iter()
                    .any(|w| w.contains("zero or less"))
            );

            // The doctor diagnoses it like any domain.
            let doctor = diagnose(
                &engine,
                &acme(),
                2,
                &RunContext::quiet(at(2026, 1, 14, 9, 0)),
            )
            .await
            .unwrap();
            let weeks: Vec<NaiveDate> = doctor.weeks.iter().map(|w| w.week_ending).collect();
            assert_eq!(weeks, [w2, w1]);
            // Week 1's rejected line blocks its compliance use, and the doctor says so.
            assert!(doctor.blocking);
            let w1_compliance = &doctor.weeks[1].readiness[1];
            assert_eq!(w1_compliance.ready_for, ReadyFor::Compliance);
            assert!(
                w1_compliance
                    .blocking_issues
                    .iter()
                    .any(|i| i.contains("1 of 3 lines rejected")),
                "{:?}",
                w1_compliance.blocking_issues
            );

            // FINRA's verdict of the same week sees none of acme's anomalies.
            let finra = Domain::parse(Domain::FINRA_OTC).unwrap();
            let finra_verdict = evaluate_only(
                &engine,
                &finra,
                &PartitionKey::week(w2),
                ReadyFor::Compliance,
                &RunContext::quiet(at(2026, 1, 14, 9, 0)),
            )
            .await
            .unwrap();
            assert!(
                finra_verdict
                    .blocking_issues
                    .iter()
                    .chain(&finra_verdict.warnings)
                    .all(|i| !i.contains("zero or less") && !i.contains("late")),
                "{finra_verdict:?}"
            );
            let finra_anomalies = anomalies::list(
                conn,
                &AnomalyFilter {
                    domain: Some(finra),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert!(finra_anomalies.is_empty(), "{finra_anomalies:?}");
        }
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
