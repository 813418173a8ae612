//! Operations: what running Market Spine for real needs from the schema.
//!
//! - `core_executions.heartbeat_at`: a running execution renews it while it works, so a run whose
//!   process died (kill -9, power loss) is recognisable as abandoned instead of RUNNING forever.
//! - `idx_core_captures_domain_content_hash`: "these exact bytes were already captured as another
//!   partition" is checked on every new capture; the index keeps that check a lookup.

use sea_orm_migration::prelude::*;

use crate::ddl::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoreExecutions {
    Table,
    HeartbeatAt,
}

#[derive(DeriveIden)]
enum CoreCaptures {
    Table,
    Domain,
    ContentHash,
}

/// The index on captures by content.
pub const CONTENT_INDEX: &str = "idx_core_captures_domain_content_hash";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CoreExecutions::Table)
                    .add_column(
                        ColumnDef::new(CoreExecutions::HeartbeatAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                CONTENT_INDEX,
                CoreCaptures::Table,
                [CoreCaptures::Domain, CoreCaptures::ContentHash],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(CONTENT_INDEX)
                    .table(CoreCaptures::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CoreExecutions::Table)
                    .drop_column(CoreExecutions::HeartbeatAt)
                    .to_owned(),
            )
            .await
    }
}
