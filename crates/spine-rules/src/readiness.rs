//! The readiness decision: may this partition be used for this purpose, and if not, why not?
//!
//! DESIGN.md ("Readiness, as the system must decide it") requires five criteria, each computed
//! from real facts and none hard-wired. The store gathers the facts into a [`ReadinessFacts`];
//! [`evaluate`] decides, with the per-use [`BlockingPolicy`], and says in words what blocks.
//! The decision is pure: the clock is a field (`now`), so a verdict can be replayed exactly for
//! an audit.
//!
//! # Scope: which facts count
//!
//! Facts are scoped by partition *coverage* ([`PartitionKey::covers`]): a fact about partition
//! `P` counts for the evaluated key `E` when `E` covers `P` (a week-level evaluation sees every
//! tier of the week) or `P` covers `E` (a week-level anomaly counts against each tier of the
//! week). Facts about unrelated partitions are ignored, so the caller may pass a broader set
//! than needed (say, the whole week's expectations when evaluating one tier). An anomaly without
//! a partition is domain-wide and counts everywhere.
//!
//! # The five criteria
//!
//! 1. **all_partitions_present** — every expected partition related to `E` is covered by some
//!    related present partition. The expected list is what the caller passes (it expands the
//!    schedules). When no expected partition relates to `E`, `E` itself is expected: there must
//!    be at least one related present partition. Nothing to judge is never ready.
//! 2. **all_stages_complete** — for each related present partition, the furthest stage its
//!    *latest* capture reached is at or after every required stage. An empty
//!    `required_stages` means every stage (`RAW`, `NORMALIZED`, `CALC`): a partition cannot opt
//!    out of its stages by omission. Stages are ordered, so reaching `CALC` implies the others.
//! 3. **no_critical_anomalies** — no related open anomaly whose severity the policy says blocks
//!    this use. Related open anomalies that do not block make the verdict
//!    `READY_WITH_WARNINGS` instead of `READY` (the vocabulary: `READY` means nothing is open).
//! 4. **dependencies_current** — for each related calc dependency, the upstream capture the calc
//!    consumed is still the latest upstream capture. An upstream with no capture now is not
//!    current either.
//! 5. **age_exceeds_preliminary** — every related present partition's latest capture is at
//!    least `preliminary_hours` old at `now` (`captured_at + window ≤ now`: at the boundary the
//!    window has ended). No window → holds. A negative window counts as zero.
//!
//! Criteria 2, 4 and 5 quantify over what is present; when nothing is present they hold
//! vacuously, and criterion 1 is the one that fails.
//!
//! Every failed criterion contributes at least one blocking issue and every blocking issue
//! comes from a failed criterion, so `blocking_issues.is_empty() == criteria.all()`. Issues are
//! listed by criterion, then in a deterministic order independent of the order of the facts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use spine_model::{
    Category, Domain, PartitionKey, ReadinessCriteria, ReadinessStatus, ReadyFor, Severity, Stage,
};

use crate::policy::BlockingPolicy;

/// Everything the readiness decision needs, gathered by the caller from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessFacts {
    /// The domain evaluated.
    pub domain: Domain,
    /// The partition evaluated; a week-level key covers every tier of the week.
    pub partition: PartitionKey,
    /// The use the data is certified for; selects the blocking threshold.
    pub ready_for: ReadyFor,
    /// The evaluation's clock (never the system clock), for criterion 5 and the audit trail.
    pub now: DateTime<Utc>,
    /// The partitions the schedules expect (already expanded by the caller).
    pub expected_partitions: Vec<PartitionKey>,
    /// The partitions that have a capture, with their latest capture's facts.
    pub present: Vec<PartitionFacts>,
    /// The unresolved anomalies of the domain (the caller may pre-filter by partition).
    pub open_anomalies: Vec<AnomalyFact>,
    /// For each calc and upstream input: the capture consumed and the latest one.
    pub dependencies: Vec<DependencyFact>,
    /// The schedule's preliminary (stabilization) window in hours; `None` for no window.
    pub preliminary_hours: Option<i64>,
}

/// What is known about one present partition's latest capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionFacts {
    /// The partition.
    pub partition: PartitionKey,
    /// Its latest capture (the one judged).
    pub latest_capture_id: String,
    /// When that capture was taken (Market Spine's clock, not FINRA's).
    pub captured_at: DateTime<Utc>,
    /// The furthest stage the latest capture reached, if any (`manifest::furthest_stage`).
    pub furthest_stage: Option<Stage>,
    /// The stages the partition's pipeline must complete; empty means all of them.
    pub required_stages: Vec<Stage>,
    /// Lines the latest capture accepted, when known. A capture that accepted none holds no
    /// data: its partition is not present, whatever stages it reached.
    pub rows_accepted: Option<i64>,
}

/// One unresolved anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyFact {
    /// Its id, so people can look it up and resolve it.
    pub id: i64,
    /// How bad it is; compared with the policy's threshold for the use.
    pub severity: Severity,
    /// What kind of problem it is.
    pub category: Category,
    /// The partition it is about; `None` for a domain-wide anomaly (counts everywhere).
    pub partition: Option<PartitionKey>,
    /// Its one-sentence message.
    pub message: String,
}

/// Whether one calc's recorded upstream capture is still the latest upstream capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyFact {
    /// The calc's partition.
    pub calc_partition: PartitionKey,
    /// The calc's table, e.g. `finra_otc_volume_per_day`.
    pub calc_table: String,
    /// The upstream domain, e.g. `reference.exchange_calendar`.
    pub input_domain: Domain,
    /// The upstream partition consumed.
    pub input_partition: PartitionKey,
    /// The upstream capture the calc consumed.
    pub consumed_capture_id: String,
    /// The latest capture of the upstream partition now; `None` if it has none.
    pub latest_capture_id: Option<String>,
}

/// The decision, with its reasons and the proof of which data it was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessVerdict {
    /// The domain evaluated.
    pub domain: Domain,
    /// The partition evaluated.
    pub partition: PartitionKey,
    /// The use evaluated.
    pub ready_for: ReadyFor,
    /// The evaluation's clock.
    pub evaluated_at: DateTime<Utc>,
    /// READY, READY_WITH_WARNINGS or NOT_READY.
    pub status: ReadinessStatus,
    /// The five criteria.
    pub criteria: ReadinessCriteria,
    /// What blocks readiness, naming what is missing or wrong; empty iff all criteria hold.
    pub blocking_issues: Vec<String>,
    /// Open anomalies that do not block this use (why a verdict is READY_WITH_WARNINGS).
    pub warnings: Vec<String>,
    /// Open INFO anomalies (e.g. "revised"): reported, never a reason for caution.
    pub notices: Vec<String>,
    /// The latest capture ids of the present partitions judged, sorted and distinct.
    pub captures_judged: Vec<String>,
}

impl ReadinessVerdict {
    /// True for READY and READY_WITH_WARNINGS: the data may be used for `ready_for`.
    pub fn is_ready(&self) -> bool {
        self.status != ReadinessStatus::NotReady
    }
}

/// True when a fact about `fact` counts for the evaluated key `eval` (see the module docs).
pub fn related(eval: &PartitionKey, fact: &PartitionKey) -> bool {
    eval.covers(fact) || fact.covers(eval)
}

/// How a partition is named in blocking issues: its tier when it has one (the word operators
/// use), else its canonical key.
fn label(p: &PartitionKey) -> String {
    match p.get(PartitionKey::TIER) {
        Some(tier) => tier.to_string(),
        None => p.canonical(),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Decides readiness from `facts` under `policy` (the five criteria are in the module docs).
pub fn evaluate(facts: &ReadinessFacts, policy: &BlockingPolicy) -> ReadinessVerdict {
    let eval = &facts.partition;

    // Related present partitions, in key order. If the caller passes one partition twice, the
    // later capture is judged (ties broken on the remaining fields, so input order never
    // matters).
    let mut present: BTreeMap<&PartitionKey, &PartitionFacts> = BTreeMap::new();
    for p in facts.present.iter().filter(|p| related(eval, &p.partition)) {
        let keep = match present.get(&p.partition) {
            Some(q) => {
                (
                    p.captured_at,
                    &p.latest_capture_id,
                    p.furthest_stage,
                    &p.required_stages,
                ) > (
                    q.captured_at,
                    &q.latest_capture_id,
                    q.furthest_stage,
                    &q.required_stages,
                )
            }
            None => true,
        };
        if keep {
            present.insert(&p.partition, p);
        }
    }

    let presence = check_presence(facts, &present);
    let stages = check_stages(&present);
    let (anomalies, warnings, notices) = check_anomalies(facts, policy);
    let dependencies = check_dependencies(facts);
    let age = check_age(facts, &present);

    let criteria = ReadinessCriteria {
        all_partitions_present: presence.is_empty(),
        all_stages_complete: stages.is_empty(),
        no_critical_anomalies: anomalies.is_empty(),
        dependencies_current: dependencies.is_empty(),
        age_exceeds_preliminary: age.is_empty(),
    };
    let status = if !criteria.all() {
        ReadinessStatus::NotReady
    } else if warnings.is_empty() {
        ReadinessStatus::Ready
    } else {
        ReadinessStatus::ReadyWithWarnings
    };
    let captures_judged: BTreeSet<String> = present
        .values()
        .map(|p| p.latest_capture_id.clone())
        .collect();

    ReadinessVerdict {
        domain: facts.domain.clone(),
        partition: eval.clone(),
        ready_for: facts.ready_for,
        evaluated_at: facts.now,
        status,
        criteria,
        blocking_issues: [presence, stages, anomalies, dependencies, age].concat(),
        warnings,
        notices,
        captures_judged: captures_judged.into_iter().collect(),
    }
}

/// Criterion 1. Missing tier-level keys are grouped per rest-of-key ("missing tiers: …"), so the
/// issue reads the way operators think; other keys are listed one by one.
fn check_presence(
    facts: &ReadinessFacts,
    present: &BTreeMap<&PartitionKey, &PartitionFacts>,
) -> Vec<String> {
    let eval = &facts.partition;
    let expected: BTreeSet<&PartitionKey> = facts
        .expected_partitions
        .iter()
        .filter(|e| related(eval, e))
        .collect();
    // A partition whose latest capture accepted no line is there in name only.
    let mut issues: Vec<String> = present
        .values()
        .filter(|p| p.rows_accepted == Some(0))
        .map(|p| {
            format!(
                "{} is empty: its latest capture {} accepted no line",
                p.partition.canonical(),
                p.latest_capture_id
            )
        })
        .collect();
    if expected.is_empty() {
        if present.is_empty() {
            issues.push(format!("no capture for partition {}", eval.canonical()));
        }
        return issues;
    }
    // An empty partition is reported as empty above, not again as missing.
    let missing = expected
        .into_iter()
        .filter(|e| !present.keys().any(|p| p.covers(e)));
    let mut tiers_missing: BTreeMap<PartitionKey, BTreeSet<&str>> = BTreeMap::new();
    for key in missing {
        match key.get(PartitionKey::TIER) {
            Some(tier) => {
                let rest = key
                    .entries()
                    .filter(|(k, _)| *k != PartitionKey::TIER)
                    .fold(PartitionKey::new(), |acc, (k, v)| acc.with(k, v));
                tiers_missing.entry(rest).or_default().insert(tier);
            }
            None => issues.push(format!("missing partition {}", key.canonical())),
        }
    }
    let mut grouped: Vec<String> = tiers_missing
        .into_iter()
        .map(|(rest, tiers)| {
            let tiers = tiers.into_iter().collect::<Vec<_>>().join(", ");
            format!("missing tiers: {tiers} for {}", rest.canonical())
        })
        .collect();
    grouped.append(&mut issues);
    grouped
}

/// Criterion 2.
fn check_stages(present: &BTreeMap<&PartitionKey, &PartitionFacts>) -> Vec<String> {
    let mut issues = Vec::new();
    for p in present.values() {
        let required: BTreeSet<Stage> = if p.required_stages.is_empty() {
            Stage::ALL.iter().copied().collect()
        } else {
            p.required_stages.iter().copied().collect()
        };
        let not_reached: Vec<&str> = required
            .iter()
            .filter(|s| p.furthest_stage.is_none_or(|f| f < **s))
            .map(|s| s.as_str())
            .collect();
        if not_reached.is_empty() {
            continue;
        }
        let not_reached = not_reached.join(", ");
        let where_ = match p.furthest_stage {
            Some(stage) => format!("stopped at {stage}"),
            None => "reached no stage".to_string(),
        };
        issues.push(format!(
            "{} latest capture {} {where_} ({not_reached} not reached)",
            label(&p.partition),
            p.latest_capture_id
        ));
    }
    issues
}

/// Criterion 3: (blocking issues, warnings, notices).
fn check_anomalies(
    facts: &ReadinessFacts,
    policy: &BlockingPolicy,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut relevant: Vec<&AnomalyFact> = facts
        .open_anomalies
        .iter()
        .filter(|a| {
            a.partition
                .as_ref()
                .is_none_or(|p| related(&facts.partition, p))
        })
        .collect();
    relevant.sort_by(|a, b| {
        (a.id, a.severity, a.category, &a.partition, &a.message).cmp(&(
            b.id,
            b.severity,
            b.category,
            &b.partition,
            &b.message,
        ))
    });
    relevant.dedup();
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    let mut notices = Vec::new();
    for a in relevant {
        let text = format!(
            "{} {} anomaly #{}: {}",
            a.severity, a.category, a.id, a.message
        );
        if policy.blocks(facts.ready_for, a.severity) {
            blocking.push(format!("unresolved {text}"));
        } else if a.severity >= Severity::Warn {
            warnings.push(format!("open {text}"));
        } else {
            // INFO is information (a revision happened), not a reason for caution: it is
            // reported but does not turn READY into READY_WITH_WARNINGS.
            notices.push(format!("open {text}"));
        }
    }
    (blocking, warnings, notices)
}

/// Criterion 4.
fn check_dependencies(facts: &ReadinessFacts) -> Vec<String> {
    let stale: BTreeSet<String> = facts
        .dependencies
        .iter()
        .filter(|d| related(&facts.partition, &d.calc_partition))
        .filter_map(|d| {
            let used = format!(
                "{} for {} used {} {} capture {}",
                d.calc_table,
                label(&d.calc_partition),
                d.input_domain,
                d.input_partition.canonical(),
                d.consumed_capture_id
            );
            match &d.latest_capture_id {
                Some(latest) if *latest == d.consumed_capture_id => None,
                Some(latest) => Some(format!("{used} but the latest is {latest}")),
                None => Some(format!("{used} but that input has no capture now")),
            }
        })
        .collect();
    stale.into_iter().collect()
}

/// Criterion 5.
fn check_age(
    facts: &ReadinessFacts,
    present: &BTreeMap<&PartitionKey, &PartitionFacts>,
) -> Vec<String> {
    let Some(hours) = facts.preliminary_hours else {
        return Vec::new();
    };
    let hours = hours.max(0);
    let mut issues = Vec::new();
    for p in present.values() {
        let until = TimeDelta::try_hours(hours).and_then(|w| p.captured_at.checked_add_signed(w));
        let inside = until.is_none_or(|until| facts.now < until);
        if inside {
            let until = until.map_or_else(|| "the end of representable time".to_string(), stamp);
            issues.push(format!(
                "{} captured {}, still inside the {hours} h preliminary window until {until}",
                label(&p.partition),
                stamp(p.captured_at)
            ));
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;
    use spine_model::Tier;

    fn week() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn tier_key(t: Tier) -> PartitionKey {
        PartitionKey::week_tier(week(), t)
    }

    fn full(t: Tier, capture: &str) -> PartitionFacts {
        PartitionFacts {
            partition: tier_key(t),
            latest_capture_id: capture.to_string(),
            captured_at: at(2026, 1, 16, 9),
            furthest_stage: Some(Stage::Calc),
            required_stages: vec![Stage::Raw, Stage::Normalized, Stage::Calc],
            rows_accepted: None,
        }
    }

    fn calendar_dep(t: Tier, consumed: &str, latest: Option<&str>) -> DependencyFact {
        DependencyFact {
            calc_partition: tier_key(t),
            calc_table: "finra_otc_volume_per_day".into(),
            input_domain: Domain::parse(Domain::EXCHANGE_CALENDAR).unwrap(),
            input_partition: PartitionKey::new()
                .with("exchange_code", "XNYS")
                .with("year", "2025"),
            consumed_capture_id: consumed.into(),
            latest_capture_id: latest.map(String::from),
        }
    }

    fn anomaly(id: i64, severity: Severity, partition: Option<PartitionKey>) -> AnomalyFact {
        AnomalyFact {
            id,
            severity,
            category: Category::BusinessRule,
            partition,
            message: format!("problem {id}"),
        }
    }

    /// A week where everything holds: three tiers, complete, current, old enough.
    fn good_week() -> ReadinessFacts {
        ReadinessFacts {
            domain: Domain::parse(Domain::FINRA_OTC).unwrap(),
            partition: PartitionKey::week(week()),
            ready_for: ReadyFor::Trading,
            now: at(2026, 1, 20, 12),
            expected_partitions: Tier::ALL.iter().map(|t| tier_key(*t)).collect(),
            present: vec![
                full(Tier::NmsTier1, "cap_t1"),
                full(Tier::NmsTier2, "cap_t2"),
                full(Tier::Otc, "cap_otc"),
            ],
            open_anomalies: vec![],
            dependencies: Tier::ALL
                .iter()
                .map(|t| calendar_dep(*t, "cal_1", Some("cal_1")))
                .collect(),
            preliminary_hours: Some(48),
        }
    }

    fn decide(f: &ReadinessFacts) -> ReadinessVerdict {
        evaluate(f, &BlockingPolicy::default())
    }

    #[test]
    fn a_complete_week_is_ready_and_names_the_captures_judged() {
        let v = decide(&good_week());
        assert_eq!(v.status, ReadinessStatus::Ready);
        assert!(v.criteria.all());
        assert!(v.blocking_issues.is_empty());
        assert!(v.warnings.is_empty());
        assert!(v.is_ready());
        assert_eq!(v.captures_judged, ["cap_otc", "cap_t1", "cap_t2"]);
        assert_eq!(v.evaluated_at, at(2026, 1, 20, 12));
    }

    #[test]
    fn criterion_1_names_the_missing_tiers() {
        let mut f = good_week();
        f.present
            .retain(|p| p.partition.tier() == Some(Tier::NmsTier1));
        let v = decide(&f);
        assert_eq!(v.status, ReadinessStatus::NotReady);
        assert!(!v.criteria.all_partitions_present);
        assert!(v.criteria.all_stages_complete);
        assert_eq!(
            v.blocking_issues,
            [r#"missing tiers: NMS_TIER_2, OTC for {"week_ending":"2025-12-19"}"#]
        );
        assert_eq!(v.captures_judged, ["cap_t1"]);
    }

    #[test]
    fn criterion_1_lists_untiered_keys_one_by_one() {
        let key = |y: &str| {
            PartitionKey::new()
                .with("exchange_code", "XNYS")
                .with("year", y)
        };
        let f = ReadinessFacts {
            domain: Domain::parse(Domain::EXCHANGE_CALENDAR).unwrap(),
            partition: PartitionKey::new().with("exchange_code", "XNYS"),
            expected_partitions: vec![key("2025"), key("2026")],
            present: vec![PartitionFacts {
                partition: key("2025"),
                ..full(Tier::Otc, "cal_2025")
            }],
            dependencies: vec![],
            ..good_week()
        };
        let v = decide(&f);
        assert_eq!(
            v.blocking_issues,
            [r#"missing partition {"exchange_code":"XNYS","year":"2026"}"#]
        );
    }

    #[test]
    fn criterion_1_without_expectations_requires_some_capture() {
        let mut f = good_week();
        f.expected_partitions.clear();
        assert_eq!(decide(&f).status, ReadinessStatus::Ready);
        f.present.clear();
        let v = decide(&f);
        assert!(!v.criteria.all_partitions_present);
        assert_eq!(
            v.blocking_issues,
            [r#"no capture for partition {"week_ending":"2025-12-19"}"#]
        );
        // Vacuous criteria hold; criterion 1 is the one that says why.
        assert!(v.criteria.all_stages_complete && v.criteria.age_exceeds_preliminary);
        assert!(v.captures_judged.is_empty());
    }

    #[test]
    fn a_tier_evaluation_ignores_the_other_tiers() {
        let mut f = good_week();
        f.partition = tier_key(Tier::Otc);
        f.present.retain(|p| p.partition.tier() == Some(Tier::Otc));
        f.present.push(PartitionFacts {
            partition: PartitionKey::week_tier(
                NaiveDate::from_ymd_opt(2025, 12, 26).unwrap(),
                Tier::Otc,
            ),
            furthest_stage: None,
            ..full(Tier::Otc, "next_week")
        });
        f.open_anomalies = vec![anomaly(
            7,
            Severity::Critical,
            Some(tier_key(Tier::NmsTier2)),
        )];
        f.dependencies = vec![calendar_dep(Tier::NmsTier1, "cal_0", Some("cal_1"))];
        let v = decide(&f);
        assert_eq!(v.status, ReadinessStatus::Ready, "{:?}", v.blocking_issues);
        assert_eq!(v.captures_judged, ["cap_otc"]);
        // …but a week-level anomaly covers the tier.
        f.open_anomalies.push(anomaly(
            8,
            Severity::Critical,
            Some(PartitionKey::week(week())),
        ));
        let v = decide(&f);
        assert_eq!(
            v.blocking_issues,
            ["unresolved CRITICAL BUSINESS_RULE anomaly #8: problem 8"]
        );
    }

    #[test]
    fn criterion_2_says_where_the_latest_capture_stopped() {
        let mut f = good_week();
        f.present[2] = PartitionFacts {
            furthest_stage: Some(Stage::Normalized),
            ..full(Tier::Otc, "cap_x")
        };
        f.present[1] = PartitionFacts {
            furthest_stage: None,
            ..full(Tier::NmsTier2, "cap_y")
        };
        let v = decide(&f);
        assert!(!v.criteria.all_stages_complete);
        assert!(v.criteria.all_partitions_present);
        assert_eq!(
            v.blocking_issues,
            [
                "NMS_TIER_2 latest capture cap_y reached no stage (RAW, NORMALIZED, CALC not reached)",
                "OTC latest capture cap_x stopped at NORMALIZED (CALC not reached)",
            ]
        );
        // A pipeline that only needs RAW and NORMALIZED is complete at NORMALIZED.
        f.present[2].required_stages = vec![Stage::Raw, Stage::Normalized];
        f.present[1].furthest_stage = Some(Stage::Calc);
        assert_eq!(decide(&f).status, ReadinessStatus::Ready);
        // Empty required stages mean all of them.
        f.present[2].required_stages.clear();
        assert!(!decide(&f).criteria.all_stages_complete);
    }

    #[test]
    fn criterion_3_follows_the_policy_per_use() {
        let mut f = good_week();
        f.open_anomalies = vec![
            anomaly(12, Severity::Error, Some(tier_key(Tier::Otc))),
            anomaly(3, Severity::Info, None),
        ];
        let v = decide(&f);
        assert_eq!(v.status, ReadinessStatus::ReadyWithWarnings);
        assert!(v.criteria.no_critical_anomalies);
        assert_eq!(
            v.warnings,
            ["open ERROR BUSINESS_RULE anomaly #12: problem 12"]
        );
        assert_eq!(v.notices, ["open INFO BUSINESS_RULE anomaly #3: problem 3"]);
        f.ready_for = ReadyFor::Compliance;
        let v = decide(&f);
        assert_eq!(v.status, ReadinessStatus::NotReady);
        assert!(!v.criteria.no_critical_anomalies);
        assert_eq!(
            v.blocking_issues,
            ["unresolved ERROR BUSINESS_RULE anomaly #12: problem 12"]
        );
        assert!(v.warnings.is_empty());
        assert_eq!(v.notices, ["open INFO BUSINESS_RULE anomaly #3: problem 3"]);
        // Policy is data: make WARN block trading.
        let mut strict = BlockingPolicy::default();
        strict
            .min_blocking
            .insert(ReadyFor::Trading, Severity::Info);
        f.ready_for = ReadyFor::Trading;
        assert_eq!(evaluate(&f, &strict).blocking_issues.len(), 2);
    }

    #[test]
    fn criterion_4_names_the_stale_input() {
        let mut f = good_week();
        f.dependencies[2] = calendar_dep(Tier::Otc, "cap_a", Some("cap_b"));
        f.dependencies
            .push(calendar_dep(Tier::NmsTier1, "cap_a", None));
        let v = decide(&f);
        assert!(!v.criteria.dependencies_current);
        assert_eq!(
            v.blocking_issues,
            [
                r#"finra_otc_volume_per_day for NMS_TIER_1 used reference.exchange_calendar {"exchange_code":"XNYS","year":"2025"} capture cap_a but that input has no capture now"#,
                r#"finra_otc_volume_per_day for OTC used reference.exchange_calendar {"exchange_code":"XNYS","year":"2025"} capture cap_a but the latest is cap_b"#,
            ]
        );
    }

    #[test]
    fn criterion_5_waits_out_the_preliminary_window() {
        let mut f = good_week();
        f.present[0].captured_at = at(2026, 1, 20, 9);
        let v = decide(&f);
        assert!(!v.criteria.age_exceeds_preliminary);
        assert_eq!(
            v.blocking_issues,
            [
                "NMS_TIER_1 captured 2026-01-20T09:00:00Z, still inside the 48 h preliminary window until 2026-01-22T09:00:00Z"
            ]
        );
        // At the boundary the window has ended.
        f.now = at(2026, 1, 22, 9);
        assert!(decide(&f).criteria.age_exceeds_preliminary);
        f.now = at(2026, 1, 22, 8);
        assert!(!decide(&f).criteria.age_exceeds_preliminary);
        // No window → holds; a negative one counts as zero.
        f.preliminary_hours = None;
        assert!(decide(&f).criteria.age_exceeds_preliminary);
        f.preliminary_hours = Some(-5);
        f.now = at(2026, 1, 20, 9);
        assert!(decide(&f).criteria.age_exceeds_preliminary);
        // A window too large to represent never ends.
        f.preliminary_hours = Some(i64::MAX);
        let v = decide(&f);
        assert!(!v.criteria.age_exceeds_preliminary);
        assert!(v.blocking_issues[0].contains("end of representable time"));
    }

    #[test]
    fn every_failure_is_reported_in_criterion_order() {
        let mut f = good_week();
        f.present.remove(1);
        f.present[1].furthest_stage = Some(Stage::Raw);
        f.present[0].captured_at = at(2026, 1, 20, 0);
        f.open_anomalies = vec![anomaly(1, Severity::Critical, None)];
        f.dependencies[0].latest_capture_id = Some("cal_2".into());
        let v = decide(&f);
        assert_eq!(v.criteria, ReadinessCriteria::default());
        assert_eq!(v.blocking_issues.len(), 5);
        assert!(v.blocking_issues[0].starts_with("missing tiers: NMS_TIER_2"));
        assert!(v.blocking_issues[1].starts_with("OTC latest capture"));
        assert!(v.blocking_issues[2].starts_with("unresolved CRITICAL"));
        assert!(v.blocking_issues[3].starts_with("finra_otc_volume_per_day for NMS_TIER_1"));
        assert!(v.blocking_issues[4].starts_with("NMS_TIER_1 captured"));
    }

    #[test]
    fn a_week_level_capture_satisfies_tier_expectations() {
        let mut f = good_week();
        f.present = vec![PartitionFacts {
            partition: PartitionKey::week(week()),
            ..full(Tier::Otc, "cap_week")
        }];
        let v = decide(&f);
        assert!(v.criteria.all_partitions_present, "{:?}", v.blocking_issues);
        assert_eq!(v.captures_judged, ["cap_week"]);
    }

    #[test]
    fn the_verdict_serializes_with_the_stores_field_names() {
        let v = decide(&good_week());
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["status"], "READY");
        assert_eq!(json["ready_for"], "trading");
        assert_eq!(json["partition"]["week_ending"], "2025-12-19");
        assert_eq!(json["criteria"]["age_exceeds_preliminary"], true);
        let back: ReadinessVerdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }

    // ---- property tests -------------------------------------------------------------------

    fn arb_tier() -> impl Strategy<Value = Tier> {
        prop::sample::select(Tier::ALL.to_vec())
    }

    fn arb_stage() -> impl Strategy<Value = Option<Stage>> {
        prop::option::of(prop::sample::select(Stage::ALL.to_vec()))
    }

    fn arb_severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(Severity::ALL.to_vec())
    }

    fn arb_facts() -> impl Strategy<Value = ReadinessFacts> {
        let present = prop::collection::vec(
            (arb_tier(), arb_stage(), 0i64..200, 0u8..3).prop_map(|(t, stage, age_h, cap)| {
                PartitionFacts {
                    partition: tier_key(t),
                    latest_capture_id: format!("cap_{}_{cap}", t.as_str()),
                    captured_at: at(2026, 1, 20, 12) - TimeDelta::hours(age_h),
                    furthest_stage: stage,
                    required_stages: vec![],
                    rows_accepted: None,
                }
            }),
            0..5,
        );
        let anomalies = prop::collection::vec(
            (0i64..20, arb_severity(), prop::option::of(arb_tier())).prop_map(|(id, s, t)| {
                AnomalyFact {
                    id,
                    severity: s,
                    category: Category::Completeness,
                    partition: t.map(tier_key),
                    message: format!("m{id}"),
                }
            }),
            0..5,
        );
        let deps = prop::collection::vec(
            (arb_tier(), any::<bool>(), any::<bool>()).prop_map(|(t, current, has_latest)| {
                let latest = match (has_latest, current) {
                    (false, _) => None,
                    (true, true) => Some("cal_1"),
                    (true, false) => Some("cal_2"),
                };
                calendar_dep(t, "cal_1", latest)
            }),
            0..4,
        );
        let expected = prop::collection::vec(arb_tier().prop_map(tier_key), 0..4);
        let eval = prop::option::of(arb_tier())
            .prop_map(|t| t.map_or_else(|| PartitionKey::week(week()), tier_key));
        let use_ = prop::sample::select(ReadyFor::ALL.to_vec());
        let window = prop::option::of(-10i64..100);
        (eval, use_, expected, present, anomalies, deps, window).prop_map(
            |(
                partition,
                ready_for,
                expected_partitions,
                present,
                open_anomalies,
                dependencies,
                preliminary_hours,
            )| {
                ReadinessFacts {
                    domain: Domain::parse(Domain::FINRA_OTC).unwrap(),
                    partition,
                    ready_for,
                    now: at(2026, 1, 20, 12),
                    expected_partitions,
                    present,
                    open_anomalies,
                    dependencies,
                    preliminary_hours,
                }
            },
        )
    }

    fn rank(s: ReadinessStatus) -> u8 {
        match s {
            ReadinessStatus::NotReady => 0,
            ReadinessStatus::ReadyWithWarnings => 1,
            ReadinessStatus::Ready => 2,
        }
    }

    proptest! {
        #[test]
        fn issues_exist_exactly_when_a_criterion_fails(f in arb_facts()) {
            let v = decide(&f);
            prop_assert_eq!(v.blocking_issues.is_empty(), v.criteria.all());
            prop_assert_eq!(v.status == ReadinessStatus::NotReady, !v.criteria.all());
            prop_assert_eq!(
                v.status == ReadinessStatus::ReadyWithWarnings,
                v.criteria.all() && !v.warnings.is_empty()
            );
            prop_assert!(v.captures_judged.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn the_order_of_the_facts_does_not_matter(f in arb_facts()) {
            let mut r = f.clone();
            r.expected_partitions.reverse();
            r.present.reverse();
            r.open_anomalies.reverse();
            r.dependencies.reverse();
            let (a, b) = (decide(&f), decide(&r));
            // Only the choice between two facts for the same partition with equal timestamps
            // could depend on order; the tie-break on capture id makes it not.
            prop_assert_eq!(a, b);
        }

        #[test]
        fn a_blocking_anomaly_always_blocks(f in arb_facts(), id in 100i64..200) {
            let mut g = f.clone();
            g.open_anomalies.push(anomaly(id, Severity::Critical, None));
            let v = decide(&g);
            prop_assert_eq!(v.status, ReadinessStatus::NotReady);
            prop_assert!(!v.criteria.no_critical_anomalies);
            let needle = format!("#{id}:");
            prop_assert!(v.blocking_issues.iter().any(|i| i.contains(&needle)));
        }

        #[test]
        fn more_anomalies_or_a_stricter_policy_never_help(
            f in arb_facts(),
            extra in (arb_severity(), prop::option::of(arb_tier())),
            threshold in arb_severity(),
        ) {
            let base = decide(&f);
            let mut g = f.clone();
            g.open_anomalies.push(AnomalyFact {
                id: 999,
                severity: extra.0,
                category: Category::Consistency,
                partition: extra.1.map(tier_key),
                message: "extra".into(),
            });
            prop_assert!(rank(decide(&g).status) <= rank(base.status));
            let mut strict = BlockingPolicy::default();
            for u in ReadyFor::ALL {
                let t = strict.threshold(*u).min(threshold);
                strict.min_blocking.insert(*u, t);
            }
            prop_assert!(rank(evaluate(&f, &strict).status) <= rank(base.status));
        }

        #[test]
        fn time_only_helps(f in arb_facts(), later in 0i64..500) {
            let mut g = f.clone();
            g.now = f.now + TimeDelta::hours(later);
            let (a, b) = (decide(&f), decide(&g));
            prop_assert!(!a.criteria.age_exceeds_preliminary || b.criteria.age_exceeds_preliminary);
            prop_assert!(rank(b.status) >= rank(a.status));
        }
    }
}
