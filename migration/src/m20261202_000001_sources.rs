//! `m20261202_000001_sources`: where each domain's data comes from, configured once in the
//! database so every worker process (on any machine) fetches the same way.
//!
//! - `core_sources`: one row per configured source: its unique name, its domain, its kind
//!   (`url-template`, or a kind a domain plugin offers such as `finra-api`), its kind-specific
//!   settings (JSON; secrets only as the *names* of environment variables), the first week it is
//!   expected to serve (`since`) and whether it is active.
//! - `core_source_fetch_state`: per (source, partition) the validators of the last successful
//!   fetch (`etag`, `last_modified`, FINRA's `last_update_date`, the `content_hash`), so the next
//!   fetch can be conditional and an unchanged source costs no download and no capture.
//! - `core_source_rate`: the rate-limit state every worker shares through the database: per
//!   rate key (the API's origin), the next free request slot. Reserving a slot is one write
//!   transaction, so N workers together stay under a provider's published limits.

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_core_sources(manager).await?;
        create_core_source_fetch_state(manager).await?;
        create_core_source_rate(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, CoreSourceRate::Table).await?;
        drop_table(manager, CoreSourceFetchState::Table).await?;
        drop_table(manager, CoreSources::Table).await?;
        Ok(())
    }

    /// In a transaction on both backends: a failure half-way leaves no half-built schema.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `core_sources`; see [`create_core_sources`].
#[derive(DeriveIden)]
enum CoreSources {
    Table,
    Id,
    Name,
    Domain,
    Kind,
    SettingsJson,
    Since,
    Active,
    CreatedAt,
    UpdatedAt,
}

/// Creates `core_sources` and its indexes: the configured sources, unique by name, found by
/// domain.
async fn create_core_sources(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreSources::Table)
                .col(big_pk_auto(CoreSources::Id))
                .col(string_len(CoreSources::Name, 128))
                .col(string_len(CoreSources::Domain, 128))
                .col(string_len(CoreSources::Kind, 64))
                .col(json_binary(CoreSources::SettingsJson))
                .col(date_null(CoreSources::Since))
                .col(boolean(CoreSources::Active).default(true))
                .col(timestamp_with_time_zone(CoreSources::CreatedAt))
                .col(timestamp_with_time_zone(CoreSources::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_sources_name",
            CoreSources::Table,
            [CoreSources::Name],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_sources_domain_active",
            CoreSources::Table,
            [CoreSources::Domain, CoreSources::Active],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_source_fetch_state`; see [`create_core_source_fetch_state`].
#[derive(DeriveIden)]
enum CoreSourceFetchState {
    Table,
    Id,
    SourceId,
    PartitionKey,
    Etag,
    LastModified,
    LastUpdateDate,
    ContentHash,
    CheckedAt,
}

/// Creates `core_source_fetch_state`: one row per (source, partition) holding what the last
/// successful fetch returned, for conditional fetches.
async fn create_core_source_fetch_state(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreSourceFetchState::Table)
                .col(big_pk_auto(CoreSourceFetchState::Id))
                .col(big_integer(CoreSourceFetchState::SourceId))
                .col(string_len(CoreSourceFetchState::PartitionKey, 512))
                .col(text_null(CoreSourceFetchState::Etag))
                .col(string_len_null(CoreSourceFetchState::LastModified, 64))
                .col(date_null(CoreSourceFetchState::LastUpdateDate))
                .col(string_len_null(CoreSourceFetchState::ContentHash, 64))
                .col(timestamp_with_time_zone(CoreSourceFetchState::CheckedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_source_fetch_state_source_partition",
            CoreSourceFetchState::Table,
            [
                CoreSourceFetchState::SourceId,
                CoreSourceFetchState::PartitionKey,
            ],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_source_rate`; see [`create_core_source_rate`].
#[derive(DeriveIden)]
enum CoreSourceRate {
    Table,
    Id,
    RateKey,
    NextSlotAt,
    UpdatedAt,
}

/// Creates `core_source_rate`: per rate key, the next request slot every worker must wait for.
async fn create_core_source_rate(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreSourceRate::Table)
                .col(big_pk_auto(CoreSourceRate::Id))
                .col(string_len(CoreSourceRate::RateKey, 256))
                .col(timestamp_with_time_zone(CoreSourceRate::NextSlotAt))
                .col(timestamp_with_time_zone(CoreSourceRate::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_source_rate_rate_key",
            CoreSourceRate::Table,
            [CoreSourceRate::RateKey],
        ))
        .await?;
    Ok(())
}
