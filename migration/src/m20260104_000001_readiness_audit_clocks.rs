//! `m20260104_000001_readiness_audit_clocks`: two clocks on every readiness record, and the
//! columns that let the history record changes of verdict rather than every call.
//!
//! - `core_readiness_history` gains `recorded_at` (tstz, the real wall clock at insert, which no
//!   caller can set; `evaluated_at` stays the as-of clock, `--now`) and `backdated` (bool,
//!   default false: an evaluation as of a time earlier than the current verdict's, appended for
//!   the record but never made current).
//! - `core_data_readiness` gains `last_checked_at` (tstz null: the as-of clock of the latest
//!   evaluation that found the same outcome, which appends nothing) and `recorded_at` (tstz: the
//!   wall clock at which the current verdict was recorded).
//!
//! **How existing rows are filled, and why the tables are rebuilt.** Existing history rows get
//! `recorded_at = created_at` (before this migration the store wrote the run's clock there: it is
//! the best record of when the row was written that exists) and `backdated = false`; existing
//! current verdicts get `recorded_at = updated_at` (the clock of the evaluation that made them,
//! i.e. their history row's `created_at`) and no `last_checked_at`. Both `recorded_at` columns
//! are NOT NULL without a default, so that a writer that forgets the wall clock fails instead of
//! storing a made-up time. SQLite cannot add such a column to a table with rows (`ADD COLUMN …
//! NOT NULL` needs a constant default, and a default cannot name another column) nor tighten a
//! column afterwards, and the history's triggers forbid the `UPDATE` a backfill would need. So
//! each table is rebuilt, the same way on both backends, in the migration's one transaction:
//! create the new shape as `<table>_next`, copy every row with `INSERT … SELECT` (ids kept; the
//! new columns computed from the old ones), drop the old table (its indexes and triggers go with
//! it; dropping fires no row trigger on either backend), rename the new one into place and
//! create its indexes and, for the history, the append-only triggers again. The audit trail is
//! never updated or deleted row by row, the append-only guard is never switched off on a live
//! table, and a failure half-way rolls everything back. On PostgreSQL the identity sequence
//! then continues after the highest copied id, and the primary key and sequence get their usual
//! names back (raw SQL: the builders cannot say either); SQLite's `AUTOINCREMENT` bookkeeping
//! follows inserts and renames by itself.
//!
//! `down` drops the four columns (`ALTER TABLE … DROP COLUMN` on both backends; it rewrites no
//! row through `UPDATE`, so the history's triggers do not object).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};
use crate::m20260101_000001_core::{create_append_only_triggers, unsupported};

/// The migration itself; what it changes is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // core_readiness_history: every old column, then the two clocks' companions.
        create_history(manager).await?;
        copy(
            manager,
            ReadinessHistory::Table,
            ReadinessHistory::Next,
            &ReadinessHistory::KEPT,
            &[(ReadinessHistory::RecordedAt, ReadinessHistory::CreatedAt)],
        )
        .await?;
        replace(manager, ReadinessHistory::Table, ReadinessHistory::Next).await?;
        manager
            .create_index(index(
                "idx_core_readiness_history_lookup",
                ReadinessHistory::Table,
                [
                    ReadinessHistory::Domain,
                    ReadinessHistory::PartitionKey,
                    ReadinessHistory::ReadyFor,
                    ReadinessHistory::EvaluatedAt,
                ],
            ))
            .await?;
        create_append_only_triggers(manager).await?;
        restore_identity(manager, "core_readiness_history").await?;

        // core_data_readiness: every old column, then last_checked_at and recorded_at.
        create_current(manager).await?;
        copy(
            manager,
            DataReadiness::Table,
            DataReadiness::Next,
            &DataReadiness::KEPT,
            &[(DataReadiness::RecordedAt, DataReadiness::UpdatedAt)],
        )
        .await?;
        replace(manager, DataReadiness::Table, DataReadiness::Next).await?;
        manager
            .create_index(unique_index(
                "uq_core_data_readiness_domain_partition_ready_for",
                DataReadiness::Table,
                [
                    DataReadiness::Domain,
                    DataReadiness::PartitionKey,
                    DataReadiness::ReadyFor,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_core_data_readiness_is_ready_ready_for",
                DataReadiness::Table,
                [DataReadiness::IsReady, DataReadiness::ReadyFor],
            ))
            .await?;
        restore_identity(manager, "core_data_readiness").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite cannot drop two in one statement.
        for column in [ReadinessHistory::Backdated, ReadinessHistory::RecordedAt] {
            drop_column(manager, ReadinessHistory::Table, column).await?;
        }
        for column in [DataReadiness::RecordedAt, DataReadiness::LastCheckedAt] {
            drop_column(manager, DataReadiness::Table, column).await?;
        }
        Ok(())
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL: a rebuild that fails half-way
    /// leaves the old tables, their rows and the append-only triggers as they were.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `core_readiness_history`. `Next` is the new shape while it is being filled,
/// renamed into place.
#[derive(DeriveIden, Clone, Copy)]
enum ReadinessHistory {
    #[sea_orm(iden = "core_readiness_history")]
    Table,
    #[sea_orm(iden = "core_readiness_history_next")]
    Next,
    Id,
    Domain,
    PartitionKey,
    ReadyFor,
    Status,
    IsReady,
    AllPartitionsPresent,
    AllStagesComplete,
    NoCriticalAnomalies,
    DependenciesCurrent,
    AgeExceedsPreliminary,
    BlockingIssues,
    CapturesJudged,
    EvaluatedAt,
    EvaluatedBy,
    CertifiedAt,
    CreatedAt,
    RecordedAt,
    Backdated,
}

impl ReadinessHistory {
    /// The columns the table had before this migration, copied as they are, `id` first.
    const KEPT: [ReadinessHistory; 17] = [
        ReadinessHistory::Id,
        ReadinessHistory::Domain,
        ReadinessHistory::PartitionKey,
        ReadinessHistory::ReadyFor,
        ReadinessHistory::Status,
        ReadinessHistory::IsReady,
        ReadinessHistory::AllPartitionsPresent,
        ReadinessHistory::AllStagesComplete,
        ReadinessHistory::NoCriticalAnomalies,
        ReadinessHistory::DependenciesCurrent,
        ReadinessHistory::AgeExceedsPreliminary,
        ReadinessHistory::BlockingIssues,
        ReadinessHistory::CapturesJudged,
        ReadinessHistory::EvaluatedAt,
        ReadinessHistory::EvaluatedBy,
        ReadinessHistory::CertifiedAt,
        ReadinessHistory::CreatedAt,
    ];
}

/// Identifiers of `core_data_readiness`. `Next` is the new shape while it is being filled,
/// renamed into place.
#[derive(DeriveIden, Clone, Copy)]
enum DataReadiness {
    #[sea_orm(iden = "core_data_readiness")]
    Table,
    #[sea_orm(iden = "core_data_readiness_next")]
    Next,
    Id,
    Domain,
    PartitionKey,
    ReadyFor,
    Status,
    IsReady,
    AllPartitionsPresent,
    AllStagesComplete,
    NoCriticalAnomalies,
    DependenciesCurrent,
    AgeExceedsPreliminary,
    BlockingIssues,
    CapturesJudged,
    EvaluatedAt,
    CertifiedAt,
    CertifiedBy,
    CreatedAt,
    UpdatedAt,
    LastCheckedAt,
    RecordedAt,
}

impl DataReadiness {
    /// The columns the table had before this migration, copied as they are, `id` first.
    const KEPT: [DataReadiness; 18] = [
        DataReadiness::Id,
        DataReadiness::Domain,
        DataReadiness::PartitionKey,
        DataReadiness::ReadyFor,
        DataReadiness::Status,
        DataReadiness::IsReady,
        DataReadiness::AllPartitionsPresent,
        DataReadiness::AllStagesComplete,
        DataReadiness::NoCriticalAnomalies,
        DataReadiness::DependenciesCurrent,
        DataReadiness::AgeExceedsPreliminary,
        DataReadiness::BlockingIssues,
        DataReadiness::CapturesJudged,
        DataReadiness::EvaluatedAt,
        DataReadiness::CertifiedAt,
        DataReadiness::CertifiedBy,
        DataReadiness::CreatedAt,
        DataReadiness::UpdatedAt,
    ];
}

/// Creates the new `core_readiness_history` shape as `core_readiness_history_next`.
///
/// The append-only audit trail of every readiness evaluation that changed the verdict or was
/// made as of an earlier time: what was decided, as of when (`evaluated_at`), when it was really
/// written (`recorded_at`), by whom and on which captures.
async fn create_history(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(ReadinessHistory::Next)
                .col(big_pk_auto(ReadinessHistory::Id))
                .col(string_len(ReadinessHistory::Domain, 128))
                .col(string_len(ReadinessHistory::PartitionKey, 512))
                .col(string_len(ReadinessHistory::ReadyFor, 32))
                .col(string_len(ReadinessHistory::Status, 32))
                .col(boolean(ReadinessHistory::IsReady))
                .col(boolean(ReadinessHistory::AllPartitionsPresent))
                .col(boolean(ReadinessHistory::AllStagesComplete))
                .col(boolean(ReadinessHistory::NoCriticalAnomalies))
                .col(boolean(ReadinessHistory::DependenciesCurrent))
                .col(boolean(ReadinessHistory::AgeExceedsPreliminary))
                .col(json_binary(ReadinessHistory::BlockingIssues))
                .col(json_binary(ReadinessHistory::CapturesJudged))
                .col(timestamp_with_time_zone(ReadinessHistory::EvaluatedAt))
                .col(string_len_null(ReadinessHistory::EvaluatedBy, 128))
                .col(timestamp_with_time_zone_null(ReadinessHistory::CertifiedAt))
                .col(timestamp_with_time_zone(ReadinessHistory::CreatedAt))
                .col(timestamp_with_time_zone(ReadinessHistory::RecordedAt))
                .col(boolean(ReadinessHistory::Backdated).default(false))
                .to_owned(),
        )
        .await
}

/// Creates the new `core_data_readiness` shape as `core_data_readiness_next`.
///
/// The current readiness verdict per (domain, partition, use), now with the wall clock at which
/// it was recorded and the as-of clock of its latest unchanged re-check.
async fn create_current(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(DataReadiness::Next)
                .col(big_pk_auto(DataReadiness::Id))
                .col(string_len(DataReadiness::Domain, 128))
                .col(string_len(DataReadiness::PartitionKey, 512))
                .col(string_len(DataReadiness::ReadyFor, 32))
                .col(string_len(DataReadiness::Status, 32))
                .col(boolean(DataReadiness::IsReady))
                .col(boolean(DataReadiness::AllPartitionsPresent))
                .col(boolean(DataReadiness::AllStagesComplete))
                .col(boolean(DataReadiness::NoCriticalAnomalies))
                .col(boolean(DataReadiness::DependenciesCurrent))
                .col(boolean(DataReadiness::AgeExceedsPreliminary))
                .col(json_binary(DataReadiness::BlockingIssues))
                .col(json_binary(DataReadiness::CapturesJudged))
                .col(timestamp_with_time_zone(DataReadiness::EvaluatedAt))
                .col(timestamp_with_time_zone_null(DataReadiness::CertifiedAt))
                .col(string_len_null(DataReadiness::CertifiedBy, 128))
                .col(timestamp_with_time_zone(DataReadiness::CreatedAt))
                .col(timestamp_with_time_zone(DataReadiness::UpdatedAt))
                .col(timestamp_with_time_zone_null(DataReadiness::LastCheckedAt))
                .col(timestamp_with_time_zone(DataReadiness::RecordedAt))
                .to_owned(),
        )
        .await
}

/// `INSERT INTO to (kept…, new…) SELECT kept…, source… FROM from ORDER BY kept[0]`: every row
/// with its id (the first kept column), each new column filled from an old one (`(new, source)`
/// pairs); a new column not named takes its default (`backdated`) or NULL (`last_checked_at`).
async fn copy<T: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    from: T,
    to: T,
    kept: &[T],
    filled: &[(T, T)],
) -> Result<(), DbErr> {
    let mut select = Query::select();
    select.columns(kept.iter().copied());
    for (_, source) in filled {
        select.column(*source);
    }
    select.from(from).order_by(kept[0], Order::Asc);
    let mut insert = Query::insert();
    insert
        .into_table(to)
        .columns(
            kept.iter()
                .copied()
                .chain(filled.iter().map(|(new, _)| *new)),
        )
        .select_from(select)
        .map_err(|e| DbErr::Migration(format!("copy {}: {e}", from.to_string())))?;
    manager.exec_stmt(insert).await
}

/// Drops `old` (its indexes and triggers with it) and renames `next` to its name.
async fn replace<T: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    old: T,
    next: T,
) -> Result<(), DbErr> {
    drop_table(manager, old).await?;
    manager
        .rename_table(Table::rename().table(next, old).to_owned())
        .await
}

/// After a rebuild on PostgreSQL: the identity sequence continues after the highest copied id
/// (explicit ids do not advance it), and the primary key and the sequence, created under the
/// `_next` name, get the names a table created as `table` has. SQLite needs nothing: its
/// `AUTOINCREMENT` counter follows explicit ids and is renamed with the table.
async fn restore_identity(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Sqlite => return Ok(()),
        DbBackend::Postgres => [
            format!("ALTER TABLE {table} RENAME CONSTRAINT {table}_next_pkey TO {table}_pkey"),
            format!("ALTER SEQUENCE {table}_next_id_seq RENAME TO {table}_id_seq"),
            // On an empty table max(id) is NULL and setval (strict) leaves the sequence at 1.
            format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"),
        ],
        other => return Err(unsupported(other)),
    };
    for sql in statements {
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// `ALTER TABLE table DROP COLUMN column`, for `down`.
async fn drop_column<T: Iden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: T,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}
