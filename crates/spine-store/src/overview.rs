//! A cross-table summary per domain, for `spine status`: how much is captured, what is open,
//! what is certified. Aggregated in Rust over indexed reads so the SQL stays portable.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use spine_model::entities::{core_anomalies, core_captures, core_data_readiness};

use crate::StoreResult;

/// The state of one domain at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DomainOverview {
    /// The domain.
    pub domain: String,
    /// Distinct partitions captured.
    pub partitions: usize,
    /// Captures, revisions included.
    pub captures: usize,
    /// When the latest capture was taken.
    pub latest_captured_at: Option<DateTime<Utc>>,
    /// Unresolved anomalies.
    pub open_anomalies: usize,
    /// Current readiness verdicts that are ready.
    pub ready: usize,
    /// Current readiness verdicts that are not ready.
    pub not_ready: usize,
    /// Runs that died without finishing (filled by callers that know the abandonment rule).
    pub abandoned_runs: usize,
}

#[derive(Default)]
struct Acc {
    overview: DomainOverview,
    partitions: BTreeSet<String>,
}

fn slot<'a>(by_domain: &'a mut BTreeMap<String, Acc>, domain: &str) -> &'a mut Acc {
    by_domain.entry(domain.to_string()).or_insert_with(|| Acc {
        overview: DomainOverview {
            domain: domain.to_string(),
            ..Default::default()
        },
        partitions: BTreeSet::new(),
    })
}

/// One overview per domain that has any capture, anomaly or verdict, ordered by domain.
pub async fn domains<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<DomainOverview>> {
    let mut by_domain: BTreeMap<String, Acc> = BTreeMap::new();
    for c in core_captures::Entity::find().all(conn).await? {
        let acc = slot(&mut by_domain, &c.domain);
        acc.overview.captures += 1;
        acc.overview.latest_captured_at = acc.overview.latest_captured_at.max(Some(c.captured_at));
        acc.partitions.insert(c.partition_key);
    }
    for a in core_anomalies::Entity::find()
        .filter(core_anomalies::Column::ResolvedAt.is_null())
        .all(conn)
        .await?
    {
        slot(&mut by_domain, &a.domain).overview.open_anomalies += 1;
    }
    for r in core_data_readiness::Entity::find().all(conn).await? {
        let o = &mut slot(&mut by_domain, &r.domain).overview;
        if r.is_ready {
            o.ready += 1;
        } else {
            o.not_ready += 1;
        }
    }
    Ok(by_domain
        .into_values()
        .map(|acc| DomainOverview {
            partitions: acc.partitions.len(),
            ..acc.overview
        })
        .collect())
}
