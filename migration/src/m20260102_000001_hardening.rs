//! Hardening: a `cause` and `resolved_by` on anomalies, so detection can keep one open anomaly per partition and
//! cause (re-runs never duplicate), and the seeded FINRA OTC weekly schedules, so missed and late
//! publications are detected from the first run.

use sea_orm_migration::prelude::*;

use crate::ddl::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoreAnomalies {
    Table,
    Domain,
    PartitionKey,
    Category,
    Cause,
    ResolvedBy,
}

#[derive(DeriveIden)]
enum CoreExpectedSchedules {
    Table,
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

/// The index detection uses to find the open anomaly of a partition and cause.
pub const CAUSE_INDEX: &str = "idx_core_anomalies_domain_partition_category_cause";

/// The seeded schedules: (pipeline, tier, expected delay in hours, description).
///
/// FINRA publishes NMS Tier 1 two weeks after the week and NMS Tier 2 and OTC four weeks after,
/// on the Monday that follows: the file for the week ending Friday F appears on the Monday after
/// F + 14 days (Tier 1) or F + 28 days (Tier 2, OTC). `expected_delay_hours` counts trading time
/// only (weekends and exchange holidays do not count, `spine_rules::schedule::due_time`): that
/// Monday is 11 (Tier 1) or 21 (Tier 2, OTC) trading days after F, and due is 18:00 UTC on it,
/// later when a holiday intervenes, as FINRA's own publication slips. Preliminary for 48 h:
/// FINRA re-stamps early corrections within days of publication.
pub const SEEDED: &[(&str, &str, i32, &str)] = &[
    (
        "finra_otc.ingest.nms_tier_1",
        "NMS_TIER_1",
        11 * 24 + 18,
        "FINRA OTC Transparency, NMS Tier 1: published two weeks after the week, on Monday",
    ),
    (
        "finra_otc.ingest.nms_tier_2",
        "NMS_TIER_2",
        21 * 24 + 18,
        "FINRA OTC Transparency, NMS Tier 2: published four weeks after the week, on Monday",
    ),
    (
        "finra_otc.ingest.otc",
        "OTC",
        21 * 24 + 18,
        "FINRA OTC Transparency, OTC: published four weeks after the week, on Monday",
    ),
];

const FINRA_DOMAIN: &str = "finra.otc_transparency";
const PRELIMINARY_HOURS: i32 = 48;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CoreAnomalies::Table)
                    .add_column(ColumnDef::new(CoreAnomalies::Cause).string_len(128).null())
                    .to_owned(),
            )
            .await?;
        // One column per ALTER: SQLite cannot add two in one statement.
        manager
            .alter_table(
                Table::alter()
                    .table(CoreAnomalies::Table)
                    .add_column(
                        ColumnDef::new(CoreAnomalies::ResolvedBy)
                            .string_len(128)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                CAUSE_INDEX,
                CoreAnomalies::Table,
                [
                    CoreAnomalies::Domain,
                    CoreAnomalies::PartitionKey,
                    CoreAnomalies::Category,
                    CoreAnomalies::Cause,
                ],
            ))
            .await?;
        let now = Expr::current_timestamp();
        let mut insert = Query::insert();
        insert.into_table(CoreExpectedSchedules::Table).columns([
            CoreExpectedSchedules::Domain,
            CoreExpectedSchedules::Pipeline,
            CoreExpectedSchedules::ScheduleType,
            CoreExpectedSchedules::CronExpression,
            CoreExpectedSchedules::PartitionTemplate,
            CoreExpectedSchedules::PartitionValues,
            CoreExpectedSchedules::ExpectedDelayHours,
            CoreExpectedSchedules::PreliminaryHours,
            CoreExpectedSchedules::Description,
            CoreExpectedSchedules::IsActive,
            CoreExpectedSchedules::CreatedAt,
            CoreExpectedSchedules::UpdatedAt,
        ]);
        for (pipeline, tier, delay, description) in SEEDED {
            insert.values_panic([
                FINRA_DOMAIN.into(),
                (*pipeline).into(),
                "WEEKLY".into(),
                "0 18 * * MON".into(),
                r#"{"tier":"${TIER}","week_ending":"${FRIDAY}"}"#.into(),
                serde_json::json!({ "TIER": [tier] }).into(),
                (*delay).into(),
                PRELIMINARY_HOURS.into(),
                (*description).into(),
                true.into(),
                now.clone(),
                now.clone(),
            ]);
        }
        manager.exec_stmt(insert).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(CoreExpectedSchedules::Table)
                    .and_where(Expr::col(CoreExpectedSchedules::Domain).eq(FINRA_DOMAIN))
                    .and_where(
                        Expr::col(CoreExpectedSchedules::Pipeline)
                            .is_in(SEEDED.iter().map(|(p, ..)| *p)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(CAUSE_INDEX)
                    .table(CoreAnomalies::Table)
                    .to_owned(),
            )
            .await?;
        for column in [CoreAnomalies::ResolvedBy, CoreAnomalies::Cause] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CoreAnomalies::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
