//! The FINRA OTC Transparency stages: file → RAW → NORMALIZED → CALC, one transaction per
//! stage, every capture, reject and stage recorded. The engine runs the lifecycle around them
//! (fetch, capture id, "unchanged", executions, the landing step).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_engine::anomaly::AnomalySummary;
use spine_engine::calendar as reference;
use spine_engine::capture::FetchedInput;
use spine_engine::domain::{
    CaptureDetail, CapturePlan, PlannedCapture, RecomputeOutcome, RecomputeResult, StagesOutcome,
};
use spine_engine::{Engine, PipelineError, PipelineResult, RunContext};
use spine_model::{IngestStatus, PartitionKey, Stage, Tier, WeekEnding};
use spine_store::capture_chunks;
use spine_store::captures::{self, Capture, CaptureOutcome, NewCapture};
use spine_store::finra_otc::{
    self as repo, CaptureCalcs, HhiRow, NormalizedRow, SymbolSummaryRow, TierSplitRow,
    VenueShareRow, VolumePerDayRow,
};
use spine_store::lineage::{self, NewCalcInput, NewDependency};
use spine_store::manifest::{self, StageRecord};
use spine_store::rejects::{self, NewReject};
use spine_store::{ConnectionTrait, Store};

use crate::background;
use crate::calcs::{self, WeekAccumulator, WeekCalcs};
use crate::detect;
use crate::domain;
use crate::parse::{
    FinraColumn, FinraReader, Line, ParseStats, PublicationLags, RawFields, ReaderOptions,
    StampCounts, derive_week_ending, dominant_last_update, escape_raw, implausible_last_update,
};

pub use crate::names::{CALC, INGEST, NORMALIZE};

/// Tables the calcs write.
pub const VOLUME_PER_DAY_TABLE: &str = "finra_otc_volume_per_day";

/// Rows buffered before an INSERT flush: large enough to amortize statements, small enough that
/// memory stays flat however big the file is.
const FLUSH_ROWS: usize = 20_000;
/// Rows read back per page when a stage reads the previous stage's table.
const PAGE_ROWS: u64 = 20_000;

/// How the week of a capture was determined: from the operator's `--week-ending`, or derived
/// from the file's `lastUpdateDate` and the tier's publication lag. Kept with the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum WeekDerivation {
    /// The operator said which week.
    Explicit {
        /// The week given.
        week_ending: NaiveDate,
        /// The week the file's stamp derives, when it differs from the one given: the file
        /// carries no week column, so it cannot contradict an earlier week (a revision is
        /// stamped later than its week's first publication), and both are kept for the audit.
        #[serde(skip_serializing_if = "Option::is_none")]
        derived_week_ending: Option<NaiveDate>,
        /// The file's dominant `lastUpdateDate`, when the weeks differ.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_update_date: Option<NaiveDate>,
        /// Why the given week was accepted, when the weeks differ.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Derived from the file.
    Derived {
        /// The week derived.
        week_ending: NaiveDate,
        /// The file's `lastUpdateDate`: its dominant stamp (the most frequent valid one).
        last_update_date: NaiveDate,
        /// The tier's publication lag used.
        publication_lag_days: u32,
        /// The rule, in words.
        rule: &'static str,
    },
}

impl WeekDerivation {
    /// `explicit` or `derived`.
    pub fn method(&self) -> &'static str {
        match self {
            WeekDerivation::Explicit { .. } => "explicit",
            WeekDerivation::Derived { .. } => "derived",
        }
    }
}

/// What a FINRA capture is, beyond what every capture reports.
#[derive(Debug, Clone, Serialize)]
pub struct FinraDetail {
    /// The tier.
    pub tier: Tier,
    /// The week covered.
    pub week_ending: NaiveDate,
    /// How the week was determined.
    pub week_derivation: WeekDerivation,
}

impl CaptureDetail for FinraDetail {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a FINRA detail serializes")
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// What the file says about itself: its dominant `lastUpdateDate` and the tier of its first
/// accepted row with that stamp.
struct FileIdentity {
    tier: Tier,
    /// The line the tier was read from.
    line: u64,
    /// The file's stamp: its most frequent valid `lastUpdateDate`, not the first row's, so one
    /// stray row cannot move the capture to another week.
    last_update: NaiveDate,
    /// How many lines carry each stamp.
    stamps: StampCounts,
}

fn open_file(path: &Path) -> PipelineResult<File> {
    File::open(path).map_err(|source| PipelineError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Opens the file with the expectations every pass over it must share: RAW and NORMALIZED's
/// second pass then accept exactly the same lines.
fn open(path: &Path, options: ReaderOptions) -> PipelineResult<FinraReader<File>> {
    Ok(FinraReader::with_options(open_file(path)?, options)?)
}

/// The expectations a capture's passes apply: the planned stamp and the partition's week.
fn reader_options(
    source_last_update: Option<NaiveDate>,
    week: NaiveDate,
) -> PipelineResult<ReaderOptions> {
    let week_ending = WeekEnding::new(week)
        .map_err(|e| PipelineError::Input(format!("the capture's week ending {e}")))?;
    Ok(ReaderOptions {
        expected_last_update: source_last_update,
        week_ending: Some(week_ending),
    })
}

/// Finds the file's dominant stamp (a fast pre-scan), then reads up to the first accepted row
/// with that stamp to learn the file's tier.
fn identify(path: &Path) -> PipelineResult<Option<FileIdentity>> {
    let Some((last_update, stamps)) = dominant_last_update(open_file(path)?)? else {
        return Ok(None);
    };
    let options = ReaderOptions {
        expected_last_update: Some(last_update),
        week_ending: None,
    };
    let mut reader = open(path, options)?;
    while let Some(line) = reader.next_line() {
        if let Line::Accepted(row) = line? {
            return Ok(Some(FileIdentity {
                tier: row.tier(),
                line: row.line_number(),
                last_update,
                stamps,
            }));
        }
    }
    Ok(None)
}

/// Decides the partition from the file and the operator's flags (`hint`); a contradiction is an
/// error.
fn resolve_partition(
    path: &Path,
    hint_tier: Option<Tier>,
    hint_week: Option<NaiveDate>,
    lags: &PublicationLags,
    identity: Option<&FileIdentity>,
) -> PipelineResult<(Tier, NaiveDate, WeekDerivation)> {
    let file = path.display();
    let tier = match (hint_tier, identity) {
        (Some(flag), Some(id)) if flag != id.tier => {
            return Err(PipelineError::Input(format!(
                "--tier {flag} contradicts {file}: its rows are tier {} (first valid row at line {})",
                id.tier, id.line
            )));
        }
        (_, Some(id)) => id.tier,
        (Some(flag), None) => flag,
        (None, None) => {
            return Err(PipelineError::Input(format!(
                "{file} has no valid row to tell its tier from; pass --tier and --week-ending"
            )));
        }
    };
    if let Some(week) = hint_week {
        if let Err(e) = WeekEnding::new(week) {
            return Err(PipelineError::Input(format!("--week-ending {e}")));
        }
        if let Some(id) = identity
            && let Ok(friday) = WeekEnding::new(week)
            && let Some(why) = implausible_last_update(id.last_update, friday)
        {
            return Err(PipelineError::Input(format!(
                "--week-ending {week} contradicts {file}: its {why} (the stamp of {} of its lines)",
                id.stamps.lines_with(id.last_update)
            )));
        }
        let derived = identity.map(|id| (derive_week_ending(id.last_update, tier, lags), id));
        let derivation = match derived {
            Some((derived, id)) if derived != week => WeekDerivation::Explicit {
                week_ending: week,
                derived_week_ending: Some(derived),
                last_update_date: Some(id.last_update),
                reason: Some(format!(
                    "the file carries no week: its lastUpdateDate {} derives {derived} with the \
                     tier's {}-day publication lag, and a revision of an earlier week is stamped \
                     later than its first publication, so the week given is kept",
                    id.last_update,
                    lags.for_tier(tier)
                )),
            },
            _ => WeekDerivation::Explicit {
                week_ending: week,
                derived_week_ending: None,
                last_update_date: None,
                reason: None,
            },
        };
        return Ok((tier, week, derivation));
    }
    let Some(id) = identity else {
        return Err(PipelineError::Input(format!(
            "{file} has no valid row to derive the week from; pass --week-ending"
        )));
    };
    let week = derive_week_ending(id.last_update, tier, lags);
    Ok((
        tier,
        week,
        WeekDerivation::Derived {
            week_ending: week,
            last_update_date: id.last_update,
            publication_lag_days: lags.for_tier(tier),
            rule: "the latest Friday F with F + publication lag <= lastUpdateDate",
        },
    ))
}

/// Where the RAW stage's rejects belong: one per run, so each reject names only its own facts.
/// Owned, because RAW parses on its own thread ([`background`]).
struct RejectContext {
    partition: PartitionKey,
    capture_id: String,
    locator: String,
    execution_id: Option<String>,
    now: DateTime<Utc>,
}

impl RejectContext {
    fn reject(
        &self,
        line_number: u64,
        reason_code: &str,
        detail: String,
        raw_line: String,
    ) -> NewReject {
        NewReject {
            domain: domain(),
            partition: self.partition.clone(),
            stage: Stage::Raw,
            capture_id: self.capture_id.clone(),
            line_number: Some(line_number as i64),
            reason_code: reason_code.to_string(),
            detail,
            raw_line,
            source_locator: Some(self.locator.clone()),
            execution_id: self.execution_id.clone(),
            created_at: self.now,
        }
    }
}

/// What RAW's parsing thread hands to the stage's transaction.
enum RawBatch {
    /// This many more lines were accepted (for the progress bar: the accepted lines themselves
    /// are kept as the received bytes, see `spine_engine::received`).
    Accepted(u64),
    /// Rejected lines, for `core_rejects`.
    Rejected(Vec<NewReject>),
}

/// What RAW's parsing thread found once the whole file was read.
struct RawParsed {
    stats: ParseStats,
    /// Accepted lines of another tier than the capture's (rejected as `TIER_MISMATCH`).
    tier_mismatches: u64,
    /// The lines accepted, for NORMALIZED's second pass to check against.
    stored: StoredLines,
}

/// RAW's parsing: every line of the file, accepted or rejected (rejects in batches of
/// [`FLUSH_ROWS`]), with a digest of the accepted lines. Runs on its own thread while the stage's
/// transaction stores the previous batch and the file's compressed chunks.
fn parse_raw(
    mut reader: FinraReader<File>,
    tier: Tier,
    rejects_ctx: &RejectContext,
    out: &background::Batches<RawBatch>,
) -> PipelineResult<RawParsed> {
    let mut accepted = 0u64;
    let mut reject_buf = Vec::new();
    let mut tier_mismatches = 0u64;
    let mut digest = LineDigest::new();
    while let Some(line) = reader.next_line() {
        match line? {
            Line::Accepted(row) if row.tier() != tier => {
                tier_mismatches += 1;
                reject_buf.push(rejects_ctx.reject(
                    row.line_number(),
                    "TIER_MISMATCH",
                    format!(
                        "tierDescription `{}` is not this file's tier {tier}",
                        row.tier().finra_description()
                    ),
                    escape_raw(row.source_line()),
                ));
            }
            Line::Accepted(row) => {
                digest.add(row.line_number(), row.raw().line());
                accepted += 1;
                if accepted as usize >= FLUSH_ROWS {
                    if !out.send(RawBatch::Accepted(accepted)) {
                        break;
                    }
                    accepted = 0;
                }
            }
            Line::Rejected(r) => {
                reject_buf.push(rejects_ctx.reject(
                    r.line_number,
                    r.reason.code(),
                    r.detail,
                    r.raw_line,
                ));
            }
        }
        if reject_buf.len() >= FLUSH_ROWS
            && !out.send(RawBatch::Rejected(std::mem::take(&mut reject_buf)))
        {
            break;
        }
    }
    for batch in [RawBatch::Accepted(accepted), RawBatch::Rejected(reject_buf)] {
        out.send(batch);
    }
    Ok(RawParsed {
        stats: reader.stats(),
        tier_mismatches,
        stored: digest.finish(),
    })
}

/// Records in the capture's metadata, and tells the operator, what the parser did to the data
/// it accepted: fields it unquoted and descriptive fields it decoded as Windows-1252 (with the
/// first lines). Nothing is added for a file that needed neither, so ordinary captures keep
/// their metadata as it was.
fn with_decoding_notes(
    metadata: Option<serde_json::Value>,
    stats: &ParseStats,
    notes: &mut Vec<String>,
) -> Option<serde_json::Value> {
    if stats.unquoted_fields == 0 && stats.repaired_rows == 0 {
        return metadata;
    }
    if stats.unquoted_fields > 0 {
        notes.push(format!(
            "{} field(s) wholly enclosed in double quotes were unquoted (FINRA does not quote)",
            stats.unquoted_fields
        ));
    }
    if stats.repaired_rows > 0 {
        let lines: Vec<String> = stats.repaired_lines.iter().map(u64::to_string).collect();
        notes.push(format!(
            "{} row(s) had a descriptive field that was not UTF-8, decoded as Windows-1252 and \
             kept (line(s) {}{})",
            stats.repaired_rows,
            lines.join(", "),
            if stats.repaired_rows > stats.repaired_lines.len() as u64 {
                ", …"
            } else {
                ""
            }
        ));
    }
    let mut metadata = match metadata {
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => serde_json::Map::from_iter([("plan".to_string(), other)]),
        None => serde_json::Map::new(),
    };
    metadata.insert(
        "decoding".to_string(),
        json!({
            "unquoted_fields": stats.unquoted_fields,
            "repaired_rows": stats.repaired_rows,
            "repaired_lines": stats.repaired_lines,
        }),
    );
    Some(serde_json::Value::Object(metadata))
}

/// A digest of the lines RAW stored (line numbers and text, in order): NORMALIZED re-reads the
/// file rather than the RAW table, and this proves it read the very lines RAW stored (a local
/// file could be rewritten between the two passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredLines {
    count: i64,
    digest: u64,
}

/// Accumulates a [`StoredLines`].
struct LineDigest {
    hasher: foldhash::quality::FoldHasher<'static>,
    count: i64,
}

impl LineDigest {
    fn new() -> LineDigest {
        use std::hash::BuildHasher;
        LineDigest {
            hasher: foldhash::quality::FixedState::with_seed(0x5350_494e_455f_5241).build_hasher(),
            count: 0,
        }
    }

    fn add(&mut self, line_number: u64, line: &str) {
        use std::hash::Hasher;
        self.hasher.write_u64(line_number);
        self.hasher.write(line.as_bytes());
        self.hasher.write_u8(0xff);
        self.count += 1;
    }

    fn finish(&self) -> StoredLines {
        use std::hash::Hasher;
        StoredLines {
            count: self.count,
            digest: self.hasher.finish(),
        }
    }
}

/// Reads the file far enough to say which partition it is: its dominant `lastUpdateDate` and the
/// tier of its first valid row, checked against the operator's `--tier` / `--week-ending`
/// (`hint`).
pub fn plan(
    input: &FetchedInput,
    hint: &PartitionKey,
    lags: &PublicationLags,
) -> PipelineResult<CapturePlan> {
    let path = input.file()?;
    let hint_tier = match hint.get(PartitionKey::TIER) {
        Some(t) => Some(t.parse::<Tier>()?),
        None => None,
    };
    let hint_week = match hint.get(PartitionKey::WEEK_ENDING) {
        Some(w) => Some(NaiveDate::parse_from_str(w, "%Y-%m-%d").map_err(|_| {
            PipelineError::Input(format!("--week-ending `{w}` is not a date (YYYY-MM-DD)"))
        })?),
        None => None,
    };
    let identity = identify(path)?;
    let (tier, week_ending, derivation) =
        resolve_partition(path, hint_tier, hint_week, lags, identity.as_ref())?;
    Ok(CapturePlan {
        partition: PartitionKey::week_tier(week_ending, tier),
        source_last_update: identity.as_ref().map(|i| i.last_update),
        metadata: Some(json!({"week_derivation": derivation})),
        detail: Some(Arc::new(FinraDetail {
            tier,
            week_ending,
            week_derivation: derivation,
        })),
    })
}

/// Finishes a capture that stopped after `stopped_at` (RAW or NORMALIZED): NORMALIZED from its
/// stored RAW lines when it stopped after RAW, then CALC.
pub async fn resume(
    engine: &Engine,
    capture: &Capture,
    stopped_at: Option<Stage>,
    run: &RunContext,
) -> PipelineResult<StagesOutcome> {
    let store = engine.store();
    let mut report = StagesOutcome::new(IngestStatus::Resumed);
    report.rows_read = capture.rows_read;
    report.rows_accepted = capture.rows_accepted;
    report.rows_rejected = capture.rows_rejected;
    report.supersedes = capture.supersedes_capture_id.clone();
    report.stage = stopped_at;
    let calcs = match stopped_at {
        Some(Stage::Raw) | None => {
            match normalize_from(store, capture, NormalizeSource::Raw, run).await {
                Ok(n) => {
                    report.anomalies.extend(n.anomalies);
                    report.stage = Some(Stage::Normalized);
                    Some(n.calcs)
                }
                Err(PipelineError::BusinessRule { anomaly_id, .. }) => {
                    report.status = IngestStatus::Failed;
                    if let Ok(a) = spine_store::anomalies::get(store.conn(), anomaly_id).await {
                        report.anomalies.push(AnomalySummary::opened(&a));
                    }
                    report.notes.push(
                        "NORMALIZED failed on a blocking business rule: nothing downstream was \
                     computed from this capture"
                            .to_string(),
                    );
                    return Ok(report);
                }
                Err(e) => return Err(e),
            }
        }
        Some(_) => None,
    };
    run.checkpoint("CALC")?;
    let outcome = calc(engine, capture, calcs, run).await?;
    report.anomalies.extend(outcome.anomalies);
    report.notes.extend(outcome.remarks);
    if outcome.notes.is_empty() {
        report.stage = Some(Stage::Calc);
    }
    report.notes.extend(outcome.notes);
    run.progress.finish();
    Ok(report)
}

/// Captures one FINRA file: every stage, each in its own transaction. A capture refused by a
/// blocking business rule is an outcome with status `Failed` (its RAW stays, as evidence).
pub async fn capture(
    engine: &Engine,
    planned: &PlannedCapture,
    input: &FetchedInput,
    run: &RunContext,
) -> PipelineResult<StagesOutcome> {
    let store = engine.store();
    let path = input.file()?;
    let partition = planned.plan.partition.clone();
    let (_, tier, week) = split_partition(&partition, &planned.capture_id)?;
    let capture_id = planned.capture_id.clone();
    let mut new_capture = NewCapture {
        domain: domain(),
        partition: partition.clone(),
        content_hash: input.content_hash.clone(),
        source_locator: input.locator.clone(),
        source_last_update: planned.plan.source_last_update,
        captured_at: run.now,
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        metadata: planned.plan.metadata.clone(),
    };
    let mut report = StagesOutcome::new(IngestStatus::Ingested);
    report.detail = planned.plan.detail.clone();

    // RAW: the received bytes, rejects and the capture row, atomically. The file is parsed on
    // one thread and cut into compressed chunks on another while this transaction stores what
    // they hand over.
    let options = reader_options(planned.plan.source_last_update, week)?;
    let txn = store.begin_stage().await?;
    let reader = open(path, options)?;
    let chunk_path = path.to_path_buf();
    let content_hash = input.content_hash.clone();
    let mut chunker = background::spawn(move |out| {
        spine_engine::received::chunk_file(&chunk_path, &content_hash, |chunk| out.send(chunk))
    });
    run.progress.phase("RAW");
    let rejects_ctx = RejectContext {
        partition: partition.clone(),
        capture_id: capture_id.clone(),
        locator: input.locator.clone(),
        execution_id: run.execution_id.clone(),
        now: run.now,
    };
    let mut parser = background::spawn(move |out| parse_raw(reader, tier, &rejects_ctx, out));
    while let Some(batch) = parser.next().await {
        match batch {
            RawBatch::Accepted(n) => run.progress.inc(n),
            RawBatch::Rejected(rows) => {
                rejects::insert_many(&txn, rows).await?;
            }
        }
        while let Some(chunk) = chunker.try_next() {
            capture_chunks::insert(&txn, chunk).await?;
        }
    }
    while let Some(chunk) = chunker.next().await {
        capture_chunks::insert(&txn, chunk).await?;
    }
    let chunked = chunker.finish().await?;
    if chunked.content_hash != input.content_hash {
        return Err(PipelineError::Input(format!(
            "{} changed while it was being ingested (SHA-256 {} when planned, {} when stored); \
             nothing of capture {capture_id} was written",
            path.display(),
            input.content_hash,
            chunked.content_hash
        )));
    }
    let RawParsed {
        stats,
        tier_mismatches,
        stored,
    } = parser.finish().await?;
    report.rows_read = stats.rows_read as i64;
    report.rows_rejected = (stats.rejected + tier_mismatches) as i64;
    report.rows_accepted = stats.accepted as i64 - tier_mismatches as i64;
    report.rejects_by_reason = stats
        .rejects_by_reason
        .iter()
        .map(|(reason, n)| (reason.code().to_string(), *n))
        .collect();
    if tier_mismatches > 0 {
        report
            .rejects_by_reason
            .insert("TIER_MISMATCH".into(), tier_mismatches);
    }
    let metadata = with_decoding_notes(new_capture.metadata.take(), &stats, &mut report.notes);
    let outcome = captures::record(
        &txn,
        NewCapture {
            rows_read: report.rows_read,
            rows_accepted: report.rows_accepted,
            rows_rejected: report.rows_rejected,
            metadata,
            ..new_capture
        },
    )
    .await?;
    if let CaptureOutcome::Revision { previous, .. } = &outcome {
        report.status = IngestStatus::Revised;
        report.supersedes = Some(previous.capture_id.clone());
    }
    record_stage(
        &txn,
        &partition,
        Stage::Raw,
        &capture_id,
        report.rows_accepted,
        run,
    )
    .await?;
    txn.commit().await?;
    report.stage = Some(Stage::Raw);

    let capture = outcome.capture().clone();
    // A stop request (SIGTERM, Ctrl-C) ends the run here, between committed stages.
    run.checkpoint("NORMALIZED")?;
    let source = NormalizeSource::File {
        path,
        stored,
        options,
    };
    let normalized = match normalize_from(store, &capture, source, run).await {
        Ok(n) => n,
        Err(PipelineError::BusinessRule {
            message,
            anomaly_id,
            ..
        }) => {
            run.progress.finish();
            report.status = IngestStatus::Failed;
            if let Ok(a) = spine_store::anomalies::get(store.conn(), anomaly_id).await {
                report.anomalies.push(AnomalySummary::opened(&a));
            } else {
                report.notes.push(message);
            }
            report.notes.push(
                "NORMALIZED failed on a blocking business rule: nothing downstream was computed \
                 from this capture"
                    .to_string(),
            );
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.anomalies.extend(normalized.anomalies);
    report.stage = Some(Stage::Normalized);
    run.checkpoint("CALC")?;
    let outcome = calc(engine, &capture, Some(normalized.calcs), run).await?;
    report.anomalies.extend(outcome.anomalies);
    let notes = outcome.notes;
    report.notes.extend(outcome.remarks);
    run.progress.finish();
    if notes.is_empty() {
        report.stage = Some(Stage::Calc);
    }
    report.notes.extend(notes);
    Ok(report)
}

async fn record_stage<C: ConnectionTrait>(
    conn: &C,
    partition: &PartitionKey,
    stage: Stage,
    capture_id: &str,
    rows: i64,
    run: &RunContext,
) -> PipelineResult<()> {
    manifest::record_stage(
        conn,
        StageRecord {
            domain: domain(),
            partition: partition.clone(),
            stage,
            capture_id: capture_id.to_string(),
            row_count: rows,
            metrics: None,
            execution_id: run.execution_id.clone(),
            batch_id: None,
            updated_at: run.now,
        },
    )
    .await?;
    Ok(())
}

fn capture_partition(capture: &Capture) -> PipelineResult<(PartitionKey, Tier, NaiveDate)> {
    let partition =
        PartitionKey::parse(&capture.partition_key).map_err(|e| PipelineError::Store(e.into()))?;
    split_partition(&partition, &capture.capture_id)
}

fn split_partition(
    partition: &PartitionKey,
    capture_id: &str,
) -> PipelineResult<(PartitionKey, Tier, NaiveDate)> {
    let (Some(tier), Some(week)) = (partition.tier(), partition.week_ending()) else {
        return Err(PipelineError::Input(format!(
            "capture {capture_id} has partition {partition} without a tier and week"
        )));
    };
    Ok((partition.clone(), tier, week))
}

/// NORMALIZED: reads the capture's RAW rows page by page, writes typed rows, and accumulates the
/// calcs on the way (so an end-to-end run reads the rows back only once). Re-running it replaces
/// the capture's NORMALIZED rows rather than adding a second copy.
pub async fn normalize(
    store: &Store,
    capture: &Capture,
    run: &RunContext,
) -> PipelineResult<Normalized> {
    normalize_from(store, capture, NormalizeSource::Raw, run).await
}

/// Where NORMALIZED reads a capture's accepted lines from.
enum NormalizeSource<'a> {
    /// What RAW kept: the received bytes (restored to a temporary file, checked against the
    /// capture's hash, and re-parsed with RAW's options), or the `finra_otc_raw` table for
    /// captures made before the bytes were kept. A standalone `spine run finra_otc.normalize`
    /// and the resumption of a capture that stopped after RAW.
    Raw,
    /// The file RAW was loaded from a moment ago, re-parsed in a second streaming pass: parsing
    /// costs far less than reading a million rows back from the database. `stored` is what RAW
    /// stored; a file that no longer yields exactly those lines fails the stage. `options` are
    /// RAW's, so both passes accept the same lines.
    File {
        path: &'a Path,
        stored: StoredLines,
        options: ReaderOptions,
    },
}

/// Types rows on their way into NORMALIZED, accumulating the calcs and the business-rule
/// findings on the way.
struct Normalizer {
    acc: WeekAccumulator,
    findings: detect::RuleFindings,
    range: detect::TradeSizeRange,
}

impl Normalizer {
    fn row(
        &mut self,
        line_number: i64,
        raw: &RawFields,
        shares: i64,
        trades: i64,
        last_update: NaiveDate,
    ) -> PipelineResult<NormalizedRow> {
        let symbol = raw.get(FinraColumn::IssueSymbolIdentifier);
        let mpid = raw.get(FinraColumn::Mpid);
        self.findings
            .check(line_number, symbol, mpid, shares, trades, self.range);
        self.acc.push_values(symbol, mpid, shares, trades)?;
        Ok(NormalizedRow {
            line_number,
            symbol: symbol.to_string(),
            mpid: mpid.to_string(),
            total_shares: shares,
            total_trades: trades,
            last_update_date: last_update,
        })
    }
}

/// NORMALIZED's second pass over the file RAW was loaded from: exactly the lines RAW stored
/// (accepted, of the capture's tier), typed, in batches of [`FLUSH_ROWS`]. Runs on its own
/// thread while the stage's transaction stores the previous batch; returns the normalizer (with
/// the week's calcs) and what it read, for the caller to check against what RAW stored.
fn parse_normalized(
    mut reader: FinraReader<File>,
    tier: Tier,
    mut n: Normalizer,
    out: &background::Batches<Vec<NormalizedRow>>,
) -> PipelineResult<(Normalizer, StoredLines)> {
    let mut digest = LineDigest::new();
    let mut buf = Vec::with_capacity(FLUSH_ROWS);
    while let Some(line) = reader.next_line() {
        let Line::Accepted(row) = line? else { continue };
        if row.tier() != tier {
            continue;
        }
        digest.add(row.line_number(), row.raw().line());
        buf.push(n.row(
            row.line_number() as i64,
            row.raw(),
            row.shares(),
            row.trades(),
            row.last_update(),
        )?);
        if buf.len() >= FLUSH_ROWS
            && !out.send(std::mem::replace(&mut buf, Vec::with_capacity(FLUSH_ROWS)))
        {
            break;
        }
    }
    out.send(buf);
    Ok((n, digest.finish()))
}

async fn normalize_from(
    store: &Store,
    capture: &Capture,
    source: NormalizeSource<'_>,
    run: &RunContext,
) -> PipelineResult<Normalized> {
    let (partition, tier, week) = capture_partition(capture)?;
    let txn = store.begin_stage().await?;
    let mut n = Normalizer {
        acc: WeekAccumulator::new(week, tier)?,
        findings: detect::RuleFindings::default(),
        range: detect::TradeSizeRange::default(),
    };
    let mut written = 0i64;
    run.progress.phase("NORMALIZED");
    // A re-run replaces the capture's rows (in this transaction: all or nothing).
    repo::delete_normalized(&txn, &capture.capture_id).await?;
    // The received bytes, when RAW kept them: re-parsed exactly as the ingest's second pass,
    // and checked to yield as many lines as RAW accepted (the bytes are checked against the
    // capture's hash as they are restored, and the same bytes with the same options accept the
    // same lines).
    let restored = match source {
        NormalizeSource::Raw => {
            match spine_engine::received::restore(&txn, &capture.content_hash).await? {
                Some(file) => Some((
                    file,
                    reader_options(capture.source_last_update, week)?,
                    StoredLines {
                        count: capture.rows_accepted,
                        digest: 0,
                    },
                )),
                None => None,
            }
        }
        NormalizeSource::File { .. } => None,
    };
    let source = match &restored {
        Some((file, options, stored)) => NormalizeSource::File {
            path: file.path(),
            stored: *stored,
            options: *options,
        },
        None => source,
    };
    match source {
        NormalizeSource::Raw => {
            // A capture made before the received bytes were kept: its lines are rows of
            // `finra_otc_raw`.
            let mut after = 0i64;
            loop {
                let page = repo::raw_page(&txn, &capture.capture_id, after, PAGE_ROWS).await?;
                let Some(last) = page.last() else { break };
                after = last.line_number;
                let mut rows = Vec::with_capacity(page.len());
                for raw in page {
                    // RAW holds only lines the parser accepted; re-typing them cannot fail unless
                    // the table was edited by hand, which is worth a loud error rather than a
                    // silent skip.
                    let line_number = raw.line_number;
                    let typed = typed_raw(raw.raw_line).map_err(|detail| {
                        PipelineError::Input(format!(
                            "RAW row at line {line_number} of capture {} no longer validates: {detail}",
                            capture.capture_id
                        ))
                    })?;
                    rows.push(n.row(
                        line_number,
                        &typed.fields,
                        typed.shares,
                        typed.trades,
                        typed.last_update,
                    )?);
                }
                written += rows.len() as i64;
                repo::insert_normalized(&txn, capture.id, rows).await?;
            }
        }
        NormalizeSource::File {
            path,
            stored,
            options,
        } => {
            let reader = open(path, options)?;
            let mut parser = background::spawn(move |out| parse_normalized(reader, tier, n, out));
            while let Some(rows) = parser.next().await {
                written += rows.len() as i64;
                repo::insert_normalized(&txn, capture.id, rows).await?;
            }
            let (parsed, read) = parser.finish().await?;
            n = parsed;
            if restored.is_some() && read.count != stored.count {
                return Err(PipelineError::Input(format!(
                    "the received bytes of capture {} yield {} accepted lines where RAW accepted \
                     {}; NORMALIZED was not written",
                    capture.capture_id, read.count, stored.count
                )));
            }
            if restored.is_none() && read != stored {
                return Err(PipelineError::Input(format!(
                    "{} changed while it was being ingested: it no longer holds the {} lines RAW \
                     stored for capture {}; NORMALIZED was not written (RAW is complete: run \
                     `spine run {NORMALIZE}` to normalize from it)",
                    path.display(),
                    stored.count,
                    capture.capture_id
                )));
            }
        }
    }
    let Normalizer {
        acc,
        findings,
        range,
    } = n;
    if findings.trades_without_shares > 0 {
        // A blocking rule: nothing of NORMALIZED stays, and nothing downstream is computed.
        drop(txn);
        let (critical, _) = detect::business_rules(
            store.conn(),
            &partition,
            &capture.capture_id,
            &findings,
            range,
            run,
        )
        .await?;
        let a = critical.expect("trades without shares always records a CRITICAL anomaly");
        return Err(PipelineError::BusinessRule {
            stage: Stage::Normalized,
            capture_id: capture.capture_id.clone(),
            message: a.message.clone(),
            anomaly_id: a.id,
        });
    }
    // This capture passed the blocking rule: close what an earlier capture of the partition
    // opened (and the trade-size warning, when this one has no outliers).
    let note = format!(
        "resolved automatically: capture {} of the partition passed the rule at {}",
        capture.capture_id,
        run.now.to_rfc3339()
    );
    let mut cleared = vec![detect::cause::TRADES_WITHOUT_SHARES];
    if findings.trade_size_outliers == 0 {
        cleared.push(detect::cause::TRADE_SIZE);
    }
    let mut resolved = Vec::new();
    let domain = domain();
    let detector = spine_engine::anomaly::Detector {
        domain: &domain,
        pipeline: INGEST,
        run,
    };
    for cause_key in cleared {
        resolved.extend(
            detector
                .resolve(
                    &txn,
                    &partition,
                    spine_model::Category::BusinessRule,
                    &cause_key,
                    &note,
                )
                .await?,
        );
    }
    // Warnings are recorded with the stage, atomically.
    let (_, warnings) =
        detect::business_rules(&txn, &partition, &capture.capture_id, &findings, range, run)
            .await?;
    record_stage(
        &txn,
        &partition,
        Stage::Normalized,
        &capture.capture_id,
        written,
        run,
    )
    .await?;
    txn.commit().await?;
    resolved.extend(warnings);
    Ok(Normalized {
        calcs: acc.finish(),
        anomalies: resolved,
    })
}

/// What NORMALIZED produced: the accumulated calcs and the anomalies it recorded.
#[derive(Debug)]
pub struct Normalized {
    /// The calcs accumulated while normalizing, for CALC.
    pub calcs: WeekCalcs,
    /// Anomalies recorded (business-rule warnings) or resolved.
    pub anomalies: Vec<AnomalySummary>,
}

/// A stored RAW line split into its fields, with its typed quantities and date.
struct Typed {
    fields: RawFields,
    shares: i64,
    trades: i64,
    last_update: NaiveDate,
}

fn typed_raw(line: String) -> Result<Typed, String> {
    let fields = RawFields::from_line(line)
        .ok_or_else(|| "the stored line does not have 8 `|`-separated fields".to_string())?;
    let quantity = |column: FinraColumn| {
        let text = fields.get(column);
        text.parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| format!("{column} `{text}` is not a non-negative whole number"))
    };
    let shares = quantity(FinraColumn::TotalWeeklyShareQuantity)?;
    let trades = quantity(FinraColumn::TotalWeeklyTradeCount)?;
    let date = fields.get(FinraColumn::LastUpdateDate);
    let last_update = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("lastUpdateDate `{date}` is not a date"))?;
    Ok(Typed {
        fields,
        shares,
        trades,
        last_update,
    })
}

/// Accumulates the calcs of a capture from its NORMALIZED rows (for a standalone CALC run).
async fn calcs_from_normalized(store: &Store, capture: &Capture) -> PipelineResult<WeekCalcs> {
    let (_, tier, week) = capture_partition(capture)?;
    let mut acc = WeekAccumulator::new(week, tier)?;
    let mut after = 0i64;
    loop {
        let page =
            repo::normalized_page(store.conn(), &capture.capture_id, after, PAGE_ROWS).await?;
        let Some(last) = page.last() else { break };
        after = last.line_number;
        for row in &page {
            acc.push_values(&row.symbol, &row.mpid, row.total_shares, row.total_trades)?;
        }
    }
    Ok(acc.finish())
}

/// CALC: writes the analytics of one capture and their lineage, then refreshes the week's tier
/// split. Returns notes for the operator; empty when every calc was computed (and the CALC
/// stage recorded).
pub async fn calc(
    engine: &Engine,
    capture: &Capture,
    calcs: Option<WeekCalcs>,
    run: &RunContext,
) -> PipelineResult<CalcOutcome> {
    let store = engine.store();
    let now = run.now;
    run.progress.phase("CALC");
    let (partition, tier, week) = capture_partition(capture)?;
    let week_calcs = match calcs {
        Some(c) => c,
        None => calcs_from_normalized(store, capture).await?,
    };
    let mut notes = Vec::new();
    let mut recorded = Vec::new();
    // Facts read before the transaction (SQLite has one connection; the transaction holds it).
    let calendar_input = reference::trading_days_for_week(store.conn(), week).await?;
    let history = detect::series_history(store, tier, week, 12).await?;
    let venue_history: Vec<spine_rules::baseline::WeekObservation> = history
        .iter()
        .map(detect::SeriesObservation::venue_week)
        .collect();
    let previous_counts = match &capture.supersedes_capture_id {
        Some(previous) => {
            let (symbols, venues) = repo::calc_counts(store.conn(), previous).await?;
            (venues > 0).then(|| (previous.clone(), symbols, venues))
        }
        None => None,
    };
    let count_facts = detect::CountFacts {
        current: (
            week_calcs.symbol_summaries.len() as u64,
            week_calcs.venue_shares.len() as u64,
        ),
        previous: previous_counts,
        history,
    };
    let revision = match &capture.supersedes_capture_id {
        Some(previous) => {
            let hhi: std::collections::BTreeMap<&str, f64> = week_calcs
                .concentrations
                .iter()
                .map(|c| (c.symbol.as_str(), c.hhi))
                .collect();
            let new = week_calcs
                .symbol_summaries
                .iter()
                .map(|s| {
                    (
                        s.symbol.clone(),
                        spine_rules::revision::SymbolStats {
                            total_shares: s.total_shares,
                            hhi: hhi.get(s.symbol.as_str()).copied().unwrap_or(0.0),
                        },
                    )
                })
                .collect();
            let old = detect::symbol_stats(store, previous).await?;
            Some(detect::revision_diff(
                previous,
                &capture.capture_id,
                &old,
                &new,
            ))
        }
        None => None,
    };
    let already_revised = match &revision {
        Some(_) => spine_store::anomalies::list(
            store.conn(),
            &spine_store::anomalies::AnomalyFilter {
                capture_id: Some(capture.capture_id.clone()),
                category: Some(spine_model::Category::Freshness),
                ..Default::default()
            },
        )
        .await?
        .iter()
        .any(|a| a.cause.as_deref() == Some(detect::cause::REVISION.as_str())),
        None => true,
    };

    // The week's tier split reads every tier's latest calcs: CALCs of two tiers of one week take
    // turns, so the split always agrees with the captures it names.
    let week_lock = engine
        .lock_partition(&domain(), &PartitionKey::week(week))
        .await?;
    let txn = store.begin_stage().await?;
    repo::replace_capture_calcs(
        &txn,
        &capture.capture_id,
        week,
        tier,
        // Rows are built as the store consumes them, one statement's worth at a time, never
        // every table's rows at once.
        CaptureCalcs {
            summary: week_calcs.symbol_summaries.iter().map(summary_row),
            venue_share: week_calcs.venue_shares.iter().map(venue_share_row),
            hhi: week_calcs.concentrations.iter().map(hhi_row),
        },
    )
    .await?;
    register_dependencies(&txn, now).await?;
    match calendar_input {
        Some(input) => {
            let rows =
                calcs::volume_per_day_iter(&week_calcs.symbol_summaries, input.trading_days)?.map(
                    |v| VolumePerDayRow {
                        symbol: v.symbol,
                        total_shares: v.total_shares,
                        trading_days: v.trading_days as i32,
                        shares_per_day: v.shares_per_day,
                    },
                );
            repo::replace_volume_per_day(
                &txn,
                &capture.capture_id,
                week,
                tier,
                &input.capture_id,
                rows,
            )
            .await?;
            lineage::record_calc_input(
                &txn,
                NewCalcInput {
                    calc_domain: domain(),
                    calc_table: VOLUME_PER_DAY_TABLE.to_string(),
                    calc_partition: partition.clone(),
                    calc_capture_id: capture.capture_id.clone(),
                    input_domain: reference::domain(),
                    input_table: Some(reference::TRADING_DAYS_TABLE.to_string()),
                    input_partition: input.partition.clone(),
                    input_capture_id: input.capture_id.clone(),
                    recorded_at: now,
                },
            )
            .await?;
            let domain = domain();
            let detector = spine_engine::anomaly::Detector {
                domain: &domain,
                pipeline: INGEST,
                run,
            };
            // Computed with the calendar now current: stale and missing calendars are over.
            for cause in [
                spine_model::AnomalyCause::CALENDAR_REVISED,
                spine_model::AnomalyCause::CALENDAR_MISSING,
            ] {
                recorded.extend(
                    detector
                        .resolve(
                            &txn,
                            &partition,
                            spine_model::Category::Dependency,
                            &cause,
                            &format!(
                                "resolved automatically: recomputed with calendar capture {} at {}",
                                input.capture_id,
                                now.to_rfc3339()
                            ),
                        )
                        .await?,
                );
            }
            record_stage(
                &txn,
                &partition,
                Stage::Calc,
                &capture.capture_id,
                week_calcs.symbol_summaries.len() as i64,
                run,
            )
            .await?;
        }
        None => {
            let year = week.format("%Y").to_string();
            let remedy = format!(
                "spine calendar ingest --file <{} {year} holiday file>",
                reference::EXCHANGE
            );
            notes.push(format!(
                "volume per trading day not computed: no {} calendar covers the week ending {week} \
                 (load one with `{remedy}`); the CALC stage stays incomplete",
                reference::EXCHANGE
            ));
            let domain = domain();
            let missing = spine_engine::anomaly::Detector {
                domain: &domain,
                pipeline: INGEST,
                run,
            }
            .once(
                &txn,
                &partition,
                Some(Stage::Calc),
                spine_model::Severity::Error,
                spine_model::Category::Dependency,
                &spine_model::AnomalyCause::CALENDAR_MISSING,
                format!(
                    "no {} calendar covers {year}: volume per trading day for the week ending {week} \
                     cannot be computed and CALC stays incomplete",
                    reference::EXCHANGE
                ),
                json!({
                    "exchange_code": reference::EXCHANGE,
                    "year": year,
                    "week_ending": week,
                    "calendar_partition": reference::partition(reference::EXCHANGE, chrono::Datelike::year(&week)).canonical(),
                    "remedy": remedy,
                }),
                Some(&capture.capture_id),
            )
            .await?;
            if let spine_store::anomalies::Recorded::Created(a) = missing {
                recorded.push(AnomalySummary::opened(&a));
            }
        }
    }
    if let (Some(diff), false) = (revision, already_revised) {
        let previous = capture.supersedes_capture_id.as_deref().unwrap_or_default();
        recorded.push(
            detect::revision(&txn, &partition, previous, &capture.capture_id, diff, run).await?,
        );
    }
    recorded.extend(
        detect::venue_coverage(
            &txn,
            &partition,
            &capture.capture_id,
            week_calcs.venue_shares.len() as u32,
            &venue_history,
            engine.completeness_policy(),
            run,
        )
        .await?,
    );
    recorded.extend(
        detect::count_drops(
            &txn,
            &partition,
            &capture.capture_id,
            &count_facts,
            engine.completeness_policy(),
            run,
        )
        .await?,
    );
    let mut remarks = Vec::new();
    if !refresh_tier_split(&txn, week, now).await? {
        remarks.push(format!(
            "tier split for the week ending {week} not refreshed: a tier's latest capture has no calcs"
        ));
    }
    txn.commit().await?;
    week_lock.release().await?;
    Ok(CalcOutcome {
        notes,
        remarks,
        anomalies: recorded,
    })
}

// Named functions rather than closures: a closure over a borrowed row is not general over the
// borrow's lifetime, which the `Send` future of an async trait method needs.
fn summary_row(s: &calcs::SymbolSummary) -> SymbolSummaryRow {
    SymbolSummaryRow {
        symbol: s.symbol.clone(),
        total_shares: s.total_shares,
        total_trades: s.total_trades,
        venue_count: s.venue_count as i32,
    }
}

fn venue_share_row(v: &calcs::VenueShare) -> VenueShareRow {
    VenueShareRow {
        mpid: v.mpid.clone(),
        shares: v.shares,
        share: v.share,
    }
}

fn hhi_row(c: &calcs::SymbolConcentration) -> HhiRow {
    HhiRow {
        symbol: c.symbol.clone(),
        hhi: c.hhi,
        venue_count: c.venue_count as i32,
    }
}

/// What CALC did: notes for the operator (empty when every calc was computed and the stage
/// recorded) and the anomalies it recorded.
#[derive(Debug, Default)]
pub struct CalcOutcome {
    /// Why a calc could not run (e.g. no calendar covers the week).
    pub notes: Vec<String>,
    /// Things worth saying that do not make this capture's CALC incomplete (e.g. the week's
    /// tier split was left as it was because another tier has no calcs).
    pub remarks: Vec<String>,
    /// Anomalies recorded or resolved by CALC's detections.
    pub anomalies: Vec<AnomalySummary>,
}

/// The calc dependencies of this domain: volume per trading day needs the exchange calendar.
pub fn dependencies() -> Vec<NewDependency> {
    vec![NewDependency {
        calc_domain: domain(),
        calc_pipeline: CALC.to_string(),
        calc_table: Some(VOLUME_PER_DAY_TABLE.to_string()),
        depends_on_domain: reference::domain(),
        depends_on_table: reference::TRADING_DAYS_TABLE.to_string(),
        dependency_type: spine_model::DependencyType::Required,
        description: Some(
            "shares per trading day divide weekly volume by the exchange's trading days that week"
                .to_string(),
        ),
    }]
}

/// Declares the calc dependencies of this domain (idempotent).
async fn register_dependencies<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> PipelineResult<()> {
    for dep in dependencies() {
        lineage::register_dependency(conn, dep, now).await?;
    }
    Ok(())
}

/// Recomputes the week's tier split from the latest capture of each captured tier, through
/// `conn` (CALC's transaction: the split commits with the calcs it is computed from, so no crash
/// can leave one without the other). Returns false
/// (and leaves the stored split as it was) when a tier's latest capture has no calcs.
pub async fn refresh_tier_split<C: ConnectionTrait + 'static>(
    conn: &C,
    week: NaiveDate,
    now: DateTime<Utc>,
) -> PipelineResult<bool> {
    let latest = captures::latest_covered(conn, &domain(), &PartitionKey::week(week)).await?;
    let mut totals = Vec::new();
    let mut captures_used = Vec::new();
    for capture in latest {
        let Some(tier) = PartitionKey::parse(&capture.partition_key)
            .ok()
            .and_then(|p| p.tier())
        else {
            continue;
        };
        let venues = repo::venue_share(conn, &capture.capture_id).await?;
        if venues.is_empty() {
            // A tier whose latest capture has no calcs (not computed yet, or refused): the
            // split over the other tiers alone would silently renormalize without it. Keep the
            // previous split, which names the captures it used, rather than publish a wrong one.
            return Ok(false);
        }
        totals.push((tier, venues.iter().map(|v| v.shares).sum::<i64>()));
        captures_used.push((tier, capture.capture_id));
    }
    let split = calcs::tier_split(&totals)?;
    let rows = split
        .into_iter()
        .map(|s| TierSplitRow {
            tier: s.tier,
            capture_id: captures_used
                .iter()
                .find(|(t, _)| *t == s.tier)
                .map(|(_, c)| c.clone())
                .unwrap_or_default(),
            shares: s.shares,
            share: s.share,
        })
        .collect();
    repo::replace_tier_split(conn, week, rows, now).await?;
    Ok(true)
}

/// The capture a query or a stage run should use: the given id, or the latest of the partition.
pub async fn resolve_capture(
    store: &Store,
    week: NaiveDate,
    tier: Tier,
    capture_id: Option<&str>,
) -> PipelineResult<Capture> {
    let partition = PartitionKey::week_tier(week, tier);
    let found = match capture_id {
        Some(id) => captures::get(store.conn(), id).await?,
        None => captures::latest(store.conn(), &domain(), &partition).await?,
    };
    match found {
        Some(c) if c.partition_key == partition.canonical() => Ok(c),
        Some(c) => Err(PipelineError::Input(format!(
            "capture {} belongs to partition {}, not {}",
            c.capture_id, c.partition_key, partition
        ))),
        None => Err(PipelineError::Input(match capture_id {
            Some(id) => format!("no capture {id}"),
            None => format!(
                "no capture of {tier} for the week ending {week}; ingest it with `spine ingest finra-otc --file PATH`"
            ),
        })),
    }
}

/// Recomputes the calcs of the latest capture of every tier `partition` covers (a week, or one
/// tier of it) from their NORMALIZED rows (after a calendar correction, say). Captures that
/// never reached NORMALIZED are skipped: there is nothing trustworthy to recompute from.
pub async fn recompute(
    engine: &Engine,
    partition: &PartitionKey,
    run: &RunContext,
) -> PipelineResult<Vec<RecomputeResult>> {
    let store = engine.store();
    let Some(week) = partition.week_ending() else {
        return Err(PipelineError::Input(format!(
            "{partition} names no week: recompute works on a week or one tier of it"
        )));
    };
    let mut out = Vec::new();
    for tier in Tier::ALL {
        let key = PartitionKey::week_tier(week, *tier);
        if !partition.covers(&key) {
            continue;
        }
        // One writer per partition: a recompute waits for an ingest of the tier, and the other
        // way round.
        let lock = engine.lock_partition(&domain(), &key).await?;
        let Some(capture) = captures::latest(store.conn(), &domain(), &key).await? else {
            lock.release().await?;
            continue;
        };
        let stages = manifest::stages(store.conn(), &domain(), &key).await?;
        if manifest::furthest_stage(&stages, &capture.capture_id) < Some(Stage::Normalized) {
            lock.release().await?;
            out.push(RecomputeResult {
                partition_key: key.canonical(),
                capture_id: capture.capture_id,
                outcome: RecomputeOutcome::NeverNormalized,
                notes: Vec::new(),
                anomalies: Vec::new(),
            });
            continue;
        }
        let outcome = calc(engine, &capture, None, run).await;
        lock.release().await?;
        let outcome = outcome?;
        out.push(RecomputeResult {
            partition_key: key.canonical(),
            capture_id: capture.capture_id,
            outcome: if outcome.notes.is_empty() {
                RecomputeOutcome::Recomputed
            } else {
                RecomputeOutcome::Incomplete
            },
            notes: outcome.notes,
            anomalies: outcome.anomalies,
        });
    }
    Ok(out)
}
