//! `core_workers`: the `spine worker` processes, when each last showed signs of life and what
//! its last pass did. Times of life are wall clock (like execution heartbeats); the pass time is
//! the run clock the pass used.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use spine_model::entities::core_workers::{self, Column, Entity};

use crate::StoreResult;

/// A stored worker.
pub type Worker = core_workers::Model;

/// Records that `worker_id` started (or started again) on `hostname` as `pid`.
pub async fn register<C: ConnectionTrait>(
    conn: &C,
    worker_id: &str,
    hostname: &str,
    pid: u32,
    wall_now: DateTime<Utc>,
) -> StoreResult<()> {
    let row = core_workers::ActiveModel {
        worker_id: Set(worker_id.to_string()),
        hostname: Set(hostname.to_string()),
        pid: Set(i64::from(pid)),
        started_at: Set(wall_now),
        last_seen_at: Set(wall_now),
        stopped_at: Set(None),
        passes: Set(0),
        ..Default::default()
    };
    Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(Column::WorkerId)
                .update_columns([
                    Column::Hostname,
                    Column::Pid,
                    Column::StartedAt,
                    Column::LastSeenAt,
                    Column::StoppedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The worker is alive (wall clock).
pub async fn seen<C: ConnectionTrait>(
    conn: &C,
    worker_id: &str,
    wall_now: DateTime<Utc>,
) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(wall_now))
        .filter(Column::WorkerId.eq(worker_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A pass finished at `pass_at` (the run clock) having done `summary`.
pub async fn pass_done<C: ConnectionTrait>(
    conn: &C,
    worker_id: &str,
    pass_at: DateTime<Utc>,
    summary: Value,
    wall_now: DateTime<Utc>,
) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::Passes, Expr::col(Column::Passes).add(1))
        .col_expr(Column::LastPassAt, Expr::value(pass_at))
        .col_expr(Column::LastPassJson, Expr::value(summary))
        .col_expr(Column::LastSeenAt, Expr::value(wall_now))
        .filter(Column::WorkerId.eq(worker_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The worker stopped cleanly.
pub async fn stopped<C: ConnectionTrait>(
    conn: &C,
    worker_id: &str,
    wall_now: DateTime<Utc>,
) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::StoppedAt, Expr::value(wall_now))
        .col_expr(Column::LastSeenAt, Expr::value(wall_now))
        .filter(Column::WorkerId.eq(worker_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Every worker, the most recently seen first.
pub async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Worker>> {
    Ok(Entity::find()
        .order_by_desc(Column::LastSeenAt)
        .all(conn)
        .await?)
}
