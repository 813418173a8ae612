//! What readiness, schedule inspection and the doctor read from the store, read once.
//!
//! A readiness evaluation needs the domain's schedules and the trading calendar, the latest
//! capture of every partition it covers, how far each got (the manifest), what their calcs
//! consumed (lineage) and whether that is still the latest upstream, the open anomalies touching
//! it and the verdict recorded last. [`Reads`] holds exactly that, loaded in a fixed, small number
//! of queries, and answers from memory:
//!
//! - [`Reads::for_partition`]: one partition (a readiness request). Every query is narrowed to
//!   the partition through an index, so its cost does not grow with the weeks stored before it.
//! - [`Reads::for_domain`]: every partition of a domain (the doctor over many weeks): the
//!   captures, manifest, lineage, open anomalies and verdicts of the domain in one query each,
//!   instead of a dozen queries per week.
//!
//! Both feed the same fact assembly ([`Reads::facts`]), so a verdict cannot depend on which one
//! was used.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use spine_model::{Category, Domain, PartitionKey, ReadyFor};
use spine_rules::TradingCalendar;
use spine_rules::readiness::{
    AnomalyFact, DependencyFact, PartitionFacts, ReadinessFacts, related,
};
use spine_store::anomalies::{self, Anomaly, AnomalyExt};
use spine_store::captures::{self, Capture};
use spine_store::lineage::{self, CalcInput};
use spine_store::manifest::{self, ManifestEntry};
use spine_store::readiness::Readiness;
use spine_store::schedules::Schedule;

use crate::schedules::{ExpectedStatus, ScheduleCheck};
use crate::{DomainPlugin, Engine, PipelineResult, RunContext};

/// The store's state as readiness and the doctor see it, for one partition or a whole domain.
pub struct Reads {
    domain: Domain,
    /// The domain's active schedules.
    schedules: Vec<Schedule>,
    /// The trading calendar over the dates the reads cover.
    calendar: TradingCalendar,
    /// The latest capture of every partition read, by canonical key (sorted).
    latest: Vec<Capture>,
    /// When each partition read was first captured, by canonical key (domain reads only).
    first_captured: HashMap<String, DateTime<Utc>>,
    /// Manifest rows by canonical key, in stage order.
    manifest: HashMap<String, Vec<ManifestEntry>>,
    /// What each latest capture's calcs consumed, by calc capture id.
    inputs: HashMap<String, Vec<CalcInput>>,
    /// The latest capture of each upstream (domain, canonical key) a calc consumed.
    upstream: HashMap<(String, String), Option<String>>,
    /// The unresolved anomalies read (of the partition, or of the whole domain), oldest first.
    open: Vec<Anomaly>,
    /// The current verdicts read, by (canonical key, use).
    current: HashMap<(String, String), Readiness>,
}

impl Reads {
    /// Reads what evaluating `partition` needs: about ten indexed queries, whatever the
    /// history.
    pub async fn for_partition(
        engine: &Engine,
        domain: &Domain,
        partition: &PartitionKey,
        plugin: &dyn DomainPlugin,
    ) -> PipelineResult<Reads> {
        let conn = engine.store().conn();
        let (schedules, calendar) = match plugin.business_date(partition) {
            Some(week) => (
                spine_store::schedules::list(conn, Some(domain), true).await?,
                crate::schedules::trading_calendar(engine.store(), week, week).await?,
            ),
            None => (Vec::new(), TradingCalendar::new(Vec::new())),
        };
        let latest = captures::latest_covered(conn, domain, partition).await?;
        let mut reads = Reads {
            domain: domain.clone(),
            schedules,
            calendar,
            latest,
            first_captured: HashMap::new(),
            manifest: HashMap::new(),
            inputs: HashMap::new(),
            upstream: HashMap::new(),
            open: anomalies::open_related(conn, domain, partition).await?,
            current: HashMap::new(),
        };
        reads.load_details(engine, false).await?;
        for r in spine_store::readiness::current_of(conn, domain, partition).await? {
            reads
                .current
                .insert((r.partition_key.clone(), r.ready_for.clone()), r);
        }
        Ok(reads)
    }

    /// Reads a whole domain, with the trading calendar over `from..=to`: one query per table
    /// (and per year of calendar), however many weeks the caller then examines. `open` is the
    /// domain's unresolved anomalies, when the caller already has them.
    pub async fn for_domain(
        engine: &Engine,
        domain: &Domain,
        from: NaiveDate,
        to: NaiveDate,
        open: Option<Vec<Anomaly>>,
    ) -> PipelineResult<Reads> {
        let conn = engine.store().conn();
        let all = captures::all_of(conn, domain).await?;
        let mut first_captured = HashMap::new();
        let mut latest: HashMap<String, Capture> = HashMap::new();
        for capture in all {
            first_captured
                .entry(capture.partition_key.clone())
                .or_insert(capture.captured_at);
            // In record order: the last one seen is the latest.
            latest.insert(capture.partition_key.clone(), capture);
        }
        let mut latest: Vec<Capture> = latest.into_values().collect();
        latest.sort_by(|a, b| a.partition_key.cmp(&b.partition_key));
        let open = match open {
            Some(open) => open,
            None => {
                anomalies::list(
                    conn,
                    &anomalies::AnomalyFilter {
                        domain: Some(domain.clone()),
                        unresolved_only: true,
                        ..Default::default()
                    },
                )
                .await?
            }
        };
        let mut reads = Reads {
            domain: domain.clone(),
            schedules: spine_store::schedules::list(conn, Some(domain), true).await?,
            calendar: crate::schedules::trading_calendar(engine.store(), from, to).await?,
            latest,
            first_captured,
            manifest: HashMap::new(),
            inputs: HashMap::new(),
            upstream: HashMap::new(),
            open,
            current: HashMap::new(),
        };
        reads.load_details(engine, true).await?;
        for r in spine_store::readiness::list_current(conn, Some(domain)).await? {
            reads
                .current
                .insert((r.partition_key.clone(), r.ready_for.clone()), r);
        }
        Ok(reads)
    }

    /// The manifest, lineage and upstream captures of the latest captures read: two queries,
    /// plus one per upstream domain (`whole_domains`: its every capture) or per upstream
    /// partition (its latest capture, through the index: a partition's few inputs).
    async fn load_details(&mut self, engine: &Engine, whole_domains: bool) -> PipelineResult<()> {
        let conn = engine.store().conn();
        let keys: Vec<String> = self
            .latest
            .iter()
            .map(|c| c.partition_key.clone())
            .collect();
        for row in manifest::stages_of(conn, &self.domain, &keys).await? {
            self.manifest
                .entry(row.partition_key.clone())
                .or_default()
                .push(row);
        }
        let ids: Vec<String> = self.latest.iter().map(|c| c.capture_id.clone()).collect();
        let mut upstream: BTreeSet<(String, String)> = BTreeSet::new();
        for input in lineage::inputs_of_many(conn, &ids).await? {
            upstream.insert((
                input.input_domain.clone(),
                input.input_partition_key.clone(),
            ));
            self.inputs
                .entry(input.calc_capture_id.clone())
                .or_default()
                .push(input);
        }
        if !whole_domains {
            for (d, key) in upstream {
                let latest =
                    captures::latest(conn, &Domain::parse(&d)?, &PartitionKey::parse(&key)?)
                        .await?
                        .map(|c| c.capture_id);
                self.upstream.insert((d, key), latest);
            }
            return Ok(());
        }
        // The latest capture of every upstream partition, one query per upstream domain.
        let domains: BTreeSet<&String> = upstream.iter().map(|(d, _)| d).collect();
        for name in domains {
            let upstream_domain = Domain::parse(name)?;
            let mut latest: HashMap<String, String> = HashMap::new();
            for c in captures::all_of(conn, &upstream_domain).await? {
                latest.insert(c.partition_key, c.capture_id);
            }
            for (d, key) in upstream.iter().filter(|(d, _)| d == name) {
                self.upstream
                    .insert((d.clone(), key.clone()), latest.get(key).cloned());
            }
        }
        Ok(())
    }

    /// The earliest week with a capture (what `schedules::earliest_week` answers).
    pub fn earliest_week(&self) -> PipelineResult<Option<NaiveDate>> {
        Ok(self
            .latest
            .iter()
            .filter_map(|c| PartitionKey::parse(&c.partition_key).ok()?.week_ending())
            .min())
    }

    /// The unresolved anomalies read.
    pub fn open(&self) -> &[Anomaly] {
        &self.open
    }

    /// The latest capture of every partition `scope` covers, by partition key.
    pub fn latest_covered(&self, scope: &PartitionKey) -> PipelineResult<Vec<&Capture>> {
        let mut out = Vec::new();
        for c in &self.latest {
            if scope.covers(&PartitionKey::parse(&c.partition_key)?) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The manifest rows of a partition, in stage order.
    pub fn stages(&self, partition: &PartitionKey) -> &[ManifestEntry] {
        self.manifest
            .get(&partition.canonical())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The current verdict of (partition, use), as recorded.
    pub fn current(&self, partition: &PartitionKey, ready_for: ReadyFor) -> Option<&Readiness> {
        self.current
            .get(&(partition.canonical(), ready_for.as_str().to_string()))
    }

    /// What `schedules::inspect` answers for the business dates `from..=to`, from memory
    /// (domain reads only: it needs each expected partition's first capture).
    pub fn inspect(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        run: &RunContext,
    ) -> PipelineResult<ScheduleCheck> {
        let mut out = ScheduleCheck::default();
        for schedule in &self.schedules {
            for expected in crate::schedules::expand(schedule, from, to, &self.calendar)? {
                let key = expected.partition.canonical();
                let first = self.first_captured.get(&key).copied();
                out.expected.push(ExpectedStatus {
                    schedule: schedule.pipeline.clone(),
                    partition_key: key,
                    business_date: expected.business_date,
                    due: expected.due,
                    first_captured_at: first,
                    status: crate::schedules::expected_state(first, expected.due, run),
                });
            }
        }
        Ok(out)
    }

    /// The readiness facts of (partition, use) at the run's clock.
    pub fn facts(
        &self,
        plugin: &dyn DomainPlugin,
        partition: &PartitionKey,
        ready_for: ReadyFor,
        run: &RunContext,
    ) -> PipelineResult<ReadinessFacts> {
        let domain = &self.domain;
        // 1. Expected partitions, from the schedules, for the evaluated week.
        let mut expected = Vec::new();
        let mut preliminary_hours: Option<i64> = None;
        if let Some(week) = plugin.business_date(partition) {
            for schedule in &self.schedules {
                let parts = crate::schedules::expand(schedule, week, week, &self.calendar)?;
                if parts.iter().any(|p| related(partition, &p.partition)) {
                    preliminary_hours =
                        preliminary_hours.max(schedule.preliminary_hours.map(i64::from));
                }
                expected.extend(parts.into_iter().map(|p| p.partition));
            }
        }
        // 2. Present partitions: the latest capture of each, and how far it got.
        let mut present = Vec::new();
        let mut dependencies = Vec::new();
        for capture in self.latest_covered(partition)? {
            let key = PartitionKey::parse(&capture.partition_key)?;
            present.push(PartitionFacts {
                partition: key.clone(),
                latest_capture_id: capture.capture_id.clone(),
                captured_at: capture.captured_at,
                furthest_stage: manifest::furthest_stage(self.stages(&key), &capture.capture_id),
                required_stages: plugin.required_stages().to_vec(),
                rows_accepted: Some(capture.rows_accepted),
            });
            // 4. Dependencies: what each calc consumed against what is latest now.
            for input in self.inputs.get(&capture.capture_id).into_iter().flatten() {
                let latest = self
                    .upstream
                    .get(&(
                        input.input_domain.clone(),
                        input.input_partition_key.clone(),
                    ))
                    .cloned()
                    .flatten();
                dependencies.push(DependencyFact {
                    calc_partition: key.clone(),
                    calc_table: input.calc_table.clone(),
                    input_domain: Domain::parse(&input.input_domain)?,
                    input_partition: PartitionKey::parse(&input.input_partition_key)?,
                    consumed_capture_id: input.input_capture_id.clone(),
                    latest_capture_id: latest,
                });
            }
        }
        // 3. Unresolved anomalies touching the partition.
        let mut open_anomalies = Vec::new();
        for a in &self.open {
            let key = a.partition()?;
            if key.as_ref().is_some_and(|k| !related(partition, k)) {
                continue;
            }
            // A notification that could not be delivered is about the channel, not the data: it
            // shows in doctor and /metrics but never changes whether a week can be trusted.
            if a.category == Category::Notification.as_str() {
                continue;
            }
            open_anomalies.push(AnomalyFact {
                id: a.id,
                severity: a.severity()?,
                category: a.category()?,
                partition: key,
                message: a.message.clone(),
            });
        }
        Ok(ReadinessFacts {
            domain: domain.clone(),
            partition: partition.clone(),
            ready_for,
            now: run.now,
            expected_partitions: expected,
            present,
            open_anomalies,
            dependencies,
            preliminary_hours,
        })
    }
}
