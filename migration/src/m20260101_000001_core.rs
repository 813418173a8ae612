//! `m20260101_000001_core`: the domain-independent core every pipeline records into.
//!
//! Captures, the stage manifest, rejects, quality results, anomalies, readiness (current verdict
//! and its append-only history), declared and recorded lineage, expected schedules, the work queue
//! and executions. See `docs/SCHEMA.md`, "Core tables".
//!
//! The one thing the builders cannot say, the triggers that make `core_readiness_history`
//! append-only, is raw SQL, one statement set per backend with the same meaning on both (see
//! [`create_append_only_triggers`]). The partial index on unresolved anomalies is an ordinary
//! builder index with a `WHERE` clause, which sea-query renders for both backends.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::{drop_table, index, unique_index};
use crate::{APPEND_ONLY_MESSAGE, UNRESOLVED_ANOMALIES_INDEX};

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_core_captures(manager).await?;
        create_core_manifest(manager).await?;
        create_core_rejects(manager).await?;
        create_core_quality(manager).await?;
        create_core_anomalies(manager).await?;
        create_core_data_readiness(manager).await?;
        create_core_readiness_history(manager).await?;
        create_append_only_triggers(manager).await?;
        create_core_calc_dependencies(manager).await?;
        create_core_calc_inputs(manager).await?;
        create_core_expected_schedules(manager).await?;
        create_core_work_items(manager).await?;
        create_core_executions(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, CoreExecutions::Table).await?;
        drop_table(manager, CoreWorkItems::Table).await?;
        drop_table(manager, CoreExpectedSchedules::Table).await?;
        drop_table(manager, CoreCalcInputs::Table).await?;
        drop_table(manager, CoreCalcDependencies::Table).await?;
        drop_append_only_triggers(manager).await?;
        drop_table(manager, CoreReadinessHistory::Table).await?;
        drop_table(manager, CoreDataReadiness::Table).await?;
        drop_table(manager, CoreAnomalies::Table).await?;
        drop_table(manager, CoreQuality::Table).await?;
        drop_table(manager, CoreRejects::Table).await?;
        drop_table(manager, CoreManifest::Table).await?;
        drop_table(manager, CoreCaptures::Table).await?;
        Ok(())
    }

    /// Always in a transaction, on SQLite as well as PostgreSQL, so a migration that fails
    /// half-way leaves no half-built schema behind on either backend.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Identifiers of `core_captures`; see [`create_core_captures`].
#[derive(DeriveIden)]
enum CoreCaptures {
    Table,
    Id,
    CaptureId,
    Domain,
    PartitionKey,
    ContentHash,
    SourceLocator,
    SourceLastUpdate,
    CapturedAt,
    RowsRead,
    RowsAccepted,
    RowsRejected,
    SupersedesCaptureId,
    MetadataJson,
    CreatedAt,
}

/// Creates `core_captures` and its indexes.
///
/// One ingestion of one partition: where the bytes came from, their content hash and the three
/// clocks. `capture_id` is deterministic from (domain, partition, content hash), so re-ingesting
/// identical bytes is a no-op and different bytes make a revision that supersedes the previous
/// capture.
async fn create_core_captures(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreCaptures::Table)
                .col(big_pk_auto(CoreCaptures::Id))
                .col(string_len(CoreCaptures::CaptureId, 64))
                .col(string_len(CoreCaptures::Domain, 128))
                .col(string_len(CoreCaptures::PartitionKey, 512))
                .col(string_len(CoreCaptures::ContentHash, 64))
                .col(text(CoreCaptures::SourceLocator))
                .col(date_null(CoreCaptures::SourceLastUpdate))
                .col(timestamp_with_time_zone(CoreCaptures::CapturedAt))
                .col(big_integer(CoreCaptures::RowsRead))
                .col(big_integer(CoreCaptures::RowsAccepted))
                .col(big_integer(CoreCaptures::RowsRejected))
                .col(string_len_null(CoreCaptures::SupersedesCaptureId, 64))
                .col(json_binary_null(CoreCaptures::MetadataJson))
                .col(timestamp_with_time_zone(CoreCaptures::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_captures_capture_id",
            CoreCaptures::Table,
            [CoreCaptures::CaptureId],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_captures_domain_partition_captured_at",
            CoreCaptures::Table,
            [
                CoreCaptures::Domain,
                CoreCaptures::PartitionKey,
                CoreCaptures::CapturedAt,
            ],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_manifest`; see [`create_core_manifest`].
#[derive(DeriveIden)]
enum CoreManifest {
    Table,
    Id,
    Domain,
    PartitionKey,
    Stage,
    CaptureId,
    RowCount,
    MetricsJson,
    ExecutionId,
    BatchId,
    UpdatedAt,
}

/// Creates `core_manifest` and its indexes.
///
/// The stage (RAW / NORMALIZED / CALC) each partition has reached, and for which capture: one row
/// per (domain, partition, stage), overwritten as newer captures move through the pipeline.
async fn create_core_manifest(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreManifest::Table)
                .col(big_pk_auto(CoreManifest::Id))
                .col(string_len(CoreManifest::Domain, 128))
                .col(string_len(CoreManifest::PartitionKey, 512))
                .col(string_len(CoreManifest::Stage, 32))
                .col(string_len(CoreManifest::CaptureId, 64))
                .col(big_integer(CoreManifest::RowCount))
                .col(json_binary_null(CoreManifest::MetricsJson))
                .col(string_len_null(CoreManifest::ExecutionId, 64))
                .col(string_len_null(CoreManifest::BatchId, 64))
                .col(timestamp_with_time_zone(CoreManifest::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_manifest_domain_partition_stage",
            CoreManifest::Table,
            [
                CoreManifest::Domain,
                CoreManifest::PartitionKey,
                CoreManifest::Stage,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_manifest_domain_stage",
            CoreManifest::Table,
            [CoreManifest::Domain, CoreManifest::Stage],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_manifest_updated_at",
            CoreManifest::Table,
            [CoreManifest::UpdatedAt],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_rejects`; see [`create_core_rejects`].
#[derive(DeriveIden)]
enum CoreRejects {
    Table,
    Id,
    Domain,
    PartitionKey,
    Stage,
    CaptureId,
    LineNumber,
    ReasonCode,
    Detail,
    RawLine,
    SourceLocator,
    ExecutionId,
    BatchId,
    CreatedAt,
}

/// Creates `core_rejects` and its indexes.
///
/// Input lines a stage refused, with the reason code and the raw line, so operations can see
/// exactly what was dropped and why instead of rows silently disappearing.
async fn create_core_rejects(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreRejects::Table)
                .col(big_pk_auto(CoreRejects::Id))
                .col(string_len(CoreRejects::Domain, 128))
                .col(string_len(CoreRejects::PartitionKey, 512))
                .col(string_len(CoreRejects::Stage, 32))
                .col(string_len(CoreRejects::CaptureId, 64))
                .col(big_integer_null(CoreRejects::LineNumber))
                .col(string_len(CoreRejects::ReasonCode, 64))
                .col(text(CoreRejects::Detail))
                .col(text(CoreRejects::RawLine))
                .col(text_null(CoreRejects::SourceLocator))
                .col(string_len_null(CoreRejects::ExecutionId, 64))
                .col(string_len_null(CoreRejects::BatchId, 64))
                .col(timestamp_with_time_zone(CoreRejects::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_core_rejects_domain_partition",
            CoreRejects::Table,
            [CoreRejects::Domain, CoreRejects::PartitionKey],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_rejects_capture_id",
            CoreRejects::Table,
            [CoreRejects::CaptureId],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_quality`; see [`create_core_quality`].
#[derive(DeriveIden)]
enum CoreQuality {
    Table,
    Id,
    Domain,
    PartitionKey,
    CaptureId,
    CheckName,
    Category,
    Status,
    Message,
    ActualValue,
    ExpectedValue,
    DetailsJson,
    ExecutionId,
    BatchId,
    CreatedAt,
}

/// Creates `core_quality` and its indexes.
///
/// Results of named data-quality checks (PASS / WARN / FAIL) per partition and capture, with the
/// actual and expected values that decided them.
async fn create_core_quality(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreQuality::Table)
                .col(big_pk_auto(CoreQuality::Id))
                .col(string_len(CoreQuality::Domain, 128))
                .col(string_len(CoreQuality::PartitionKey, 512))
                .col(string_len_null(CoreQuality::CaptureId, 64))
                .col(string_len(CoreQuality::CheckName, 128))
                .col(string_len(CoreQuality::Category, 32))
                .col(string_len(CoreQuality::Status, 8))
                .col(text_null(CoreQuality::Message))
                .col(text_null(CoreQuality::ActualValue))
                .col(text_null(CoreQuality::ExpectedValue))
                .col(json_binary_null(CoreQuality::DetailsJson))
                .col(string_len_null(CoreQuality::ExecutionId, 64))
                .col(string_len_null(CoreQuality::BatchId, 64))
                .col(timestamp_with_time_zone(CoreQuality::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_core_quality_domain_partition",
            CoreQuality::Table,
            [CoreQuality::Domain, CoreQuality::PartitionKey],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_anomalies`; see [`create_core_anomalies`].
#[derive(DeriveIden)]
enum CoreAnomalies {
    Table,
    Id,
    Domain,
    Pipeline,
    PartitionKey,
    Stage,
    Severity,
    Category,
    Message,
    DetailsJson,
    AffectedRecords,
    SampleRecords,
    ExecutionId,
    BatchId,
    CaptureId,
    DetectedAt,
    ResolvedAt,
    ResolutionNote,
    CreatedAt,
}

/// Creates `core_anomalies` and its indexes.
///
/// Everything that went wrong or looks wrong, with severity and category; an anomaly blocks
/// readiness until it is resolved (`resolved_at` set), which is why unresolved rows have their own
/// partial index.
async fn create_core_anomalies(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreAnomalies::Table)
                .col(big_pk_auto(CoreAnomalies::Id))
                .col(string_len(CoreAnomalies::Domain, 128))
                .col(string_len_null(CoreAnomalies::Pipeline, 128))
                .col(string_len_null(CoreAnomalies::PartitionKey, 512))
                .col(string_len_null(CoreAnomalies::Stage, 32))
                .col(string_len(CoreAnomalies::Severity, 32))
                .col(string_len(CoreAnomalies::Category, 32))
                .col(text(CoreAnomalies::Message))
                .col(json_binary_null(CoreAnomalies::DetailsJson))
                .col(big_integer_null(CoreAnomalies::AffectedRecords))
                .col(json_binary_null(CoreAnomalies::SampleRecords))
                .col(string_len_null(CoreAnomalies::ExecutionId, 64))
                .col(string_len_null(CoreAnomalies::BatchId, 64))
                .col(string_len_null(CoreAnomalies::CaptureId, 64))
                .col(timestamp_with_time_zone(CoreAnomalies::DetectedAt))
                .col(timestamp_with_time_zone_null(CoreAnomalies::ResolvedAt))
                .col(text_null(CoreAnomalies::ResolutionNote))
                .col(timestamp_with_time_zone(CoreAnomalies::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_core_anomalies_domain_partition",
            CoreAnomalies::Table,
            [CoreAnomalies::Domain, CoreAnomalies::PartitionKey],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_anomalies_severity",
            CoreAnomalies::Table,
            [CoreAnomalies::Severity],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_anomalies_category",
            CoreAnomalies::Table,
            [CoreAnomalies::Category],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_anomalies_detected_at",
            CoreAnomalies::Table,
            [CoreAnomalies::DetectedAt],
        ))
        .await?;
    // Readiness asks "is there an unresolved anomaly?" on every evaluation; resolved anomalies
    // pile up forever, so only the unresolved ones are indexed.
    manager
        .create_index(
            index(
                UNRESOLVED_ANOMALIES_INDEX,
                CoreAnomalies::Table,
                [CoreAnomalies::ResolvedAt],
            )
            .and_where(Expr::col(CoreAnomalies::ResolvedAt).is_null())
            .to_owned(),
        )
        .await?;
    Ok(())
}

/// Identifiers of `core_data_readiness`; see [`create_core_data_readiness`].
#[derive(DeriveIden)]
enum CoreDataReadiness {
    Table,
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
}

/// Creates `core_data_readiness` and its indexes.
///
/// The current readiness verdict per (domain, partition, use): the five criteria, what blocked it
/// and which captures were judged. Derived from the latest `core_readiness_history` row;
/// certification stamps `certified_at` / `certified_by`.
async fn create_core_data_readiness(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreDataReadiness::Table)
                .col(big_pk_auto(CoreDataReadiness::Id))
                .col(string_len(CoreDataReadiness::Domain, 128))
                .col(string_len(CoreDataReadiness::PartitionKey, 512))
                .col(string_len(CoreDataReadiness::ReadyFor, 32))
                .col(string_len(CoreDataReadiness::Status, 32))
                .col(boolean(CoreDataReadiness::IsReady))
                .col(boolean(CoreDataReadiness::AllPartitionsPresent))
                .col(boolean(CoreDataReadiness::AllStagesComplete))
                .col(boolean(CoreDataReadiness::NoCriticalAnomalies))
                .col(boolean(CoreDataReadiness::DependenciesCurrent))
                .col(boolean(CoreDataReadiness::AgeExceedsPreliminary))
                .col(json_binary(CoreDataReadiness::BlockingIssues))
                .col(json_binary(CoreDataReadiness::CapturesJudged))
                .col(timestamp_with_time_zone(CoreDataReadiness::EvaluatedAt))
                .col(timestamp_with_time_zone_null(
                    CoreDataReadiness::CertifiedAt,
                ))
                .col(string_len_null(CoreDataReadiness::CertifiedBy, 128))
                .col(timestamp_with_time_zone(CoreDataReadiness::CreatedAt))
                .col(timestamp_with_time_zone(CoreDataReadiness::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_data_readiness_domain_partition_ready_for",
            CoreDataReadiness::Table,
            [
                CoreDataReadiness::Domain,
                CoreDataReadiness::PartitionKey,
                CoreDataReadiness::ReadyFor,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_data_readiness_is_ready_ready_for",
            CoreDataReadiness::Table,
            [CoreDataReadiness::IsReady, CoreDataReadiness::ReadyFor],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_readiness_history`; see [`create_core_readiness_history`].
#[derive(DeriveIden)]
enum CoreReadinessHistory {
    Table,
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
}

/// Creates `core_readiness_history` and its indexes.
///
/// The append-only audit trail of every readiness evaluation: what was decided, when, by whom and
/// on which captures. Triggers on both backends reject UPDATE and DELETE so compliance can rely on
/// it.
async fn create_core_readiness_history(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreReadinessHistory::Table)
                .col(big_pk_auto(CoreReadinessHistory::Id))
                .col(string_len(CoreReadinessHistory::Domain, 128))
                .col(string_len(CoreReadinessHistory::PartitionKey, 512))
                .col(string_len(CoreReadinessHistory::ReadyFor, 32))
                .col(string_len(CoreReadinessHistory::Status, 32))
                .col(boolean(CoreReadinessHistory::IsReady))
                .col(boolean(CoreReadinessHistory::AllPartitionsPresent))
                .col(boolean(CoreReadinessHistory::AllStagesComplete))
                .col(boolean(CoreReadinessHistory::NoCriticalAnomalies))
                .col(boolean(CoreReadinessHistory::DependenciesCurrent))
                .col(boolean(CoreReadinessHistory::AgeExceedsPreliminary))
                .col(json_binary(CoreReadinessHistory::BlockingIssues))
                .col(json_binary(CoreReadinessHistory::CapturesJudged))
                .col(timestamp_with_time_zone(CoreReadinessHistory::EvaluatedAt))
                .col(string_len_null(CoreReadinessHistory::EvaluatedBy, 128))
                .col(timestamp_with_time_zone_null(
                    CoreReadinessHistory::CertifiedAt,
                ))
                .col(timestamp_with_time_zone(CoreReadinessHistory::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_core_readiness_history_lookup",
            CoreReadinessHistory::Table,
            [
                CoreReadinessHistory::Domain,
                CoreReadinessHistory::PartitionKey,
                CoreReadinessHistory::ReadyFor,
                CoreReadinessHistory::EvaluatedAt,
            ],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_calc_dependencies`; see [`create_core_calc_dependencies`].
#[derive(DeriveIden)]
enum CoreCalcDependencies {
    Table,
    Id,
    CalcDomain,
    CalcPipeline,
    CalcTable,
    DependsOnDomain,
    DependsOnTable,
    DependencyType,
    Description,
    CreatedAt,
}

/// Creates `core_calc_dependencies` and its indexes.
///
/// Declared lineage: which upstream (domain, table) each calculation depends on and how strongly
/// (REQUIRED / OPTIONAL / REFERENCE).
async fn create_core_calc_dependencies(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreCalcDependencies::Table)
                .col(big_pk_auto(CoreCalcDependencies::Id))
                .col(string_len(CoreCalcDependencies::CalcDomain, 128))
                .col(string_len(CoreCalcDependencies::CalcPipeline, 128))
                .col(string_len(CoreCalcDependencies::CalcTable, 128).default(""))
                .col(string_len(CoreCalcDependencies::DependsOnDomain, 128))
                .col(string_len(CoreCalcDependencies::DependsOnTable, 128))
                .col(string_len(CoreCalcDependencies::DependencyType, 16))
                .col(text_null(CoreCalcDependencies::Description))
                .col(timestamp_with_time_zone(CoreCalcDependencies::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_calc_dependencies_edge",
            CoreCalcDependencies::Table,
            [
                CoreCalcDependencies::CalcDomain,
                CoreCalcDependencies::CalcPipeline,
                CoreCalcDependencies::CalcTable,
                CoreCalcDependencies::DependsOnDomain,
                CoreCalcDependencies::DependsOnTable,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_calc_dependencies_calc",
            CoreCalcDependencies::Table,
            [
                CoreCalcDependencies::CalcDomain,
                CoreCalcDependencies::CalcPipeline,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_calc_dependencies_upstream",
            CoreCalcDependencies::Table,
            [
                CoreCalcDependencies::DependsOnDomain,
                CoreCalcDependencies::DependsOnTable,
            ],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_calc_inputs`; see [`create_core_calc_inputs`].
#[derive(DeriveIden)]
enum CoreCalcInputs {
    Table,
    Id,
    CalcDomain,
    CalcTable,
    CalcPartitionKey,
    CalcCaptureId,
    InputDomain,
    InputTable,
    InputPartitionKey,
    InputCaptureId,
    RecordedAt,
}

/// Creates `core_calc_inputs` and its indexes.
///
/// Recorded lineage: the exact upstream capture each calculated capture was computed from, so
/// "dependencies current" can be checked against the latest upstream capture.
async fn create_core_calc_inputs(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreCalcInputs::Table)
                .col(big_pk_auto(CoreCalcInputs::Id))
                .col(string_len(CoreCalcInputs::CalcDomain, 128))
                .col(string_len(CoreCalcInputs::CalcTable, 128))
                .col(string_len(CoreCalcInputs::CalcPartitionKey, 512))
                .col(string_len(CoreCalcInputs::CalcCaptureId, 64))
                .col(string_len(CoreCalcInputs::InputDomain, 128))
                .col(string_len_null(CoreCalcInputs::InputTable, 128))
                .col(string_len(CoreCalcInputs::InputPartitionKey, 512))
                .col(string_len(CoreCalcInputs::InputCaptureId, 64))
                .col(timestamp_with_time_zone(CoreCalcInputs::RecordedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_calc_inputs_edge",
            CoreCalcInputs::Table,
            [
                CoreCalcInputs::CalcCaptureId,
                CoreCalcInputs::CalcTable,
                CoreCalcInputs::InputDomain,
                CoreCalcInputs::InputPartitionKey,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_calc_inputs_input",
            CoreCalcInputs::Table,
            [
                CoreCalcInputs::InputDomain,
                CoreCalcInputs::InputPartitionKey,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_calc_inputs_calc",
            CoreCalcInputs::Table,
            [CoreCalcInputs::CalcDomain, CoreCalcInputs::CalcPartitionKey],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_expected_schedules`; see [`create_core_expected_schedules`].
#[derive(DeriveIden)]
enum CoreExpectedSchedules {
    Table,
    Id,
    Domain,
    Pipeline,
    ScheduleType,
    CronExpression,
    PartitionTemplate,
    PartitionValues,
    ExpectedDelayHours,
    PreliminaryHours,
    Description,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

/// Creates `core_expected_schedules` and its indexes.
///
/// When each dataset is expected: the schedule, the partitions it expands to, the publication delay
/// and the preliminary (stabilization) window that readiness criterion 5 uses.
async fn create_core_expected_schedules(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreExpectedSchedules::Table)
                .col(big_pk_auto(CoreExpectedSchedules::Id))
                .col(string_len(CoreExpectedSchedules::Domain, 128))
                .col(string_len(CoreExpectedSchedules::Pipeline, 128))
                .col(string_len(CoreExpectedSchedules::ScheduleType, 16))
                .col(string_len_null(CoreExpectedSchedules::CronExpression, 128))
                .col(text(CoreExpectedSchedules::PartitionTemplate))
                .col(json_binary_null(CoreExpectedSchedules::PartitionValues))
                .col(integer_null(CoreExpectedSchedules::ExpectedDelayHours))
                .col(integer_null(CoreExpectedSchedules::PreliminaryHours))
                .col(text_null(CoreExpectedSchedules::Description))
                .col(boolean(CoreExpectedSchedules::IsActive).default(true))
                .col(timestamp_with_time_zone(CoreExpectedSchedules::CreatedAt))
                .col(timestamp_with_time_zone(CoreExpectedSchedules::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_expected_schedules_domain_pipeline",
            CoreExpectedSchedules::Table,
            [
                CoreExpectedSchedules::Domain,
                CoreExpectedSchedules::Pipeline,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_expected_schedules_is_active",
            CoreExpectedSchedules::Table,
            [CoreExpectedSchedules::IsActive],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_work_items`; see [`create_core_work_items`].
#[derive(DeriveIden)]
enum CoreWorkItems {
    Table,
    Id,
    Domain,
    Pipeline,
    PartitionKey,
    ParamsJson,
    DesiredAt,
    Priority,
    State,
    AttemptCount,
    MaxAttempts,
    LastError,
    LastErrorAt,
    NextAttemptAt,
    CurrentExecutionId,
    LatestExecutionId,
    LockedBy,
    LockedAt,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

/// Creates `core_work_items` and its indexes.
///
/// The work queue: one item per (domain, pipeline, partition) with its state, retry bookkeeping and
/// lease, so operations can see what is pending, running or failed and rerun it.
async fn create_core_work_items(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreWorkItems::Table)
                .col(big_pk_auto(CoreWorkItems::Id))
                .col(string_len(CoreWorkItems::Domain, 128))
                .col(string_len(CoreWorkItems::Pipeline, 128))
                .col(string_len(CoreWorkItems::PartitionKey, 512))
                .col(json_binary_null(CoreWorkItems::ParamsJson))
                .col(timestamp_with_time_zone(CoreWorkItems::DesiredAt))
                .col(integer(CoreWorkItems::Priority).default(100))
                .col(string_len(CoreWorkItems::State, 16))
                .col(integer(CoreWorkItems::AttemptCount).default(0))
                .col(integer(CoreWorkItems::MaxAttempts).default(3))
                .col(text_null(CoreWorkItems::LastError))
                .col(timestamp_with_time_zone_null(CoreWorkItems::LastErrorAt))
                .col(timestamp_with_time_zone_null(CoreWorkItems::NextAttemptAt))
                .col(string_len_null(CoreWorkItems::CurrentExecutionId, 64))
                .col(string_len_null(CoreWorkItems::LatestExecutionId, 64))
                .col(string_len_null(CoreWorkItems::LockedBy, 128))
                .col(timestamp_with_time_zone_null(CoreWorkItems::LockedAt))
                .col(timestamp_with_time_zone(CoreWorkItems::CreatedAt))
                .col(timestamp_with_time_zone(CoreWorkItems::UpdatedAt))
                .col(timestamp_with_time_zone_null(CoreWorkItems::CompletedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_work_items_domain_pipeline_partition",
            CoreWorkItems::Table,
            [
                CoreWorkItems::Domain,
                CoreWorkItems::Pipeline,
                CoreWorkItems::PartitionKey,
            ],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_work_items_state_next_attempt_at",
            CoreWorkItems::Table,
            [CoreWorkItems::State, CoreWorkItems::NextAttemptAt],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_work_items_desired_at",
            CoreWorkItems::Table,
            [CoreWorkItems::DesiredAt],
        ))
        .await?;
    Ok(())
}

/// Identifiers of `core_executions`; see [`create_core_executions`].
#[derive(DeriveIden)]
enum CoreExecutions {
    Table,
    Id,
    ExecutionId,
    Pipeline,
    Domain,
    PartitionKey,
    ParamsJson,
    Status,
    TriggerSource,
    BatchId,
    WorkItemId,
    StartedAt,
    FinishedAt,
    RowsProcessed,
    Error,
}

/// Creates `core_executions` and its indexes.
///
/// One run of one pipeline: what triggered it, how it ended and how many rows it processed; every
/// other table's `execution_id` points here.
async fn create_core_executions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CoreExecutions::Table)
                .col(big_pk_auto(CoreExecutions::Id))
                .col(string_len(CoreExecutions::ExecutionId, 64))
                .col(string_len(CoreExecutions::Pipeline, 128))
                .col(string_len(CoreExecutions::Domain, 128))
                .col(string_len_null(CoreExecutions::PartitionKey, 512))
                .col(json_binary_null(CoreExecutions::ParamsJson))
                .col(string_len(CoreExecutions::Status, 16))
                .col(string_len(CoreExecutions::TriggerSource, 32))
                .col(string_len_null(CoreExecutions::BatchId, 64))
                .col(big_integer_null(CoreExecutions::WorkItemId))
                .col(timestamp_with_time_zone(CoreExecutions::StartedAt))
                .col(timestamp_with_time_zone_null(CoreExecutions::FinishedAt))
                .col(big_integer_null(CoreExecutions::RowsProcessed))
                .col(text_null(CoreExecutions::Error))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_core_executions_execution_id",
            CoreExecutions::Table,
            [CoreExecutions::ExecutionId],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_executions_status",
            CoreExecutions::Table,
            [CoreExecutions::Status],
        ))
        .await?;
    manager
        .create_index(index(
            "idx_core_executions_pipeline_started_at",
            CoreExecutions::Table,
            [CoreExecutions::Pipeline, CoreExecutions::StartedAt],
        ))
        .await?;
    Ok(())
}

/// Name of the PostgreSQL trigger function behind the append-only triggers.
const PG_APPEND_ONLY_FUNCTION: &str = "core_readiness_history_reject_change";

/// Makes `core_readiness_history` append-only in the database itself, not just by convention.
///
/// Compliance relies on the history as evidence of what was decided and when, so no code path
/// (not even a buggy store function or an operator's ad-hoc SQL) may rewrite it. The builders
/// have no trigger support, so this is raw SQL per backend, with the same meaning on both: every
/// row-level UPDATE or DELETE aborts with [`APPEND_ONLY_MESSAGE`]. PostgreSQL also has
/// `TRUNCATE`, which bypasses row triggers, so it gets a statement-level trigger too (SQLite has
/// no `TRUNCATE`; its `DELETE FROM` without `WHERE` still fires the row trigger).
pub(crate) async fn create_append_only_triggers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Sqlite => vec![
            format!(
                "CREATE TRIGGER core_readiness_history_no_update \
                 BEFORE UPDATE ON core_readiness_history \
                 BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            ),
            format!(
                "CREATE TRIGGER core_readiness_history_no_delete \
                 BEFORE DELETE ON core_readiness_history \
                 BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            ),
        ],
        DbBackend::Postgres => vec![
            // `OR REPLACE`: `Migrator::fresh` drops tables but not functions, so a re-run must
            // not trip over the function a previous run left behind.
            format!(
                "CREATE OR REPLACE FUNCTION {PG_APPEND_ONLY_FUNCTION}() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END; $$"
            ),
            format!(
                "CREATE TRIGGER core_readiness_history_append_only \
                 BEFORE UPDATE OR DELETE ON core_readiness_history \
                 FOR EACH ROW EXECUTE FUNCTION {PG_APPEND_ONLY_FUNCTION}()"
            ),
            format!(
                "CREATE TRIGGER core_readiness_history_no_truncate \
                 BEFORE TRUNCATE ON core_readiness_history \
                 FOR EACH STATEMENT EXECUTE FUNCTION {PG_APPEND_ONLY_FUNCTION}()"
            ),
        ],
        other => return Err(unsupported(other)),
    };
    for sql in statements {
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Undoes [`create_append_only_triggers`]; dropping the table would remove the triggers anyway,
/// but the PostgreSQL function outlives the table, and spelling both out keeps `down` honest.
async fn drop_append_only_triggers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Sqlite => vec![
            "DROP TRIGGER IF EXISTS core_readiness_history_no_update".to_owned(),
            "DROP TRIGGER IF EXISTS core_readiness_history_no_delete".to_owned(),
        ],
        DbBackend::Postgres => vec![
            "DROP TRIGGER IF EXISTS core_readiness_history_append_only ON core_readiness_history"
                .to_owned(),
            "DROP TRIGGER IF EXISTS core_readiness_history_no_truncate ON core_readiness_history"
                .to_owned(),
            format!("DROP FUNCTION IF EXISTS {PG_APPEND_ONLY_FUNCTION}()"),
        ],
        other => return Err(unsupported(other)),
    };
    for sql in statements {
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// The schema is only defined for the two backends Market Spine supports.
pub(crate) fn unsupported(backend: DbBackend) -> DbErr {
    DbErr::Migration(format!(
        "{backend:?} is not supported: Market Spine's schema is defined for SQLite and PostgreSQL only"
    ))
}
