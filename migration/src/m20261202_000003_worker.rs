//! The worker: what running Market Spine by itself needs from the schema.
//!
//! - `core_work_items.lease_expires_at`: a claimed item's lease (wall clock), renewed while the
//!   worker works on it; an item whose lease expired is taken over by another worker, so a
//!   crashed worker's item is retried, not lost. `cancel_reason`: why an operator cancelled it.
//!   `kind`: a fetch of a due partition, or a check of a captured one for revisions; the unique
//!   key becomes `(domain, pipeline, kind, partition_key)`, so a partition has at most one item
//!   of each kind.
//! - `core_work_attempts`: every attempt of every item, with its outcome, error, HTTP status,
//!   `Retry-After` and the next attempt it scheduled: a FAILED item carries its whole history.
//! - `core_workers`: each worker process, when it last showed signs of life and what its last
//!   pass did, for `spine doctor` and `/metrics`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};

/// The work items' unique key before this migration.
const OLD_KEY: &str = "uq_core_work_items_domain_pipeline_partition";
/// The work items' unique key from this migration on: one item per kind and partition.
pub const KEY: &str = "uq_core_work_items_domain_pipeline_kind_partition";

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoreWorkItems {
    Table,
    Domain,
    Pipeline,
    PartitionKey,
    Kind,
    LeaseExpiresAt,
    CancelReason,
}

#[derive(DeriveIden)]
enum CoreWorkAttempts {
    Table,
    Id,
    WorkItemId,
    Attempt,
    WorkerId,
    ExecutionId,
    StartedAt,
    FinishedAt,
    Outcome,
    Error,
    ErrorCode,
    HttpStatus,
    RetryAfterSeconds,
    NextAttemptAt,
    TookOverFrom,
    BodySha256,
    BodyPrefix,
}

#[derive(DeriveIden)]
enum CoreWorkers {
    Table,
    Id,
    WorkerId,
    Hostname,
    Pid,
    StartedAt,
    LastSeenAt,
    StoppedAt,
    Passes,
    LastPassAt,
    LastPassJson,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(CoreWorkItems::Kind)
                .string_len(16)
                .not_null()
                .default("FETCH")
                .to_owned(),
            ColumnDef::new(CoreWorkItems::LeaseExpiresAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(CoreWorkItems::CancelReason)
                .text()
                .null()
                .to_owned(),
        ] {
            // One column per statement: SQLite's ALTER TABLE adds one at a time.
            manager
                .alter_table(
                    Table::alter()
                        .table(CoreWorkItems::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_KEY)
                    .table(CoreWorkItems::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                KEY,
                CoreWorkItems::Table,
                [
                    CoreWorkItems::Domain,
                    CoreWorkItems::Pipeline,
                    CoreWorkItems::Kind,
                    CoreWorkItems::PartitionKey,
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CoreWorkAttempts::Table)
                    .col(big_pk_auto(CoreWorkAttempts::Id))
                    .col(big_integer(CoreWorkAttempts::WorkItemId))
                    .col(integer(CoreWorkAttempts::Attempt))
                    .col(string_len(CoreWorkAttempts::WorkerId, 128))
                    .col(string_len_null(CoreWorkAttempts::ExecutionId, 64))
                    .col(timestamp_with_time_zone(CoreWorkAttempts::StartedAt))
                    .col(timestamp_with_time_zone_null(CoreWorkAttempts::FinishedAt))
                    .col(string_len(CoreWorkAttempts::Outcome, 16))
                    .col(text_null(CoreWorkAttempts::Error))
                    .col(string_len_null(CoreWorkAttempts::ErrorCode, 64))
                    .col(integer_null(CoreWorkAttempts::HttpStatus))
                    .col(big_integer_null(CoreWorkAttempts::RetryAfterSeconds))
                    .col(timestamp_with_time_zone_null(
                        CoreWorkAttempts::NextAttemptAt,
                    ))
                    .col(string_len_null(CoreWorkAttempts::TookOverFrom, 128))
                    .col(string_len_null(CoreWorkAttempts::BodySha256, 64))
                    .col(text_null(CoreWorkAttempts::BodyPrefix))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_core_work_attempts_item",
                CoreWorkAttempts::Table,
                [CoreWorkAttempts::WorkItemId, CoreWorkAttempts::Attempt],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CoreWorkers::Table)
                    .col(big_pk_auto(CoreWorkers::Id))
                    .col(string_len(CoreWorkers::WorkerId, 128))
                    .col(string_len(CoreWorkers::Hostname, 255))
                    .col(big_integer(CoreWorkers::Pid))
                    .col(timestamp_with_time_zone(CoreWorkers::StartedAt))
                    .col(timestamp_with_time_zone(CoreWorkers::LastSeenAt))
                    .col(timestamp_with_time_zone_null(CoreWorkers::StoppedAt))
                    .col(big_integer(CoreWorkers::Passes).default(0))
                    .col(timestamp_with_time_zone_null(CoreWorkers::LastPassAt))
                    .col(json_binary_null(CoreWorkers::LastPassJson))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_core_workers_worker_id",
                CoreWorkers::Table,
                [CoreWorkers::WorkerId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, CoreWorkers::Table).await?;
        drop_table(manager, CoreWorkAttempts::Table).await?;
        manager
            .drop_index(
                Index::drop()
                    .name(KEY)
                    .table(CoreWorkItems::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                OLD_KEY,
                CoreWorkItems::Table,
                [
                    CoreWorkItems::Domain,
                    CoreWorkItems::Pipeline,
                    CoreWorkItems::PartitionKey,
                ],
            ))
            .await?;
        for column in [
            CoreWorkItems::CancelReason,
            CoreWorkItems::LeaseExpiresAt,
            CoreWorkItems::Kind,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CoreWorkItems::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    /// In a transaction on both backends: a half-applied worker schema is never left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
