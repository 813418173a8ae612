//! Telling people: the events outbox, the subscriptions and the deliveries.
//!
//! - `core_events`: the outbox. The store writes an event in the same transaction as the change
//!   that caused it (a verdict moved, a capture revised, an anomaly opened or resolved, ...);
//!   `dedupe_key` is unique so the same change is one event; `fanned_out_at` marks the events
//!   whose deliveries were created.
//! - `core_subscriptions`: who is told about what (domain, use, event kinds, minimum severity)
//!   and how (channel, target, the *name* of the variable holding the secret, digest or not).
//! - `core_deliveries`: one message to one subscription (an event, or one day's digest), with a
//!   stable `delivery_id`, its attempts, its next attempt, its state and last error, and the lease
//!   of the worker sending it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoreEvents {
    Table,
    Id,
    Domain,
    PartitionKey,
    Kind,
    ReadyFor,
    Severity,
    Payload,
    CaptureId,
    PreviousCaptureId,
    OccurredAt,
    DedupeKey,
    FannedOutAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CoreSubscriptions {
    Table,
    Id,
    Name,
    Channel,
    Target,
    Domain,
    ReadyFor,
    Events,
    MinSeverity,
    SecretEnv,
    Digest,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CoreDeliveries {
    Table,
    Id,
    DeliveryId,
    SubscriptionId,
    EventId,
    DigestDay,
    State,
    Attempts,
    NextAttemptAt,
    LastError,
    LastStatus,
    LockedBy,
    LeaseExpiresAt,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CoreEvents::Table)
                    .col(big_pk_auto(CoreEvents::Id))
                    .col(string_len(CoreEvents::Domain, 128))
                    .col(string_len_null(CoreEvents::PartitionKey, 512))
                    .col(string_len(CoreEvents::Kind, 32))
                    .col(string_len_null(CoreEvents::ReadyFor, 32))
                    .col(string_len_null(CoreEvents::Severity, 32))
                    .col(json_binary(CoreEvents::Payload))
                    .col(string_len_null(CoreEvents::CaptureId, 64))
                    .col(string_len_null(CoreEvents::PreviousCaptureId, 64))
                    .col(timestamp_with_time_zone(CoreEvents::OccurredAt))
                    .col(string_len(CoreEvents::DedupeKey, 256))
                    .col(timestamp_with_time_zone_null(CoreEvents::FannedOutAt))
                    .col(timestamp_with_time_zone(CoreEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_core_events_dedupe_key",
                CoreEvents::Table,
                [CoreEvents::DedupeKey],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_core_events_fanned_out_at",
                CoreEvents::Table,
                [CoreEvents::FannedOutAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_core_events_occurred_at",
                CoreEvents::Table,
                [CoreEvents::OccurredAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CoreSubscriptions::Table)
                    .col(big_pk_auto(CoreSubscriptions::Id))
                    .col(string_len(CoreSubscriptions::Name, 128))
                    .col(string_len(CoreSubscriptions::Channel, 16))
                    .col(text(CoreSubscriptions::Target))
                    .col(string_len_null(CoreSubscriptions::Domain, 128))
                    .col(string_len_null(CoreSubscriptions::ReadyFor, 32))
                    .col(json_binary_null(CoreSubscriptions::Events))
                    .col(string_len_null(CoreSubscriptions::MinSeverity, 32))
                    .col(string_len_null(CoreSubscriptions::SecretEnv, 128))
                    .col(string_len(CoreSubscriptions::Digest, 16))
                    .col(boolean(CoreSubscriptions::Active).default(true))
                    .col(timestamp_with_time_zone(CoreSubscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(CoreSubscriptions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_core_subscriptions_name",
                CoreSubscriptions::Table,
                [CoreSubscriptions::Name],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CoreDeliveries::Table)
                    .col(big_pk_auto(CoreDeliveries::Id))
                    .col(string_len(CoreDeliveries::DeliveryId, 64))
                    .col(big_integer(CoreDeliveries::SubscriptionId))
                    .col(big_integer_null(CoreDeliveries::EventId))
                    .col(date_null(CoreDeliveries::DigestDay))
                    .col(string_len(CoreDeliveries::State, 16))
                    .col(integer(CoreDeliveries::Attempts))
                    .col(timestamp_with_time_zone_null(CoreDeliveries::NextAttemptAt))
                    .col(text_null(CoreDeliveries::LastError))
                    .col(integer_null(CoreDeliveries::LastStatus))
                    .col(string_len_null(CoreDeliveries::LockedBy, 128))
                    .col(timestamp_with_time_zone_null(
                        CoreDeliveries::LeaseExpiresAt,
                    ))
                    .col(timestamp_with_time_zone_null(CoreDeliveries::DeliveredAt))
                    .col(timestamp_with_time_zone(CoreDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(CoreDeliveries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_core_deliveries_delivery_id",
                CoreDeliveries::Table,
                [CoreDeliveries::DeliveryId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_core_deliveries_state_next_attempt_at",
                CoreDeliveries::Table,
                [CoreDeliveries::State, CoreDeliveries::NextAttemptAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_core_deliveries_subscription",
                CoreDeliveries::Table,
                [CoreDeliveries::SubscriptionId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, CoreDeliveries::Table).await?;
        drop_table(manager, CoreSubscriptions::Table).await?;
        drop_table(manager, CoreEvents::Table).await
    }
}
