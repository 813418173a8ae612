//! The shared vocabulary of Market Spine (DESIGN.md, "Vocabulary"): one definition each.
//!
//! Every string that crosses a boundary (a CLI flag, a database column, a JSON field) is parsed
//! into one of these types at the edge, and everything past the edge works with the typed value.
//! Parsing an unknown value is an error that names the value and every accepted one, so a typo in
//! `--tier nms_tier1` tells the user what they could have typed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a vocabulary value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabError {
    /// The text is not one of the values the vocabulary type accepts.
    #[error("unknown {kind} `{value}`; expected one of: {}", accepted.join(", "))]
    UnknownValue {
        /// The vocabulary type, e.g. `severity`.
        kind: &'static str,
        /// The text that was given.
        value: String,
        /// Every value that would have been accepted.
        accepted: &'static [&'static str],
    },
    /// A partition key's text is not a JSON object of strings.
    #[error("invalid partition key `{value}`: {reason}")]
    InvalidPartitionKey {
        /// The text that was given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A domain name is not a dotted lower-case name.
    #[error(
        "invalid domain `{0}`: expected a dotted lower-case name such as `finra.otc_transparency`"
    )]
    InvalidDomain(String),
    /// A week ending that is not a Friday: almost always an off-by-one, so the nearest Fridays
    /// are named.
    #[error(
        "{date} is a {weekday}, not a Friday: a week_ending is the Friday that ends the week (the nearest are {before} and {after})"
    )]
    NotAFriday {
        /// The date given.
        date: NaiveDate,
        /// Its weekday, in words.
        weekday: &'static str,
        /// The Friday before it.
        before: NaiveDate,
        /// The Friday after it.
        after: NaiveDate,
    },
    /// Text that is not a `YYYY-MM-DD` date.
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    NotADate(String),
}

/// Declares a closed vocabulary enum with its one wire spelling per variant.
///
/// Generates `as_str`, `ALL`, `Display`, `FromStr` (case-sensitive on the wire spelling, with a
/// case-insensitive fallback so CLI users can type `otc` or `warn`), and string serde.
macro_rules! vocab_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire spellings, in declaration order (used in error messages and `--help`).
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            /// The one wire spelling of this value: what the database, JSON and CLI use.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = VocabError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $( if s == $wire { return Ok($name::$variant); } )+
                $( if s.eq_ignore_ascii_case($wire) { return Ok($name::$variant); } )+
                Err(VocabError::UnknownValue {
                    kind: $kind,
                    value: s.to_string(),
                    accepted: Self::NAMES,
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocab_enum! {
    /// How bad an anomaly is. Ordered: `Info < Warn < Error < Critical`, so policy can say
    /// "at or above ERROR blocks compliance".
    Severity, "severity" {
        /// Worth knowing; never blocks.
        Info => "INFO",
        /// Suspicious; a human should look.
        Warn => "WARN",
        /// Wrong or incomplete; blocks compliance by default.
        Error => "ERROR",
        /// Unusable; blocks every use by default.
        Critical => "CRITICAL",
    }
}

vocab_enum! {
    /// What kind of problem an anomaly is. Extended deliberately, never ad hoc.
    Category, "category" {
        /// An input the pipeline needed was missing or partial (e.g. a tier's file).
        IncompleteInput => "INCOMPLETE_INPUT",
        /// The data breaks a rule of the business (e.g. trades without shares).
        BusinessRule => "BUSINESS_RULE",
        /// Less data than expected (e.g. too few venues against the baseline).
        Completeness => "COMPLETENESS",
        /// Data arrived late or was revised.
        Freshness => "FRESHNESS",
        /// An upstream dependency changed under a calculation.
        Dependency => "DEPENDENCY",
        /// Two facts that must agree do not.
        Consistency => "CONSISTENCY",
        /// An expected partition did not arrive on schedule.
        Schedule => "SCHEDULE",
        /// The pipeline itself failed (I/O, database, bug).
        PipelineError => "PIPELINE_ERROR",
        /// Telling people failed: a notification could not be delivered after its retries, or a
        /// subscription's secret is not set. The alert about the alert channel.
        Notification => "NOTIFICATION",
    }
}

vocab_enum! {
    /// A stage a capture passes through, in order: `Raw < Normalized < Calc`.
    Stage, "stage" {
        /// The accepted source lines, stored as read.
        Raw => "RAW",
        /// Typed, validated rows.
        Normalized => "NORMALIZED",
        /// The analytics computed from the normalized rows.
        Calc => "CALC",
    }
}

vocab_enum! {
    /// A use that data can be certified for; each has its own blocking policy.
    ReadyFor, "ready_for" {
        /// Routing and trading decisions.
        Trading => "trading",
        /// Regulatory and compliance reporting: the strictest by default.
        Compliance => "compliance",
        /// Research and back-testing.
        Research => "research",
    }
}

vocab_enum! {
    /// How strongly a calculation depends on an upstream dataset.
    DependencyType, "dependency_type" {
        /// The calc cannot be computed without it; a revision makes the calc stale.
        Required => "REQUIRED",
        /// The calc is better with it but can run without it.
        Optional => "OPTIONAL",
        /// Reference data (calendars, symbology) the calc reads.
        Reference => "REFERENCE",
    }
}

vocab_enum! {
    /// The cadence of an expected schedule.
    ScheduleType, "schedule_type" {
        /// Once a week (FINRA OTC Transparency).
        Weekly => "WEEKLY",
        /// Once per business day.
        Daily => "DAILY",
        /// Once a month.
        Monthly => "MONTHLY",
        /// Once a year (exchange calendars).
        Annual => "ANNUAL",
        /// On demand; never "missed".
        Triggered => "TRIGGERED",
    }
}

vocab_enum! {
    /// A FINRA OTC Transparency tier. The wire spelling is Market Spine's; FINRA's file spelling
    /// is [`Tier::finra_description`].
    Tier, "tier" {
        /// NMS Tier 1 stocks (published two weeks after the week).
        NmsTier1 => "NMS_TIER_1",
        /// NMS Tier 2 stocks (published four weeks after the week).
        NmsTier2 => "NMS_TIER_2",
        /// OTC equities (published four weeks after the week).
        Otc => "OTC",
    }
}

impl Tier {
    /// FINRA's `tierDescription` spellings, in `Tier::ALL` order.
    pub const FINRA_DESCRIPTIONS: &'static [&'static str] = &["NMS Tier 1", "NMS Tier 2", "OTC"];

    /// How the tier is spelled in FINRA's `tierDescription` column.
    pub const fn finra_description(self) -> &'static str {
        match self {
            Tier::NmsTier1 => "NMS Tier 1",
            Tier::NmsTier2 => "NMS Tier 2",
            Tier::Otc => "OTC",
        }
    }

    /// Parses FINRA's `tierDescription` exactly; anything else is an error, never a default.
    pub fn from_finra_description(s: &str) -> Result<Tier, VocabError> {
        match s {
            "NMS Tier 1" => Ok(Tier::NmsTier1),
            "NMS Tier 2" => Ok(Tier::NmsTier2),
            "OTC" => Ok(Tier::Otc),
            _ => Err(VocabError::UnknownValue {
                kind: "FINRA tierDescription",
                value: s.to_string(),
                accepted: Self::FINRA_DESCRIPTIONS,
            }),
        }
    }
}

vocab_enum! {
    /// The outcome of one quality check.
    QualityStatus, "quality status" {
        /// The check held.
        Pass => "PASS",
        /// The check found something suspicious.
        Warn => "WARN",
        /// The check failed.
        Fail => "FAIL",
    }
}

vocab_enum! {
    /// The state machine of a work item:
    /// `PENDING → RUNNING → COMPLETE`, or `RUNNING → RETRY_WAIT → PENDING`, or `→ FAILED`.
    WorkItemState, "work item state" {
        /// Waiting to be claimed.
        Pending => "PENDING",
        /// Claimed by a worker.
        Running => "RUNNING",
        /// Done.
        Complete => "COMPLETE",
        /// Out of attempts.
        Failed => "FAILED",
        /// Failed; waiting for `next_attempt_at`.
        RetryWait => "RETRY_WAIT",
        /// Withdrawn by an operator.
        Cancelled => "CANCELLED",
    }
}

vocab_enum! {
    /// What a work item's next attempt does.
    WorkKind, "work item kind" {
        /// Fetch a due partition that has no complete capture, and ingest it.
        Fetch => "FETCH",
        /// Fetch a captured partition again to catch a revision (nothing is ingested when the
        /// source says, or the bytes show, that nothing changed).
        RevisionCheck => "REVISION_CHECK",
    }
}

vocab_enum! {
    /// How one attempt at a work item ended.
    AttemptOutcome, "attempt outcome" {
        /// Still running (or its worker died: the item's lease says which).
        Running => "RUNNING",
        /// Fetched and ingested (a new capture, a revision, or bytes already complete).
        Ingested => "INGESTED",
        /// The source said, or the bytes showed, that nothing changed.
        NotModified => "NOT_MODIFIED",
        /// Failed; the item waits for another attempt.
        Retry => "RETRY",
        /// Failed for good: not retryable, out of attempts, or past the retry horizon.
        Failed => "FAILED",
        /// The worker stopped (SIGTERM) and released the item for another attempt.
        Released => "RELEASED",
    }
}

vocab_enum! {
    /// The status of one pipeline execution.
    ExecutionStatus, "execution status" {
        /// Started, not finished.
        Running => "RUNNING",
        /// Finished successfully.
        Completed => "COMPLETED",
        /// Finished with an error.
        Failed => "FAILED",
        /// Stopped on purpose (SIGTERM, Ctrl-C) at a stage boundary; resumable.
        Aborted => "ABORTED",
        /// Never stored: a RUNNING execution whose heartbeat stopped (its process died), as
        /// reports show it.
        Abandoned => "ABANDONED",
    }
}

vocab_enum! {
    /// What one ingestion did with its capture: the outcome every domain's ingest reports.
    IngestStatus, "ingest status" {
        /// A new partition: its first capture.
        Ingested => "ingested",
        /// The same bytes were captured before and that capture is complete: nothing to do.
        Unchanged => "unchanged",
        /// Changed bytes: a new capture that supersedes the partition's previous one.
        Revised => "revised",
        /// Captured, but a stage refused the data (e.g. a blocking business rule).
        Failed => "failed",
        /// The same bytes were captured before but stopped short of the last stage (a crash, a
        /// kill): the run finished them from where they stopped.
        Resumed => "resumed",
    }
}

vocab_enum! {
    /// What became of one partition a schedule expects, as of the run's clock.
    ExpectedState, "expected state" {
        /// Captured on time.
        Present => "present",
        /// First captured after its due time.
        Late => "late",
        /// Past its due time with no capture.
        Missed => "missed",
        /// Not due yet and not captured.
        Pending => "pending",
    }
}

vocab_enum! {
    /// What an outbox event (`core_events`) says happened. Each is recorded in the same
    /// transaction as the change that caused it, and only on a transition.
    EventKind, "event" {
        /// A verdict for a partition and use moved between READY, READY_WITH_WARNINGS and
        /// NOT_READY (or was reached for the first time).
        ReadinessChanged => "readiness.changed",
        /// A newer capture superseded data a recorded certification judged.
        CertificationInvalidated => "certification.invalidated",
        /// A partition was captured again with different bytes.
        CaptureRevised => "capture.revised",
        /// A new anomaly was recorded (not a re-detection of an open one).
        AnomalyOpened => "anomaly.opened",
        /// An open anomaly was resolved.
        AnomalyResolved => "anomaly.resolved",
        /// An expected partition was not there by its due time.
        ScheduleMissed => "schedule.missed",
        /// A work item failed for good (retries exhausted or not retryable).
        WorkFailed => "work.failed",
        /// `spine subscriptions test NAME`: never recorded by a change, only sent on demand.
        Test => "test",
    }
}

vocab_enum! {
    /// How a subscription is told.
    Channel, "channel" {
        /// A JSON POST signed with HMAC-SHA256 (`X-Spine-Signature`).
        Webhook => "webhook",
        /// A Slack-compatible incoming webhook (`{"text": ...}`).
        Slack => "slack",
        /// Email over SMTP, plain text with a short HTML alternative.
        Email => "email",
    }
}

vocab_enum! {
    /// Whether a subscription gets each event as it happens or one message per day.
    DigestMode, "digest" {
        /// One message per event.
        None => "none",
        /// One message per UTC day summarising that day's events, sent once the day is over.
        Daily => "daily",
    }
}

vocab_enum! {
    /// Where one delivery (`core_deliveries`) stands.
    DeliveryState, "delivery state" {
        /// Not sent yet, or waiting for its next attempt (`next_attempt_at`).
        Pending => "PENDING",
        /// The channel accepted it.
        Delivered => "DELIVERED",
        /// Given up on: retries exhausted, a permanent refusal, or a missing secret.
        Failed => "FAILED",
    }
}

vocab_enum! {
    /// The current readiness status of a partition for one use.
    ReadinessStatus, "readiness status" {
        /// Every criterion holds and no WARN (or worse) anomaly is open.
        Ready => "READY",
        /// Every criterion holds; non-blocking anomalies are open.
        ReadyWithWarnings => "READY_WITH_WARNINGS",
        /// At least one criterion fails.
        NotReady => "NOT_READY",
    }
}

/// A dotted domain name such as `finra.otc_transparency`.
///
/// Validated once so a typo cannot create a new, silently empty domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    /// FINRA OTC Transparency weekly data.
    pub const FINRA_OTC: &'static str = "finra.otc_transparency";
    /// Exchange holiday calendars and trading-day counts.
    pub const EXCHANGE_CALENDAR: &'static str = "reference.exchange_calendar";

    /// Parses and validates a domain name: dot-separated segments of `[a-z0-9_]`, at least two.
    pub fn parse(s: &str) -> Result<Domain, VocabError> {
        let segments: Vec<&str> = s.split('.').collect();
        let ok = segments.len() >= 2
            && segments.iter().all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if ok {
            Ok(Domain(s.to_string()))
        } else {
            Err(VocabError::InvalidDomain(s.to_string()))
        }
    }

    /// The domain name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = VocabError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Domain::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An ordered string map that names one partition of a domain, e.g.
/// `{"tier":"OTC","week_ending":"2025-12-19"}`.
///
/// There is exactly one text form, [`PartitionKey::canonical`] (keys sorted, no spaces), used for
/// storage and equality, so the same partition can never be stored under two spellings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey(BTreeMap<String, String>);

impl PartitionKey {
    /// The key naming the week's ending Friday.
    pub const WEEK_ENDING: &'static str = "week_ending";
    /// The key naming a FINRA tier.
    pub const TIER: &'static str = "tier";

    /// An empty key (the whole domain).
    pub fn new() -> PartitionKey {
        PartitionKey(BTreeMap::new())
    }

    /// Adds or replaces one entry, builder style.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> PartitionKey {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The week-level key `{"week_ending":…}`, which covers every tier of that week.
    pub fn week(week_ending: NaiveDate) -> PartitionKey {
        PartitionKey::new().with(
            Self::WEEK_ENDING,
            week_ending.format("%Y-%m-%d").to_string(),
        )
    }

    /// The tier-level key `{"tier":…,"week_ending":…}`.
    pub fn week_tier(week_ending: NaiveDate, tier: Tier) -> PartitionKey {
        PartitionKey::week(week_ending).with(Self::TIER, tier.as_str())
    }

    /// One entry's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The entries, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The `week_ending` entry as a date, if present and valid.
    pub fn week_ending(&self) -> Option<NaiveDate> {
        self.get(Self::WEEK_ENDING)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    }

    /// The `tier` entry as a tier, if present and valid.
    pub fn tier(&self) -> Option<Tier> {
        self.get(Self::TIER).and_then(|s| s.parse().ok())
    }

    /// True when this key covers `other`: every entry of `self` is in `other` with the same
    /// value. A week-level key covers each tier-level key of that week; every key covers itself.
    pub fn covers(&self, other: &PartitionKey) -> bool {
        self.0.iter().all(|(k, v)| other.0.get(k) == Some(v))
    }

    /// The canonical JSON text: keys sorted, no spaces. The only form ever stored.
    pub fn canonical(&self) -> String {
        // A BTreeMap<String, String> serializes sorted and compact; it cannot fail.
        serde_json::to_string(&self.0).expect("a string map always serializes")
    }

    /// Parses any JSON object of string values (in any key order or spacing) into a key.
    pub fn parse(s: &str) -> Result<PartitionKey, VocabError> {
        let invalid = |reason: String| VocabError::InvalidPartitionKey {
            value: s.to_string(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(s).map_err(|e| invalid(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| invalid("expected a JSON object".to_string()))?;
        let mut map = BTreeMap::new();
        for (k, v) in object {
            let v = v
                .as_str()
                .ok_or_else(|| invalid(format!("value of `{k}` is not a string")))?;
            map.insert(k.clone(), v.to_string());
        }
        Ok(PartitionKey(map))
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for PartitionKey {
    type Err = VocabError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PartitionKey::parse(s)
    }
}

impl Serialize for PartitionKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PartitionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(PartitionKey(BTreeMap::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_from_info_to_critical() {
        assert!(Severity::Info < Severity::Warn);
        assert!(Severity::Warn < Severity::Error);
        assert!(Severity::Error < Severity::Critical);
    }

    #[test]
    fn unknown_value_names_value_and_accepted_ones() {
        let err = "SEVERE".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity `SEVERE`; expected one of: INFO, WARN, ERROR, CRITICAL"
        );
        let err = "NMS Tier 3".parse::<Tier>().unwrap_err();
        assert!(err.to_string().contains("NMS_TIER_1, NMS_TIER_2, OTC"));
    }

    #[test]
    fn every_vocabulary_round_trips_through_its_wire_spelling() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr,
            <T as FromStr>::Err: fmt::Debug,
        {
            for v in all {
                assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
            }
        }
        check(Severity::ALL);
        check(Category::ALL);
        check(Stage::ALL);
        check(ReadyFor::ALL);
        check(DependencyType::ALL);
        check(ScheduleType::ALL);
        check(Tier::ALL);
        check(QualityStatus::ALL);
        check(WorkItemState::ALL);
        check(WorkKind::ALL);
        check(AttemptOutcome::ALL);
        check(ExecutionStatus::ALL);
        check(ReadinessStatus::ALL);
        check(IngestStatus::ALL);
        check(ExpectedState::ALL);
        check(EventKind::ALL);
        check(Channel::ALL);
        check(DigestMode::ALL);
        check(DeliveryState::ALL);
    }

    #[test]
    fn parsing_is_case_insensitive_for_people() {
        assert_eq!("otc".parse::<Tier>().unwrap(), Tier::Otc);
        assert_eq!("Trading".parse::<ReadyFor>().unwrap(), ReadyFor::Trading);
    }

    #[test]
    fn finra_tier_descriptions_are_exact() {
        for t in Tier::ALL {
            assert_eq!(
                Tier::from_finra_description(t.finra_description()).unwrap(),
                *t
            );
        }
        let err = Tier::from_finra_description("NMS Tier 3").unwrap_err();
        assert!(err.to_string().contains("`NMS Tier 3`"));
        assert!(Tier::from_finra_description("otc").is_err());
    }

    #[test]
    fn partition_key_has_one_canonical_form() {
        let a = PartitionKey::parse(r#"{ "week_ending": "2025-12-19", "tier": "OTC" }"#).unwrap();
        let b = PartitionKey::week_tier(NaiveDate::from_ymd_opt(2025, 12, 19).unwrap(), Tier::Otc);
        assert_eq!(a, b);
        assert_eq!(
            a.canonical(),
            r#"{"tier":"OTC","week_ending":"2025-12-19"}"#
        );
        assert_eq!(PartitionKey::parse(&a.canonical()).unwrap(), a);
        assert_eq!(a.tier(), Some(Tier::Otc));
        assert_eq!(a.week_ending(), NaiveDate::from_ymd_opt(2025, 12, 19));
    }

    #[test]
    fn partition_key_rejects_non_objects_and_non_strings() {
        assert!(PartitionKey::parse("[1]").is_err());
        let err = PartitionKey::parse(r#"{"week_ending": 5}"#).unwrap_err();
        assert!(err.to_string().contains("week_ending"));
    }

    #[test]
    fn week_key_covers_its_tier_keys_only() {
        let d = NaiveDate::from_ymd_opt(2025, 12, 19).unwrap();
        let other = NaiveDate::from_ymd_opt(2025, 12, 26).unwrap();
        let week = PartitionKey::week(d);
        assert!(week.covers(&PartitionKey::week_tier(d, Tier::NmsTier1)));
        assert!(week.covers(&week));
        assert!(!week.covers(&PartitionKey::week_tier(other, Tier::NmsTier1)));
        assert!(!PartitionKey::week_tier(d, Tier::Otc).covers(&week));
    }

    #[test]
    fn domains_are_validated() {
        assert!(Domain::parse(Domain::FINRA_OTC).is_ok());
        assert!(Domain::parse(Domain::EXCHANGE_CALENDAR).is_ok());
        assert!(Domain::parse("finra").is_err());
        assert!(Domain::parse("Finra.OTC").is_err());
        assert!(Domain::parse("finra..otc").is_err());
    }
}

/// The five readiness criteria of DESIGN.md, each computed from real facts.
///
/// Shared by the policy that decides them (`spine-rules`), the store that records them and the
/// CLI/API that prints them, so the JSON field names are defined once, here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCriteria {
    /// Every partition the schedules expect for the period has a capture.
    pub all_partitions_present: bool,
    /// Every stage is complete for the latest capture of each partition.
    pub all_stages_complete: bool,
    /// No unresolved anomaly at a severity that blocks this use.
    pub no_critical_anomalies: bool,
    /// Each calc's recorded upstream capture is still the latest upstream capture.
    pub dependencies_current: bool,
    /// The data is older than its schedule's preliminary (stabilization) window.
    pub age_exceeds_preliminary: bool,
}

impl ReadinessCriteria {
    /// True when all five hold.
    pub fn all(&self) -> bool {
        self.all_partitions_present
            && self.all_stages_complete
            && self.no_critical_anomalies
            && self.dependencies_current
            && self.age_exceeds_preliminary
    }
}
