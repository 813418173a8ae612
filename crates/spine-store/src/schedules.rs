//! `core_expected_schedules`: when each dataset is expected, declared as data.
//!
//! A schedule is what lets Market Spine notice a partition that never arrived: without it,
//! absence is silent.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use spine_model::entities::core_expected_schedules::{self, Column, Entity};
use spine_model::{Domain, PartitionKey, ScheduleType};

use crate::{StoreError, StoreResult};

/// A stored schedule.
pub type Schedule = core_expected_schedules::Model;

/// A schedule to declare.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// The domain expected.
    pub domain: Domain,
    /// The pipeline that produces it (unique per domain).
    pub pipeline: String,
    /// The cadence.
    pub schedule_type: ScheduleType,
    /// An optional cron expression for cadences the type alone cannot say.
    pub cron_expression: Option<String>,
    /// The partition template, e.g. `{"tier":"${TIER}","week_ending":"${FRIDAY}"}`.
    pub partition_template: String,
    /// The values of the template's list variables, e.g. `{"TIER":["NMS_TIER_1",…]}`.
    pub partition_values: Option<Value>,
    /// Hours after the business date by which the data is due.
    pub expected_delay_hours: Option<i32>,
    /// Hours after capture during which the data is preliminary.
    pub preliminary_hours: Option<i32>,
    /// What the schedule is for.
    pub description: Option<String>,
    /// Inactive schedules are kept but not expanded.
    pub is_active: bool,
}

/// Declares a schedule, or updates the one with the same (domain, pipeline).
///
/// The template is checked to be a JSON object of strings, so a typo is refused here rather
/// than silently expanding to nothing later.
pub async fn upsert<C: ConnectionTrait>(
    conn: &C,
    s: NewSchedule,
    now: DateTime<Utc>,
) -> StoreResult<Schedule> {
    PartitionKey::parse(&s.partition_template).map_err(|e| {
        StoreError::Invalid(format!(
            "schedule {}/{}: partition_template: {e}",
            s.domain, s.pipeline
        ))
    })?;
    for (name, value) in [
        ("expected_delay_hours", s.expected_delay_hours),
        ("preliminary_hours", s.preliminary_hours),
    ] {
        if let Some(v) = value
            && v < 0
        {
            return Err(StoreError::Invalid(format!(
                "schedule {}/{}: {name} must not be negative, got {v}",
                s.domain, s.pipeline
            )));
        }
    }
    if let Some(values) = &s.partition_values
        && !values.is_object()
    {
        return Err(StoreError::Invalid(format!(
            "schedule {}/{}: partition_values must be a JSON object of lists, got {values}",
            s.domain, s.pipeline
        )));
    }
    let model = core_expected_schedules::ActiveModel {
        domain: Set(s.domain.to_string()),
        pipeline: Set(s.pipeline.clone()),
        schedule_type: Set(s.schedule_type.to_string()),
        cron_expression: Set(s.cron_expression),
        partition_template: Set(s.partition_template),
        partition_values: Set(s.partition_values),
        expected_delay_hours: Set(s.expected_delay_hours),
        preliminary_hours: Set(s.preliminary_hours),
        description: Set(s.description),
        is_active: Set(s.is_active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Entity::insert(model)
        .on_conflict(
            OnConflict::columns([Column::Domain, Column::Pipeline])
                .update_columns([
                    Column::ScheduleType,
                    Column::CronExpression,
                    Column::PartitionTemplate,
                    Column::PartitionValues,
                    Column::ExpectedDelayHours,
                    Column::PreliminaryHours,
                    Column::Description,
                    Column::IsActive,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    get(conn, &s.domain, &s.pipeline)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("schedule {}/{}", s.domain, s.pipeline),
        })
}

/// Declares a schedule only when (domain, pipeline) has none: how a domain seeds its expected
/// schedules without undoing an operator's changes to them (a changed delay, a deactivation).
/// Returns whether it was inserted.
pub async fn insert_if_absent<C: ConnectionTrait>(
    conn: &C,
    s: NewSchedule,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    if get(conn, &s.domain, &s.pipeline).await?.is_some() {
        return Ok(false);
    }
    let model = core_expected_schedules::ActiveModel {
        domain: Set(s.domain.to_string()),
        pipeline: Set(s.pipeline.clone()),
        schedule_type: Set(s.schedule_type.to_string()),
        cron_expression: Set(s.cron_expression),
        partition_template: Set(s.partition_template),
        partition_values: Set(s.partition_values),
        expected_delay_hours: Set(s.expected_delay_hours),
        preliminary_hours: Set(s.preliminary_hours),
        description: Set(s.description),
        is_active: Set(s.is_active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    // Two processes seeding at once: the loser's insert is a no-op, not an error.
    let inserted = Entity::insert(model)
        .on_conflict(
            OnConflict::columns([Column::Domain, Column::Pipeline])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match inserted {
        Ok(n) => Ok(n > 0),
        Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One schedule by (domain, pipeline).
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    pipeline: &str,
) -> StoreResult<Option<Schedule>> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain.as_str()))
        .filter(Column::Pipeline.eq(pipeline))
        .one(conn)
        .await?)
}

/// Schedules of one domain or all, optionally only active ones.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    domain: Option<&Domain>,
    active_only: bool,
) -> StoreResult<Vec<Schedule>> {
    let mut query = Entity::find();
    if let Some(domain) = domain {
        query = query.filter(Column::Domain.eq(domain.as_str()));
    }
    if active_only {
        query = query.filter(Column::IsActive.eq(true));
    }
    Ok(query
        .order_by_asc(Column::Domain)
        .order_by_asc(Column::Pipeline)
        .all(conn)
        .await?)
}
