//! The migrations against real databases: SQLite in memory always, PostgreSQL too when
//! `SPINE_TEST_POSTGRES_URL` is set (see `common`). Each test body is written once and runs on
//! both backends, because "the same schema on both" is the property under test.

mod common;

use std::collections::BTreeSet;

use common::{count, functions, indexes, on_every_backend, strings, tables, triggers};
use migration::sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use migration::{
    APPEND_ONLY_MESSAGE, MigrationStatus, Migrator, MigratorTrait, UNRESOLVED_ANOMALIES_INDEX,
    expected_indexes, expected_tables, expected_tables_by_migration,
};

const MIGRATIONS_TABLE: &str = "seaql_migrations";

/// `expected_tables()` plus the migrator's bookkeeping table.
fn all_tables() -> BTreeSet<String> {
    expected_tables()
        .iter()
        .chain([&MIGRATIONS_TABLE])
        .map(|t| t.to_string())
        .collect()
}

/// Everything in the catalog that the migrations could have created or left behind.
#[derive(Debug, PartialEq, Eq)]
struct Catalog {
    tables: BTreeSet<String>,
    indexes: BTreeSet<common::CatalogIndex>,
    triggers: BTreeSet<String>,
    functions: BTreeSet<String>,
}

async fn catalog(db: &DatabaseConnection) -> Catalog {
    Catalog {
        tables: tables(db).await,
        indexes: indexes(db).await,
        triggers: triggers(db).await,
        functions: functions(db).await,
    }
}

/// Migration names with their status, in order.
async fn statuses(db: &DatabaseConnection) -> Vec<(String, MigrationStatus)> {
    Migrator::get_migration_with_status(db)
        .await
        .expect("read migration status")
        .iter()
        .map(|m| (m.name().to_owned(), m.status()))
        .collect()
}

/// A valid `core_readiness_history` row, in SQL both backends accept.
const INSERT_HISTORY: &str = r#"
    INSERT INTO core_readiness_history (
        domain, partition_key, ready_for, status, is_ready,
        all_partitions_present, all_stages_complete, no_critical_anomalies,
        dependencies_current, age_exceeds_preliminary,
        blocking_issues, captures_judged, evaluated_at, created_at, recorded_at
    ) VALUES (
        'finra.otc_transparency', '{"week_ending":"2025-12-19"}', 'trading', 'READY', TRUE,
        TRUE, TRUE, TRUE, TRUE, TRUE,
        '[]', '[]', '2025-12-26 12:00:00+00:00', '2025-12-26 12:00:00+00:00',
        '2026-01-02 08:00:00+00:00'
    )"#;

/// A `core_readiness_history` row as the tables were before
/// `m20260104_000001_readiness_audit_clocks` (no `recorded_at`, no `backdated`); `{id}`,
/// `{status}` and `{created_at}` are filled in.
const INSERT_OLD_HISTORY: &str = r#"
    INSERT INTO core_readiness_history (
        id, domain, partition_key, ready_for, status, is_ready,
        all_partitions_present, all_stages_complete, no_critical_anomalies,
        dependencies_current, age_exceeds_preliminary,
        blocking_issues, captures_judged, evaluated_at, evaluated_by, created_at
    ) VALUES (
        {id}, 'finra.otc_transparency', '{"week_ending":"2025-12-19"}', 'trading', '{status}',
        TRUE, TRUE, TRUE, TRUE, TRUE, TRUE,
        '[]', '["cap_a"]', '{created_at}', 'ops', '{created_at}'
    )"#;

/// How many migrations come before `name`: `Migrator::up(&db, Some(n))` stops right before it.
fn migrations_before(name: &str) -> u32 {
    Migrator::migrations()
        .iter()
        .position(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no migration {name}")) as u32
}

/// [`INSERT_OLD_HISTORY`] for one row.
fn old_history(id: i64, status: &str, created_at: &str) -> String {
    INSERT_OLD_HISTORY
        .replace("{id}", &id.to_string())
        .replace("{status}", status)
        .replace("{created_at}", created_at)
}

#[test]
fn table_lists_agree_with_the_migrator() {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let listed: Vec<String> = expected_tables_by_migration()
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(names, listed);
    let flattened: Vec<&str> = expected_tables_by_migration()
        .iter()
        .flat_map(|(_, tables)| tables.iter().copied())
        .collect();
    assert_eq!(flattened, expected_tables());
    for index in expected_indexes() {
        assert!(
            index.name.len() <= 63,
            "{} exceeds PostgreSQL's 63",
            index.name
        );
        assert!(expected_tables().contains(&index.table), "{index:?}");
    }
}

/// (a) `up` creates every table and exactly the named indexes.
#[tokio::test]
async fn up_creates_every_table_and_index() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("migrate up");

        assert_eq!(tables(&db).await, all_tables());

        let actual: BTreeSet<(String, String, bool, bool)> = indexes(&db)
            .await
            .into_iter()
            .filter(|i| i.table != MIGRATIONS_TABLE)
            .map(|i| {
                (
                    i.name.clone(),
                    i.table.clone(),
                    i.is_unique(),
                    i.is_partial(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String, bool, bool)> = expected_indexes()
            .iter()
            .map(|i| (i.name.to_owned(), i.table.to_owned(), i.unique, i.partial))
            .collect();
        assert_eq!(actual, expected);

        assert!(
            statuses(&db)
                .await
                .iter()
                .all(|(_, s)| *s == MigrationStatus::Applied)
        );
    })
    .await;
}

/// (b) Running `up` on an up-to-date database changes nothing.
#[tokio::test]
async fn up_twice_is_a_no_op() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("first up");
        db.execute_unprepared(INSERT_HISTORY).await.expect("insert");
        let before = catalog(&db).await;
        let status_before = statuses(&db).await;

        Migrator::up(&db, None).await.expect("second up");

        assert_eq!(catalog(&db).await, before);
        assert_eq!(statuses(&db).await, status_before);
        assert_eq!(
            count(&db, MIGRATIONS_TABLE).await,
            Migrator::migrations().len() as i64
        );
        assert_eq!(count(&db, "core_readiness_history").await, 1);
    })
    .await;
}

/// (c) `fresh` rebuilds the full schema from any state, and rolling back step by step removes
/// exactly each migration's tables until nothing but the (empty) bookkeeping table is left.
#[tokio::test]
async fn fresh_then_down_to_zero_removes_everything() {
    on_every_backend(|db| async move {
        // Start from a partial, non-empty state: fresh must not care.
        Migrator::up(&db, Some(1)).await.expect("up one step");
        db.execute_unprepared(&old_history(1, "READY", "2025-12-26 12:00:00+00:00"))
            .await
            .expect("insert");

        Migrator::fresh(&db).await.expect("fresh");
        assert_eq!(tables(&db).await, all_tables());
        assert_eq!(count(&db, "core_readiness_history").await, 0);
        assert!(!triggers(&db).await.is_empty(), "append-only triggers");

        let mut remaining = all_tables();
        for (name, created) in expected_tables_by_migration().iter().rev() {
            Migrator::down(&db, Some(1)).await.expect("down one step");
            for table in created.iter() {
                remaining.remove(*table);
            }
            assert_eq!(tables(&db).await, remaining, "after rolling back {name}");
        }

        assert_eq!(
            catalog(&db).await,
            Catalog {
                tables: [MIGRATIONS_TABLE.to_owned()].into(),
                indexes: BTreeSet::new(),
                triggers: BTreeSet::new(),
                functions: BTreeSet::new(),
            }
        );
        assert_eq!(count(&db, MIGRATIONS_TABLE).await, 0);

        // And the schema comes back from zero.
        Migrator::up(&db, None).await.expect("up again from zero");
        assert_eq!(tables(&db).await, all_tables());
    })
    .await;
}

/// (d) `core_readiness_history` takes inserts but rejects UPDATE and DELETE, with the same
/// message on both backends (and TRUNCATE on PostgreSQL, which has it).
#[tokio::test]
async fn readiness_history_rejects_update_and_delete() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("migrate up");
        db.execute_unprepared(INSERT_HISTORY).await.expect("insert");

        let attempts = [
            "UPDATE core_readiness_history SET status = 'NOT_READY'",
            "UPDATE core_readiness_history SET certified_at = evaluated_at WHERE id = 1",
            "DELETE FROM core_readiness_history WHERE id = 1",
            "DELETE FROM core_readiness_history",
        ];
        for sql in attempts {
            let err = db
                .execute_unprepared(sql)
                .await
                .expect_err(&format!("`{sql}` must be rejected"));
            assert!(
                err.to_string().contains(APPEND_ONLY_MESSAGE),
                "`{sql}` failed for the wrong reason: {err}"
            );
        }
        if db.get_database_backend() == DbBackend::Postgres {
            let err = db
                .execute_unprepared("TRUNCATE core_readiness_history")
                .await
                .expect_err("TRUNCATE must be rejected");
            assert!(err.to_string().contains(APPEND_ONLY_MESSAGE), "{err}");
        }

        // Nothing changed, and appending still works.
        assert_eq!(
            common::strings(&db, "SELECT status FROM core_readiness_history", "status").await,
            ["READY"]
        );
        db.execute_unprepared(INSERT_HISTORY)
            .await
            .expect("insert again");
        assert_eq!(count(&db, "core_readiness_history").await, 2);

        // The neighbouring current-state table is an ordinary, mutable table.
        db.execute_unprepared("UPDATE core_data_readiness SET status = 'NOT_READY'")
            .await
            .expect("core_data_readiness is mutable");
    })
    .await;
}

/// (e) The partial index that finds unresolved anomalies exists, with its `WHERE` clause.
#[tokio::test]
async fn unresolved_anomalies_partial_index_exists() {
    on_every_backend(|db| async move {
        Migrator::up(&db, None).await.expect("migrate up");
        let index = indexes(&db)
            .await
            .into_iter()
            .find(|i| i.name == UNRESOLVED_ANOMALIES_INDEX)
            .expect("the unresolved-anomalies index exists");
        assert_eq!(index.table, "core_anomalies");
        assert!(!index.is_unique());
        assert!(
            index.definition.ends_with("WHERE resolved_at IS NULL"),
            "unexpected definition: {}",
            index.definition
        );
    })
    .await;
}

/// (f) `m20260103_000001_finra_rows_by_line` keeps every RAW and NORMALIZED row when it rebuilds
/// the two tables (a NORMALIZED row an old re-normalize stored twice is kept once), the new key
/// refuses a second row for the same line, and `down` gives the RAW rows back in the old shape.
#[tokio::test]
async fn rows_by_line_keeps_the_rows_it_rebuilds() {
    on_every_backend(|db| async move {
        let before = migrations_before("m20260103_000001_finra_rows_by_line");
        Migrator::up(&db, Some(before))
            .await
            .expect("up to the old shape");
        db.execute_unprepared(
            "INSERT INTO finra_otc_raw (capture_id, line_number, raw_line) VALUES \
             ('cap_a', 2, 'NMS Tier 1|AAPL|Apple Inc.|Venue A|VENA|100|3|2026-01-05'), \
             ('cap_a', 3, 'NMS Tier 1|MSFT|Microsoft|Venue B|VENB|50|2|2026-01-05')",
        )
        .await
        .expect("old RAW rows");
        let normalized = "('cap_a', '2025-12-19', 'NMS_TIER_1', 'AAPL', 'Apple Inc.', 'VENA', \
                          'Venue A', 100, 3, '2026-01-05', 2)";
        db.execute_unprepared(&format!(
            "INSERT INTO finra_otc_normalized (capture_id, week_ending, tier, symbol, issue_name, \
             mpid, market_participant_name, total_shares, total_trades, last_update_date, \
             line_number) VALUES {normalized}, {normalized}"
        ))
        .await
        .expect("old NORMALIZED rows, one stored twice");

        Migrator::up(&db, Some(1)).await.expect("rebuild");
        assert_eq!(
            strings(
                &db,
                "SELECT capture_id || ':' || line_number || ':' || raw_line AS r \
                 FROM finra_otc_raw ORDER BY line_number",
                "r"
            )
            .await,
            [
                "cap_a:2:NMS Tier 1|AAPL|Apple Inc.|Venue A|VENA|100|3|2026-01-05",
                "cap_a:3:NMS Tier 1|MSFT|Microsoft|Venue B|VENB|50|2|2026-01-05",
            ]
        );
        assert_eq!(
            strings(
                &db,
                "SELECT capture_id || ':' || line_number || ':' || symbol || ':' || mpid || ':' \
                 || total_shares || ':' || total_trades || ':' || last_update_date AS r \
                 FROM finra_otc_normalized",
                "r"
            )
            .await,
            ["cap_a:2:AAPL:VENA:100:3:2026-01-05"]
        );
        let second = db
            .execute_unprepared(
                "INSERT INTO finra_otc_raw (capture_id, line_number, raw_line) \
                 VALUES ('cap_a', 2, 'again')",
            )
            .await;
        assert!(second.is_err(), "a second row for one line must be refused");

        Migrator::down(&db, Some(1))
            .await
            .expect("down to before the rebuild");
        assert_eq!(count(&db, "finra_otc_raw").await, 2);
        assert_eq!(count(&db, "finra_otc_normalized").await, 0);
        let names: BTreeSet<String> = indexes(&db).await.into_iter().map(|i| i.name).collect();
        assert!(
            names.contains("idx_finra_otc_raw_capture_id_id"),
            "{names:?}"
        );
        assert!(
            names.contains("idx_finra_otc_normalized_capture_id_id"),
            "{names:?}"
        );
    })
    .await;
}

/// (h) `m20261204_000001_compact_keys` keeps every NORMALIZED and calc row when it rebuilds the
/// tables: NORMALIZED rows take their capture's integer key, the calc tables their unique key
/// as primary key (a second row for one symbol is refused), and `down` gives the old shapes back
/// with the rows.
#[tokio::test]
async fn compact_keys_keep_the_rows_they_rebuild() {
    on_every_backend(|db| async move {
        let before = migrations_before("m20261204_000001_compact_keys");
        Migrator::up(&db, Some(before))
            .await
            .expect("up to the old shape");
        for sql in [
            "INSERT INTO core_captures (id, capture_id, domain, partition_key, content_hash, \
             source_locator, captured_at, rows_read, rows_accepted, rows_rejected, created_at) \
             VALUES (7, 'cap_a', 'finra.otc_transparency', '{}', 'h', 'f', \
             '2025-12-22 08:00:00+00:00', 2, 2, 0, '2025-12-22 08:00:00+00:00')",
            "INSERT INTO finra_otc_normalized (capture_id, line_number, symbol, mpid, \
             total_shares, total_trades, last_update_date) VALUES \
             ('cap_a', 2, 'AAPL', 'VENA', 100, 3, '2025-12-15'), \
             ('cap_a', 3, 'MSFT', 'VENB', 50, 2, '2025-12-16')",
            "INSERT INTO finra_otc_symbol_summary (capture_id, week_ending, tier, symbol, \
             total_shares, total_trades, venue_count) VALUES \
             ('cap_a', '2025-12-19', 'NMS_TIER_1', 'AAPL', 100, 3, 1), \
             ('cap_a', '2025-12-19', 'NMS_TIER_1', 'MSFT', 50, 2, 1)",
            "INSERT INTO finra_otc_venue_share (capture_id, week_ending, tier, mpid, shares, \
             share) VALUES ('cap_a', '2025-12-19', 'NMS_TIER_1', 'VENA', 100, 0.5)",
            "INSERT INTO finra_otc_hhi (capture_id, week_ending, tier, symbol, hhi, \
             venue_count) VALUES ('cap_a', '2025-12-19', 'NMS_TIER_1', 'AAPL', 1.0, 1)",
            "INSERT INTO finra_otc_volume_per_day (capture_id, week_ending, tier, symbol, \
             total_shares, trading_days, shares_per_day, calendar_capture_id) VALUES \
             ('cap_a', '2025-12-19', 'NMS_TIER_1', 'AAPL', 100, 5, 20.0, 'cal_1')",
        ] {
            db.execute_unprepared(sql).await.expect(sql);
        }
        let calc_rows = [
            ("finra_otc_symbol_summary", 2),
            ("finra_otc_venue_share", 1),
            ("finra_otc_hhi", 1),
            ("finra_otc_volume_per_day", 1),
        ];

        Migrator::up(&db, Some(1)).await.expect("rebuild");
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(capture_key AS TEXT) || ':' || line_number || ':' || symbol || ':' \
                 || mpid || ':' || total_shares || ':' || total_trades || ':' \
                 || last_update_date AS r FROM finra_otc_normalized ORDER BY line_number",
                "r"
            )
            .await,
            [
                "7:2:AAPL:VENA:100:3:2025-12-15",
                "7:3:MSFT:VENB:50:2:2025-12-16"
            ]
        );
        for (table, rows) in calc_rows {
            assert_eq!(count(&db, table).await, rows, "{table}");
        }
        assert_eq!(
            strings(
                &db,
                "SELECT symbol || ':' || total_shares || ':' || venue_count AS r \
                 FROM finra_otc_symbol_summary ORDER BY symbol",
                "r"
            )
            .await,
            ["AAPL:100:1", "MSFT:50:1"]
        );
        let second = db
            .execute_unprepared(
                "INSERT INTO finra_otc_hhi (capture_id, week_ending, tier, symbol, hhi, \
                 venue_count) VALUES ('cap_a', '2025-12-19', 'NMS_TIER_1', 'AAPL', 0.5, 2)",
            )
            .await;
        assert!(
            second.is_err(),
            "a second row for one symbol must be refused"
        );
        let names: BTreeSet<String> = indexes(&db).await.into_iter().map(|i| i.name).collect();
        assert!(
            !names.contains("uq_finra_otc_hhi_capture_symbol"),
            "the key replaces the unique index: {names:?}"
        );

        Migrator::down(&db, Some(1))
            .await
            .expect("down to before the rebuild");
        assert_eq!(
            strings(
                &db,
                "SELECT capture_id || ':' || line_number || ':' || symbol AS r \
                 FROM finra_otc_normalized ORDER BY line_number",
                "r"
            )
            .await,
            ["cap_a:2:AAPL", "cap_a:3:MSFT"]
        );
        for (table, rows) in calc_rows {
            assert_eq!(count(&db, table).await, rows, "{table}");
        }
        let names: BTreeSet<String> = indexes(&db).await.into_iter().map(|i| i.name).collect();
        assert!(
            names.contains("uq_finra_otc_hhi_capture_symbol"),
            "{names:?}"
        );
        // And up again: the rebuild runs on the restored shape too.
        Migrator::up(&db, None).await.expect("up again");
        assert_eq!(count(&db, "finra_otc_normalized").await, 2);
    })
    .await;
}

/// (g) `m20260104_000001_readiness_audit_clocks` rebuilds the two readiness tables keeping every
/// row and id: history rows get `recorded_at = created_at` and `backdated = false`, current
/// verdicts `recorded_at = updated_at` and no `last_checked_at`; ids continue after the highest
/// copied one, the history is still append-only, and `down` gives the old columns back with the
/// rows.
#[tokio::test]
async fn readiness_audit_clocks_backfill_the_rows_they_rebuild() {
    on_every_backend(|db| async move {
        let before = migrations_before("m20260104_000001_readiness_audit_clocks");
        Migrator::up(&db, Some(before))
            .await
            .expect("up to the old shape");
        for sql in [
            old_history(1, "NOT_READY", "2025-12-26 12:00:00+00:00"),
            old_history(7, "READY", "2025-12-29 09:30:00+00:00"),
        ] {
            db.execute_unprepared(&sql).await.expect("old history row");
        }
        db.execute_unprepared(
            r#"INSERT INTO core_data_readiness (
                id, domain, partition_key, ready_for, status, is_ready,
                all_partitions_present, all_stages_complete, no_critical_anomalies,
                dependencies_current, age_exceeds_preliminary, blocking_issues, captures_judged,
                evaluated_at, certified_at, certified_by, created_at, updated_at
            ) VALUES (
                4, 'finra.otc_transparency', '{"week_ending":"2025-12-19"}', 'trading', 'READY',
                TRUE, TRUE, TRUE, TRUE, TRUE, TRUE, '[]', '["cap_a"]',
                '2025-12-29 09:30:00+00:00', '2025-12-29 09:30:00+00:00', 'ops',
                '2025-12-26 12:00:00+00:00', '2025-12-29 09:30:00+00:00'
            )"#,
        )
        .await
        .expect("old current verdict");

        Migrator::up(&db, None).await.expect("rebuild");

        let history = "SELECT CAST(id AS TEXT) || ':' || status || ':' || \
                       CASE WHEN recorded_at = created_at THEN 'recorded=created' \
                            ELSE 'recorded<>created' END || ':' || \
                       CASE WHEN backdated THEN 'backdated' ELSE 'not-backdated' END AS r \
                       FROM core_readiness_history ORDER BY id";
        assert_eq!(
            strings(&db, history, "r").await,
            [
                "1:NOT_READY:recorded=created:not-backdated",
                "7:READY:recorded=created:not-backdated",
            ]
        );
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(id AS TEXT) || ':' || \
                 CASE WHEN recorded_at = updated_at THEN 'recorded=updated' \
                      ELSE 'recorded<>updated' END || ':' || \
                 CASE WHEN last_checked_at IS NULL THEN 'unchecked' ELSE 'checked' END AS r \
                 FROM core_data_readiness",
                "r"
            )
            .await,
            ["4:recorded=updated:unchecked"]
        );

        // New rows continue after the copied ids; `backdated` defaults to false.
        db.execute_unprepared(INSERT_HISTORY)
            .await
            .expect("a new history row");
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(id AS TEXT) AS id FROM core_readiness_history \
                 WHERE NOT backdated ORDER BY id",
                "id"
            )
            .await,
            ["1", "7", "8"]
        );
        // Still append-only, through the triggers the rebuild created again.
        let err = db
            .execute_unprepared("UPDATE core_readiness_history SET recorded_at = evaluated_at")
            .await
            .expect_err("the rebuilt history refuses UPDATE");
        assert!(err.to_string().contains(APPEND_ONLY_MESSAGE), "{err}");
        let names: BTreeSet<String> = indexes(&db).await.into_iter().map(|i| i.name).collect();
        for name in [
            "idx_core_readiness_history_lookup",
            "uq_core_data_readiness_domain_partition_ready_for",
            "idx_core_data_readiness_is_ready_ready_for",
        ] {
            assert!(names.contains(name), "{name} missing: {names:?}");
        }

        // Down to just before it (the migrations after it first).
        let after = Migrator::migrations().len() as u32 - before - 1;
        Migrator::down(&db, Some(after + 1))
            .await
            .expect("down to before the audit clocks");
        assert_eq!(count(&db, "core_readiness_history").await, 3);
        assert_eq!(count(&db, "core_data_readiness").await, 1);
        assert!(
            db.execute_unprepared("SELECT recorded_at FROM core_readiness_history")
                .await
                .is_err(),
            "down drops recorded_at"
        );
        let err = db
            .execute_unprepared("DELETE FROM core_readiness_history")
            .await
            .expect_err("still append-only after down");
        assert!(err.to_string().contains(APPEND_ONLY_MESSAGE), "{err}");
    })
    .await;
}
