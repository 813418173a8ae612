//! Anomaly recording for any domain: the one shape a run reports anomalies in, and the
//! "record once per partition and cause" helper every detection uses.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use spine_model::{AnomalyCause, Category, Domain, PartitionKey, Severity, Stage};
use spine_store::ConnectionTrait;
use spine_store::anomalies::{self, Anomaly, NewAnomaly, Recorded};

use crate::{PipelineResult, RunContext};

/// An anomaly a run recorded or resolved, as run reports list it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalySummary {
    /// Its id (for `spine anomalies resolve`).
    pub id: i64,
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem.
    pub category: Category,
    /// What it says.
    pub message: String,
    /// True when the run resolved it rather than raised it.
    pub resolved: bool,
}

impl AnomalySummary {
    /// A summary of an anomaly the run recorded (or found already open).
    pub fn opened(a: &Anomaly) -> AnomalySummary {
        AnomalySummary::of(a, false)
    }

    /// A summary of an anomaly the run resolved.
    pub fn resolved(a: &Anomaly) -> AnomalySummary {
        AnomalySummary::of(a, true)
    }

    fn of(a: &Anomaly, resolved: bool) -> AnomalySummary {
        AnomalySummary {
            id: a.id,
            severity: a.severity.parse().unwrap_or(Severity::Error),
            category: a.category.parse().unwrap_or(Category::PipelineError),
            message: a.message.clone(),
            resolved,
        }
    }
}

impl Serialize for AnomalySummary {
    /// An opened anomaly is `{id, severity, category, message}`; a resolved one is
    /// `{id, message, resolved: true}` (what it was is in its record; the report says it ended).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        if self.resolved {
            m.serialize_entry("message", &self.message)?;
            m.serialize_entry("resolved", &true)?;
        } else {
            m.serialize_entry("severity", &self.severity)?;
            m.serialize_entry("category", &self.category)?;
            m.serialize_entry("message", &self.message)?;
        }
        m.end()
    }
}

/// Who detected an anomaly and where: the fields every detection of one run shares.
#[derive(Debug, Clone)]
pub struct Detector<'a> {
    /// The domain the anomaly belongs to.
    pub domain: &'a Domain,
    /// The pipeline (or schedule) that detected it.
    pub pipeline: &'a str,
    /// The run.
    pub run: &'a RunContext,
}

impl Detector<'_> {
    /// A new anomaly with this detector's domain, pipeline, execution and clock.
    #[allow(clippy::too_many_arguments)]
    pub fn anomaly(
        &self,
        partition: Option<&PartitionKey>,
        stage: Option<Stage>,
        severity: Severity,
        category: Category,
        cause: &AnomalyCause,
        message: String,
    ) -> NewAnomaly {
        NewAnomaly {
            pipeline: Some(self.pipeline.to_string()),
            partition: partition.cloned(),
            stage,
            execution_id: self.run.execution_id.clone(),
            cause: Some(cause.as_str().to_string()),
            ..NewAnomaly::new(
                self.domain.clone(),
                severity,
                category,
                message,
                self.run.now,
            )
        }
    }

    /// Records an anomaly once per (partition, category, cause): a second detection while the
    /// first is open returns the open one.
    #[allow(clippy::too_many_arguments)]
    pub async fn once<C: ConnectionTrait>(
        &self,
        conn: &C,
        partition: &PartitionKey,
        stage: Option<Stage>,
        severity: Severity,
        category: Category,
        cause: &AnomalyCause,
        message: String,
        details: Value,
        capture_id: Option<&str>,
    ) -> PipelineResult<Recorded> {
        Ok(anomalies::record_once(
            conn,
            NewAnomaly {
                details: Some(details),
                capture_id: capture_id.map(str::to_string),
                ..self.anomaly(Some(partition), stage, severity, category, cause, message)
            },
        )
        .await?)
    }

    /// Records the finding of one capture under its cause: an open anomaly of the same cause
    /// about another capture of the partition is resolved first (the newer capture is what is
    /// judged now, and its severity may differ), so the open anomaly always names the capture
    /// it is about.
    #[allow(clippy::too_many_arguments)]
    pub async fn replace<C: ConnectionTrait>(
        &self,
        conn: &C,
        partition: &PartitionKey,
        stage: Option<Stage>,
        severity: Severity,
        category: Category,
        cause: &AnomalyCause,
        message: String,
        details: Value,
        capture_id: &str,
    ) -> PipelineResult<Recorded> {
        let open = anomalies::open_for(
            conn,
            self.domain,
            Some(partition),
            category,
            Some(cause.as_str()),
        )
        .await?;
        if open
            .iter()
            .any(|a| a.capture_id.as_deref() != Some(capture_id) || a.severity != severity.as_str())
        {
            anomalies::resolve_open(
                conn,
                self.domain,
                partition,
                category,
                cause.as_str(),
                &format!("superseded: capture {capture_id} is judged now"),
                self.run.now,
            )
            .await?;
        }
        self.once(
            conn,
            partition,
            stage,
            severity,
            category,
            cause,
            message,
            details,
            Some(capture_id),
        )
        .await
    }

    /// Resolves every open anomaly of `partition` with this category and cause, noting why.
    pub async fn resolve<C: ConnectionTrait>(
        &self,
        conn: &C,
        partition: &PartitionKey,
        category: Category,
        cause: &AnomalyCause,
        note: &str,
    ) -> PipelineResult<Vec<AnomalySummary>> {
        Ok(anomalies::resolve_open(
            conn,
            self.domain,
            partition,
            category,
            cause.as_str(),
            note,
            self.run.now,
        )
        .await?
        .iter()
        .map(AnomalySummary::resolved)
        .collect())
    }
}
