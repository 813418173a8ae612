//! `spine-model`'s entities against the migrated schema, on every backend (see `common`).
//!
//! The migrations and the entities are written separately, so nothing but these tests stops them
//! drifting apart. For each entity the test creates a scratch table from the entity definition
//! (`Schema::create_table_from_entity`) next to the migrated table and compares the two column by
//! column as the database's own catalog reports them: name, type, length, nullability, default,
//! primary key / identity. A round trip through two entities then checks the Rust types decode
//! what the columns hold.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use migration::sea_orm_migration::sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseConnection, DbBackend, EntityName,
    EntityTrait, IntoActiveModel, Schema,
};
use migration::{APPEND_ONLY_MESSAGE, Migrator, MigratorTrait, expected_tables};
use serde_json::json;
use spine_model::entities::{core_captures, core_readiness_history, prelude::*};

use common::{on_every_backend, strings};

/// One line per column, in column order, as the catalog describes it.
async fn columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => format!(
            "SELECT name || ' ' || type || ' notnull=' || \"notnull\" || \
                    ' default=' || coalesce(dflt_value, '-') || ' pk=' || pk AS col \
             FROM pragma_table_info('{table}') ORDER BY cid"
        ),
        _ => format!(
            "SELECT column_name || ' ' || data_type || \
                    coalesce('(' || character_maximum_length::text || ')', '') || \
                    ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '-') || \
                    ' identity=' || is_identity AS col \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
    };
    strings(db, &sql, "col").await
}

/// Asserts the entity's table definition equals the migrated table, and that selecting every
/// entity column from the migrated table works.
async fn assert_entity_matches_table<E: EntityTrait>(db: &DatabaseConnection, entity: E) {
    let table = entity.table_name();
    let scratch = format!("{table}_from_entity");
    let mut create = Schema::new(db.get_database_backend()).create_table_from_entity(entity);
    create.table(scratch.clone());
    db.execute(&create)
        .await
        .unwrap_or_else(|e| panic!("create `{scratch}` from the entity: {e}"));

    let migrated = columns(db, table).await;
    assert!(!migrated.is_empty(), "`{table}` was not migrated");
    assert_eq!(
        columns(db, &scratch).await,
        migrated,
        "entity `{table}` (left) differs from the migrated table (right)"
    );

    db.execute_unprepared(&format!("DROP TABLE {scratch}"))
        .await
        .expect("drop the scratch table");
    E::find()
        .all(db)
        .await
        .unwrap_or_else(|e| panic!("select every entity column of `{table}`: {e}"));
}

#[tokio::test]
async fn every_entity_matches_its_migrated_table() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("migrate up");
        let mut checked = Vec::new();
        macro_rules! check {
            ($($entity:ident),* $(,)?) => {$(
                assert_entity_matches_table(&db, $entity).await;
                checked.push($entity.table_name());
            )*};
        }
        check!(
            CoreCaptures,
            CoreManifest,
            CoreRejects,
            CoreQuality,
            CoreAnomalies,
            CoreDataReadiness,
            CoreReadinessHistory,
            CoreCalcDependencies,
            CoreCalcInputs,
            CoreExpectedSchedules,
            CoreWorkItems,
            CoreExecutions,
            FinraOtcRaw,
            FinraOtcNormalized,
            FinraOtcSymbolSummary,
            FinraOtcVenueShare,
            FinraOtcHhi,
            FinraOtcTierSplit,
            FinraOtcVolumePerDay,
            RefCalendarHolidays,
            RefCalendarTradingDays,
            CoreSources,
            CoreSourceFetchState,
            CoreSourceRate,
            CoreEvents,
            CoreSubscriptions,
            CoreDeliveries,
            CoreWorkAttempts,
            CoreWorkers,
            CoreCaptureChunks,
        );
        assert_eq!(checked, expected_tables(), "one entity per table");
    })
    .await;
}

#[tokio::test]
async fn entities_round_trip_and_history_stays_append_only() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("migrate up");
        let at = Utc.with_ymd_and_hms(2025, 12, 26, 12, 30, 0).unwrap();

        let capture = core_captures::Model {
            id: 0,
            capture_id: "c".repeat(64),
            domain: "finra.otc_transparency".to_owned(),
            partition_key: r#"{"tier":"OTC","week_ending":"2025-12-19"}"#.to_owned(),
            content_hash: "f".repeat(64),
            source_locator: "file:///data/finra/otc.psv".to_owned(),
            source_last_update: Some(NaiveDate::from_ymd_opt(2025, 12, 22).unwrap()),
            captured_at: at,
            rows_read: 12_345_678_901,
            rows_accepted: 12_345_678_900,
            rows_rejected: 1,
            supersedes_capture_id: None,
            metadata_json: Some(json!({"source": "finra", "lines": 3})),
            created_at: at,
        };
        let mut active = capture.clone().into_active_model().reset_all();
        active.id = ActiveValue::NotSet;
        let saved = active.insert(&db).await.expect("insert a capture");
        assert_eq!(
            saved,
            core_captures::Model {
                id: saved.id,
                ..capture
            }
        );
        assert_eq!(
            CoreCaptures::find_by_id(saved.id).one(&db).await.unwrap(),
            Some(saved)
        );

        let evaluation = core_readiness_history::Model {
            id: 0,
            domain: "finra.otc_transparency".to_owned(),
            partition_key: r#"{"week_ending":"2025-12-19"}"#.to_owned(),
            ready_for: "trading".to_owned(),
            status: "NOT_READY".to_owned(),
            is_ready: false,
            all_partitions_present: true,
            all_stages_complete: true,
            no_critical_anomalies: false,
            dependencies_current: true,
            age_exceeds_preliminary: true,
            blocking_issues: json!([{"category": "COMPLETENESS", "severity": "CRITICAL"}]),
            captures_judged: json!(["c"]),
            evaluated_at: at,
            evaluated_by: Some("ops".to_owned()),
            certified_at: None,
            created_at: at,
            recorded_at: Utc.with_ymd_and_hms(2026, 1, 2, 8, 15, 30).unwrap(),
            backdated: true,
        };
        let mut active = evaluation.clone().into_active_model().reset_all();
        active.id = ActiveValue::NotSet;
        let saved = active.insert(&db).await.expect("insert an evaluation");
        assert_eq!(
            saved,
            core_readiness_history::Model {
                id: saved.id,
                ..evaluation
            }
        );

        let mut edit = saved.clone().into_active_model();
        edit.status = ActiveValue::Set("READY".to_owned());
        let err = edit
            .update(&db)
            .await
            .expect_err("history rows cannot be updated");
        assert!(err.to_string().contains(APPEND_ONLY_MESSAGE), "{err}");
        let err = CoreReadinessHistory::delete_by_id(saved.id)
            .exec(&db)
            .await
            .expect_err("history rows cannot be deleted");
        assert!(err.to_string().contains(APPEND_ONLY_MESSAGE), "{err}");
        assert_eq!(
            CoreReadinessHistory::find().all(&db).await.unwrap(),
            vec![saved]
        );
    })
    .await;
}
