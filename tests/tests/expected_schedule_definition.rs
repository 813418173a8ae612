//! Scenario: expected schedule definition. A fresh database holds the seeded FINRA OTC weekly
//! schedules, one per tier, with FINRA's publication lags as trading-time delays. Checking the
//! week ending 2025-12-19 before anything is due expands them to the three tier partitions with
//! their due times (counted past Christmas, New Year's Day and Martin Luther King Jr. Day), all
//! `pending`, and records nothing; readiness already knows which tiers it waits for. A custom
//! daily schedule added with `schedules::upsert` expands the same way (skipping the Christmas
//! closure), and deactivating it stops the expansion.

use serde_json::{Value, json};
use spine_cli::output::Table;
use spine_engine::RunContext;
use spine_engine::schedules::check;
use spine_model::{Domain, PartitionKey, ReadyFor, ScheduleType};
use spine_scenarios::{
    assert_ran_on_every_backend, at, certify, date, finra, finra_anomalies, lines, load_calendars,
    operator_view, schedule_view, scrub, settings, verdict,
};
use spine_store::schedules::{self, NewSchedule, Schedule};
use spine_store::test_support::for_each_backend;

/// A schedule as stored, without its bookkeeping timestamps (the migration stamps the seeded
/// rows with the database's own clock).
fn schedule(s: &Schedule) -> Value {
    json!({
        "id": s.id,
        "domain": s.domain,
        "pipeline": s.pipeline,
        "schedule_type": s.schedule_type,
        "cron_expression": s.cron_expression,
        "partition_template": s.partition_template,
        "partition_values": s.partition_values,
        "expected_delay_hours": s.expected_delay_hours,
        "preliminary_hours": s.preliminary_hours,
        "description": s.description,
        "is_active": s.is_active,
    })
}

/// What `spine schedules list` shows people.
fn list_view(rows: &[Schedule]) -> Vec<String> {
    let mut table = Table::new([
        "domain", "pipeline", "type", "template", "values", "delay_h", "prelim_h", "active",
    ]);
    for s in rows {
        table.push([
            s.domain.clone(),
            s.pipeline.clone(),
            s.schedule_type.clone(),
            s.partition_template.clone(),
            s.partition_values
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            s.expected_delay_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            s.preliminary_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            s.is_active.to_string(),
        ]);
    }
    lines(&table)
}

fn short_sale_schedule(is_active: bool) -> NewSchedule {
    NewSchedule {
        domain: Domain::parse("finra.short_sale_volume").unwrap(),
        pipeline: "finra_short_sale.ingest".into(),
        schedule_type: ScheduleType::Daily,
        cron_expression: Some("0 18 * * MON-FRI".into()),
        partition_template: r#"{"market":"${MARKET}","trade_date":"${DATE}"}"#.into(),
        partition_values: Some(json!({"MARKET": ["CNMS", "FNQC"]})),
        expected_delay_hours: Some(24 + 18),
        preliminary_hours: Some(24),
        description: Some(
            "FINRA daily short sale volume: published the next trading day, by 18:00 UTC".into(),
        ),
        is_active,
    }
}

#[tokio::test]
async fn seeded_and_custom_schedules_expand_to_pending_partitions_before_they_are_due() {
    let ran = for_each_backend(|db| async move {
        let store = &db.store;
        load_calendars(store).await;
        let mut steps = Vec::new();

        let seeded = schedules::list(store.conn(), None, false).await.unwrap();
        assert_eq!(seeded.len(), 3);
        steps.push(json!({
            "step": "seeded schedules in a fresh database",
            "schedules": seeded.iter().map(schedule).collect::<Vec<_>>(),
            "operator_view": list_view(&seeded),
        }));

        // Saturday after the week ending 2025-12-19: nothing ingested, nothing due yet.
        let now = at(2025, 12, 20, 9, 0);
        let week = date(2025, 12, 19);
        let expected = check(
            store,
            &finra(),
            date(2025, 12, 15),
            week,
            &RunContext::quiet(now),
        )
        .await
        .unwrap();
        assert_eq!(expected.expected.len(), 3);
        assert!(expected.expected.iter().all(|e| e.status == spine_model::ExpectedState::Pending));
        assert!(expected.anomalies.is_empty());
        assert!(finra_anomalies(store).await.is_empty());
        let waiting = certify(store, &PartitionKey::week(week), ReadyFor::Trading, now).await;
        assert!(!waiting.criteria.all_partitions_present);
        assert!(finra_anomalies(store).await.is_empty());
        steps.push(json!({
            "step": "check 2025-12-15..2025-12-19 at 2025-12-20 09:00",
            "check": expected,
            "operator_view": schedule_view(&expected),
            "readiness": verdict(&waiting),
            "readiness_operator_view": operator_view(&waiting),
        }));

        // A custom daily schedule for another dataset.
        let custom = schedules::upsert(store.conn(), short_sale_schedule(true), at(2025, 12, 21, 8, 0))
            .await
            .unwrap();
        let domain = Domain::parse("finra.short_sale_volume").unwrap();
        let window = (date(2025, 12, 22), date(2025, 12, 26));
        let run = RunContext::quiet(at(2025, 12, 22, 9, 0));
        let custom_check = check(store, &domain, window.0, window.1, &run).await.unwrap();
        // Four trading days (Christmas is closed) times two markets.
        assert_eq!(custom_check.expected.len(), 8);
        assert!(custom_check.expected.iter().all(|e| e.status == spine_model::ExpectedState::Pending));
        steps.push(json!({
            "step": "custom DAILY schedule upserted; check 2025-12-22..2025-12-26 at 2025-12-22 09:00",
            "schedule": schedule(&custom),
            "check": custom_check,
            "operator_view": schedule_view(&custom_check),
        }));

        // Upserting the same (domain, pipeline) edits it in place: deactivated, it expands to
        // nothing.
        let inactive = schedules::upsert(store.conn(), short_sale_schedule(false), at(2025, 12, 22, 10, 0))
            .await
            .unwrap();
        assert_eq!(inactive.id, custom.id);
        let after = check(store, &domain, window.0, window.1, &run).await.unwrap();
        assert!(after.expected.is_empty());
        let all = schedules::list(store.conn(), None, false).await.unwrap();
        steps.push(json!({
            "step": "the custom schedule deactivated by upsert",
            "schedule": schedule(&inactive),
            "updated_at": inactive.updated_at,
            "check": after,
            "operator_view": list_view(&all),
        }));

        settings().bind(|| {
            insta::assert_json_snapshot!(
                "expected_schedule_definition",
                scrub(json!({ "steps": steps }))
            );
        });
    })
    .await;
    assert_ran_on_every_backend(&ran);
}
