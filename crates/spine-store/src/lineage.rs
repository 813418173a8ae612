//! Lineage: `core_calc_dependencies` (which calc depends on which upstream table, declared once)
//! and `core_calc_inputs` (which upstream capture each calc capture actually consumed).
//!
//! The declared graph answers "what is affected if X changes?"; the recorded inputs answer
//! "is this calc still computed from the latest upstream?" — the "dependencies current"
//! readiness criterion.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spine_model::entities::{core_calc_dependencies, core_calc_inputs};
use spine_model::{DependencyType, Domain, PartitionKey};

use crate::{StoreError, StoreResult};

/// A stored dependency declaration.
pub type Dependency = core_calc_dependencies::Model;
/// A stored consumed-input record.
pub type CalcInput = core_calc_inputs::Model;

/// A calc's declared dependency on an upstream table.
#[derive(Debug, Clone)]
pub struct NewDependency {
    /// The calc's domain.
    pub calc_domain: Domain,
    /// The pipeline that computes the calc.
    pub calc_pipeline: String,
    /// The calc's table.
    pub calc_table: Option<String>,
    /// The upstream domain.
    pub depends_on_domain: Domain,
    /// The upstream table.
    pub depends_on_table: String,
    /// How strong the dependency is.
    pub dependency_type: DependencyType,
    /// Why the dependency exists.
    pub description: Option<String>,
}

/// Declares a dependency. Declaring the same edge again updates its type and description.
pub async fn register_dependency<C: ConnectionTrait>(
    conn: &C,
    dep: NewDependency,
    now: DateTime<Utc>,
) -> StoreResult<Dependency> {
    use core_calc_dependencies::Column;
    if dep.calc_pipeline.trim().is_empty() || dep.depends_on_table.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a dependency needs a calc pipeline and an upstream table".to_string(),
        ));
    }
    let calc_table = dep.calc_table.clone().unwrap_or_default();
    let model = core_calc_dependencies::ActiveModel {
        calc_domain: Set(dep.calc_domain.to_string()),
        calc_pipeline: Set(dep.calc_pipeline.clone()),
        calc_table: Set(calc_table.clone()),
        depends_on_domain: Set(dep.depends_on_domain.to_string()),
        depends_on_table: Set(dep.depends_on_table.clone()),
        dependency_type: Set(dep.dependency_type.to_string()),
        description: Set(dep.description.clone()),
        created_at: Set(now),
        ..Default::default()
    };
    core_calc_dependencies::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([
                Column::CalcDomain,
                Column::CalcPipeline,
                Column::CalcTable,
                Column::DependsOnDomain,
                Column::DependsOnTable,
            ])
            .update_columns([Column::DependencyType, Column::Description])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    core_calc_dependencies::Entity::find()
        .filter(Column::CalcDomain.eq(dep.calc_domain.as_str()))
        .filter(Column::CalcPipeline.eq(dep.calc_pipeline.as_str()))
        .filter(Column::CalcTable.eq(calc_table))
        .filter(Column::DependsOnDomain.eq(dep.depends_on_domain.as_str()))
        .filter(Column::DependsOnTable.eq(dep.depends_on_table.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "the dependency just registered".to_string(),
        })
}

/// Declared dependencies, of one calc domain or all, in a stable order.
pub async fn list_dependencies<C: ConnectionTrait>(
    conn: &C,
    calc_domain: Option<&Domain>,
) -> StoreResult<Vec<Dependency>> {
    use core_calc_dependencies::Column;
    let mut query = core_calc_dependencies::Entity::find();
    if let Some(domain) = calc_domain {
        query = query.filter(Column::CalcDomain.eq(domain.as_str()));
    }
    Ok(query
        .order_by_asc(Column::CalcDomain)
        .order_by_asc(Column::CalcPipeline)
        .order_by_asc(Column::CalcTable)
        .order_by_asc(Column::DependsOnDomain)
        .order_by_asc(Column::DependsOnTable)
        .all(conn)
        .await?)
}

/// The calcs that declare a dependency on `domain` (and on `table`, when given).
pub async fn dependents_of<C: ConnectionTrait>(
    conn: &C,
    domain: &Domain,
    table: Option<&str>,
) -> StoreResult<Vec<Dependency>> {
    use core_calc_dependencies::Column;
    let mut query =
        core_calc_dependencies::Entity::find().filter(Column::DependsOnDomain.eq(domain.as_str()));
    if let Some(table) = table {
        query = query.filter(Column::DependsOnTable.eq(table));
    }
    Ok(query
        .order_by_asc(Column::CalcDomain)
        .order_by_asc(Column::CalcTable)
        .all(conn)
        .await?)
}

/// One upstream capture consumed by one calc capture.
#[derive(Debug, Clone)]
pub struct NewCalcInput {
    /// The calc's domain.
    pub calc_domain: Domain,
    /// The calc's table.
    pub calc_table: String,
    /// The calc's partition.
    pub calc_partition: PartitionKey,
    /// The capture the calc was computed for.
    pub calc_capture_id: String,
    /// The upstream domain.
    pub input_domain: Domain,
    /// The upstream table, when it matters.
    pub input_table: Option<String>,
    /// The upstream partition.
    pub input_partition: PartitionKey,
    /// The upstream capture consumed.
    pub input_capture_id: String,
    /// When the calc consumed it.
    pub recorded_at: DateTime<Utc>,
}

/// Records (or, on recompute, replaces) which upstream capture a calc capture consumed.
pub async fn record_calc_input<C: ConnectionTrait>(
    conn: &C,
    input: NewCalcInput,
) -> StoreResult<()> {
    use core_calc_inputs::Column;
    let model = core_calc_inputs::ActiveModel {
        calc_domain: Set(input.calc_domain.to_string()),
        calc_table: Set(input.calc_table),
        calc_partition_key: Set(input.calc_partition.canonical()),
        calc_capture_id: Set(input.calc_capture_id),
        input_domain: Set(input.input_domain.to_string()),
        input_table: Set(input.input_table),
        input_partition_key: Set(input.input_partition.canonical()),
        input_capture_id: Set(input.input_capture_id),
        recorded_at: Set(input.recorded_at),
        ..Default::default()
    };
    core_calc_inputs::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([
                Column::CalcCaptureId,
                Column::CalcTable,
                Column::InputDomain,
                Column::InputPartitionKey,
            ])
            .update_columns([
                Column::InputCaptureId,
                Column::InputTable,
                Column::RecordedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The inputs a calc capture consumed.
pub async fn inputs_of<C: ConnectionTrait>(
    conn: &C,
    calc_capture_id: &str,
) -> StoreResult<Vec<CalcInput>> {
    use core_calc_inputs::Column;
    Ok(core_calc_inputs::Entity::find()
        .filter(Column::CalcCaptureId.eq(calc_capture_id))
        .order_by_asc(Column::CalcTable)
        .order_by_asc(Column::InputDomain)
        .order_by_asc(Column::InputPartitionKey)
        .all(conn)
        .await?)
}

/// What several calc captures consumed, each capture's inputs in [`inputs_of`]'s order: one
/// query per 500 captures instead of one per capture.
pub async fn inputs_of_many<C: ConnectionTrait>(
    conn: &C,
    calc_capture_ids: &[String],
) -> StoreResult<Vec<CalcInput>> {
    use core_calc_inputs::Column;
    let mut rows = Vec::new();
    for chunk in calc_capture_ids.chunks(500) {
        rows.extend(
            core_calc_inputs::Entity::find()
                .filter(Column::CalcCaptureId.is_in(chunk.iter().map(String::as_str)))
                .order_by_asc(Column::CalcCaptureId)
                .order_by_asc(Column::CalcTable)
                .order_by_asc(Column::InputDomain)
                .order_by_asc(Column::InputPartitionKey)
                .all(conn)
                .await?,
        );
    }
    Ok(rows)
}

/// The calc captures that consumed any capture of an upstream partition.
pub async fn consumers_of<C: ConnectionTrait>(
    conn: &C,
    input_domain: &Domain,
    input_partition: &PartitionKey,
) -> StoreResult<Vec<CalcInput>> {
    use core_calc_inputs::Column;
    Ok(core_calc_inputs::Entity::find()
        .filter(Column::InputDomain.eq(input_domain.as_str()))
        .filter(Column::InputPartitionKey.eq(input_partition.canonical()))
        .order_by_asc(Column::CalcDomain)
        .order_by_asc(Column::CalcPartitionKey)
        .all(conn)
        .await?)
}
