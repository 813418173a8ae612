//! Notifications end to end on every backend (SQLite, and PostgreSQL when
//! `SPINE_TEST_POSTGRES_URL` is set): the outbox records transitions only and nothing for a
//! rolled-back change; deliveries reach loopback receivers (an HTTP receiver verifying
//! signatures, an SMTP sink) once, with a stable id across retries; failures become one ERROR
//! anomaly; digests are one message per day; two concurrent deliverers send each delivery once.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use spine_model::{
    Category, Channel, DeliveryState, DigestMode, Domain, EventKind, PartitionKey,
    ReadinessCriteria, ReadinessStatus, ReadyFor, Severity, Tier,
};
use spine_notify::{DeliverOptions, SmtpSettings, deliver_due};
use spine_store::anomalies::{AnomalyFilter, NewAnomaly};
use spine_store::captures::NewCapture;
use spine_store::readiness::Evaluation;
use spine_store::subscriptions::NewSubscription;
use spine_store::test_support::for_each_backend;
use spine_store::{
    Store, TransactionTrait, anomalies, captures, deliveries, events, readiness, subscriptions,
};
use support::{Receiver, SmtpSink};

const SECRET: &str = "s3cret-signing-key";
const SECRET_VAR: &str = "DESK_HOOK_KEY";

fn t(day: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, day, h, 0, 0).unwrap()
}

fn finra() -> Domain {
    Domain::parse(Domain::FINRA_OTC).unwrap()
}

fn week() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 19).unwrap()
}

fn otc() -> PartitionKey {
    PartitionKey::week_tier(week(), Tier::Otc)
}

fn opts(worker: &str) -> DeliverOptions {
    DeliverOptions {
        worker_id: worker.to_string(),
        max_attempts: 3,
        base_backoff: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
        secrets: Some(HashMap::from([(
            SECRET_VAR.to_string(),
            SECRET.to_string(),
        )])),
        ..DeliverOptions::default()
    }
}

fn evaluation(status: ReadinessStatus, ready_for: ReadyFor, at: DateTime<Utc>) -> Evaluation {
    let ready = status != ReadinessStatus::NotReady;
    Evaluation {
        domain: finra(),
        partition: PartitionKey::week(week()),
        ready_for,
        status,
        criteria: ReadinessCriteria {
            all_partitions_present: ready,
            all_stages_complete: true,
            no_critical_anomalies: true,
            dependencies_current: true,
            age_exceeds_preliminary: true,
        },
        blocking_issues: if ready {
            vec![]
        } else {
            vec!["tier NMS_TIER_2 is missing".into()]
        },
        captures_judged: vec!["cap_a".into()],
        evaluated_at: at,
        evaluated_by: "desk-ops".into(),
    }
}

fn anomaly(cause: &str, at: DateTime<Utc>) -> NewAnomaly {
    NewAnomaly {
        partition: Some(otc()),
        cause: Some(cause.to_string()),
        ..NewAnomaly::new(
            finra(),
            Severity::Error,
            Category::Completeness,
            format!("fewer symbols than the baseline ({cause})"),
            at,
        )
    }
}

fn webhook(name: &str, url: &str) -> NewSubscription {
    NewSubscription {
        name: name.to_string(),
        channel: Channel::Webhook,
        target: url.to_string(),
        domain: None,
        ready_for: None,
        events: vec![],
        min_severity: None,
        secret_env: Some(SECRET_VAR.to_string()),
        digest: DigestMode::None,
    }
}

async fn kinds(store: &Store, kind: EventKind) -> Vec<events::Event> {
    events::list(store.conn(), Some(kind)).await.unwrap()
}

async fn notification_anomalies(store: &Store) -> Vec<anomalies::Anomaly> {
    anomalies::list(
        store.conn(),
        &AnomalyFilter {
            category: Some(Category::Notification),
            unresolved_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn verdicts_announce_transitions_only_and_a_rollback_announces_nothing() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let r = ReadyFor::Trading;
        readiness::record_evaluation(conn, evaluation(ReadinessStatus::NotReady, r, t(22, 9)))
            .await
            .unwrap();
        // The same verdict again, twice: nothing new.
        for h in [10, 11] {
            readiness::record_evaluation(conn, evaluation(ReadinessStatus::NotReady, r, t(22, h)))
                .await
                .unwrap();
        }
        readiness::record_evaluation(conn, evaluation(ReadinessStatus::Ready, r, t(22, 12)))
            .await
            .unwrap();
        let changed = kinds(&db.store, EventKind::ReadinessChanged).await;
        assert_eq!(
            changed.len(),
            2,
            "{}: first verdict and one move",
            db.backend
        );
        assert_eq!(changed[0].payload["previous_status"], Value::Null);
        assert_eq!(changed[0].payload["status"], "NOT_READY");
        assert_eq!(
            changed[0].payload["blocking_issues"][0],
            "tier NMS_TIER_2 is missing"
        );
        assert_eq!(changed[1].payload["previous_status"], "NOT_READY");
        assert_eq!(changed[1].payload["status"], "READY");
        assert_eq!(changed[1].ready_for.as_deref(), Some("trading"));

        // A change whose transaction rolls back leaves no event behind.
        let txn = db.store.begin().await.unwrap();
        anomalies::record(&txn, anomaly("rolled_back", t(22, 13)))
            .await
            .unwrap();
        assert_eq!(
            events::list(&txn, Some(EventKind::AnomalyOpened))
                .await
                .unwrap()
                .len(),
            1,
            "visible inside its transaction"
        );
        txn.rollback().await.unwrap();
        assert!(
            kinds(&db.store, EventKind::AnomalyOpened).await.is_empty(),
            "{}: a rolled-back anomaly left an event",
            db.backend
        );
        // And a rolled-back verdict change leaves neither the verdict nor its event.
        let txn = conn.begin().await.unwrap();
        readiness::record_evaluation(&txn, evaluation(ReadinessStatus::NotReady, r, t(22, 14)))
            .await
            .unwrap();
        txn.rollback().await.unwrap();
        assert_eq!(kinds(&db.store, EventKind::ReadinessChanged).await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn an_anomaly_kept_open_is_announced_once_and_its_resolution_once() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        for h in [9, 10, 11] {
            anomalies::record_once(conn, anomaly("few_symbols", t(22, h)))
                .await
                .unwrap();
        }
        let opened = kinds(&db.store, EventKind::AnomalyOpened).await;
        assert_eq!(opened.len(), 1, "{}", db.backend);
        assert_eq!(opened[0].severity.as_deref(), Some("ERROR"));
        assert_eq!(opened[0].payload["category"], "COMPLETENESS");
        let id = opened[0].payload["anomaly_id"].as_i64().unwrap();
        anomalies::resolve(conn, id, "vendor re-sent the file", t(22, 12))
            .await
            .unwrap();
        assert!(
            anomalies::resolve(conn, id, "again", t(22, 13))
                .await
                .is_err()
        );
        let resolved = kinds(&db.store, EventKind::AnomalyResolved).await;
        assert_eq!(resolved.len(), 1);
        assert_eq!(
            resolved[0].payload["resolution_note"],
            "vendor re-sent the file"
        );
    })
    .await;
}

#[tokio::test]
async fn a_revision_invalidates_the_certification_and_tells_its_signer() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let capture = |hash: &str, at| NewCapture {
            domain: finra(),
            partition: otc(),
            content_hash: hash.to_string(),
            source_locator: "file:///otc.psv".into(),
            source_last_update: None,
            captured_at: at,
            rows_read: 10,
            rows_accepted: 10,
            rows_rejected: 0,
            metadata: None,
        };
        let first = captures::record(conn, capture("aaa", t(22, 8)))
            .await
            .unwrap();
        let old_id = first.capture().capture_id.clone();
        let mut eval = evaluation(ReadinessStatus::Ready, ReadyFor::Trading, t(22, 9));
        eval.captures_judged = vec![old_id.clone()];
        readiness::record_evaluation(conn, eval).await.unwrap();

        // The signer subscribed to work failures only: it still hears about its certification.
        let receiver = Receiver::start(SECRET, 0, 500).await;
        let mut signer = webhook("desk-ops", &receiver.url);
        signer.events = vec![EventKind::WorkFailed];
        subscriptions::add(conn, signer, t(22, 9)).await.unwrap();

        let revised = captures::record(conn, capture("bbb", t(23, 8)))
            .await
            .unwrap();
        let new_id = revised.capture().capture_id.clone();
        assert_eq!(kinds(&db.store, EventKind::CaptureRevised).await.len(), 1);
        let invalidated = kinds(&db.store, EventKind::CertificationInvalidated).await;
        assert_eq!(invalidated.len(), 1, "{}", db.backend);
        let p = &invalidated[0].payload;
        assert_eq!(p["certified_by"], "desk-ops");
        assert_eq!(p["old_capture_id"], old_id.as_str());
        assert_eq!(p["new_capture_id"], new_id.as_str());
        assert_eq!(p["certification"]["ready_for"], "trading");

        deliver_due(conn, t(23, 9), &opts("w1")).await.unwrap();
        let got = receiver.accepted();
        assert_eq!(got.len(), 1, "only the invalidation reaches the signer");
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["event"], "certification.invalidated");
        assert!(got[0].signature_ok);
    })
    .await;
}

#[tokio::test]
async fn a_failed_webhook_is_retried_with_the_same_id_and_delivered_once() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let receiver = Receiver::start(SECRET, 1, 500).await;
        subscriptions::add(conn, webhook("trading-desk", &receiver.url), t(22, 8))
            .await
            .unwrap();
        readiness::record_evaluation(
            conn,
            evaluation(ReadinessStatus::NotReady, ReadyFor::Trading, t(22, 9)),
        )
        .await
        .unwrap();

        let first = deliver_due(conn, t(22, 9), &opts("w1")).await.unwrap();
        assert_eq!((first.delivered, first.retrying), (0, 1), "{}", db.backend);
        // Not due yet: the backoff runs on the run clock.
        let early = deliver_due(conn, t(22, 9), &opts("w1")).await.unwrap();
        assert!(early.attempts.is_empty());
        let second = deliver_due(conn, t(22, 10), &opts("w1")).await.unwrap();
        assert_eq!(second.delivered, 1);
        // Further passes send nothing.
        deliver_due(conn, t(22, 11), &opts("w1")).await.unwrap();
        deliver_due(conn, t(23, 11), &opts("w1")).await.unwrap();

        let got = receiver.received();
        assert_eq!(got.len(), 2, "one 500, then one success");
        assert_eq!(got[0].status, 500);
        assert_eq!(got[1].status, 200);
        assert_eq!(got[0].delivery_id, got[1].delivery_id, "stable delivery id");
        assert!(got.iter().all(|r| r.signature_ok), "signatures verify");
        let body: Value = serde_json::from_str(&got[1].body).unwrap();
        if db.backend == "sqlite" {
            println!(
                "--- webhook ---\n{}",
                serde_json::to_string_pretty(&body).unwrap()
            );
        }
        assert_eq!(body["id"], got[1].delivery_id.as_str());
        assert_eq!(body["event"], "readiness.changed");
        assert_eq!(body["domain"], "finra.otc_transparency");
        assert_eq!(body["partition_key"]["week_ending"], "2025-12-19");
        assert_eq!(body["ready_for"], "trading");
        assert_eq!(body["status"], "NOT_READY");
        assert_eq!(body["previous_status"], Value::Null);
        assert_eq!(body["capture_id"], "cap_a");
        assert!(body["occurred_at"].is_string());
        assert!(body["details"]["blocking_issues"].is_array());

        let sub = subscriptions::get(conn, "trading-desk")
            .await
            .unwrap()
            .unwrap();
        let log = deliveries::of_subscription(conn, sub.id).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].state, DeliveryState::Delivered.as_str());
        assert_eq!(log[0].attempts, 2);
        assert!(notification_anomalies(&db.store).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn exhausted_retries_become_one_error_anomaly_and_a_4xx_is_not_retried() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let down = Receiver::start(SECRET, usize::MAX, 503).await;
        let refusing = Receiver::start(SECRET, usize::MAX, 400).await;
        subscriptions::add(conn, webhook("down", &down.url), t(22, 8))
            .await
            .unwrap();
        subscriptions::add(conn, webhook("refusing", &refusing.url), t(22, 8))
            .await
            .unwrap();
        anomalies::record_once(conn, anomaly("few_symbols", t(22, 9)))
            .await
            .unwrap();
        for h in 9..16 {
            deliver_due(conn, t(22, h), &opts("w1")).await.unwrap();
        }
        // The failures' own anomalies are events too, sent to every subscription (the alert
        // about the alert channel): count the attempts per delivery.
        let per_id = |r: &Receiver| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for x in r.received() {
                *counts.entry(x.delivery_id).or_default() += 1;
            }
            counts
        };
        let down_sub = subscriptions::get(conn, "down").await.unwrap().unwrap();
        let refusing_sub = subscriptions::get(conn, "refusing").await.unwrap().unwrap();
        let first = kinds(&db.store, EventKind::AnomalyOpened).await[0].id;
        let down_counts = per_id(&down);
        assert_eq!(
            down_counts[&spine_notify::event_delivery_id(down_sub.id, first)],
            3,
            "{}: max_attempts",
            db.backend
        );
        assert!(down_counts.values().all(|n| *n <= 3));
        let refusing_counts = per_id(&refusing);
        assert!(
            refusing_counts.values().all(|n| *n == 1),
            "a 400 is not retried: {refusing_counts:?}"
        );
        assert!(
            refusing_counts.contains_key(&spine_notify::event_delivery_id(refusing_sub.id, first))
        );
        // The other subscription heard about each failure.
        let opened = kinds(&db.store, EventKind::AnomalyOpened).await;
        assert!(
            opened
                .iter()
                .any(|e| e.payload["category"] == "NOTIFICATION"),
            "the failure is an event too"
        );
        let alarms = notification_anomalies(&db.store).await;
        assert_eq!(alarms.len(), 2, "one per failing subscription");
        assert!(alarms.iter().all(|a| a.severity == "ERROR"));
        assert!(alarms.iter().all(|a| a.domain == "finra.otc_transparency"));
        assert!(
            alarms
                .iter()
                .any(|a| a.message.contains("`down`") && a.message.contains("503")),
            "{alarms:?}"
        );
        let failed = deliveries::in_state(conn, DeliveryState::Failed)
            .await
            .unwrap();
        assert!(failed.len() >= 2);
        assert!(failed.iter().all(|d| d.last_error.is_some()));
    })
    .await;
}

#[tokio::test]
async fn a_missing_secret_is_one_anomaly_and_no_retry() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let receiver = Receiver::start(SECRET, 0, 500).await;
        let mut sub = webhook("unsigned", &receiver.url);
        sub.secret_env = Some("SPINE_TEST_UNSET_SECRET".into());
        subscriptions::add(conn, sub, t(22, 8)).await.unwrap();
        anomalies::record_once(conn, anomaly("a", t(22, 9)))
            .await
            .unwrap();
        anomalies::record_once(conn, anomaly("b", t(22, 9)))
            .await
            .unwrap();
        for h in 9..12 {
            deliver_due(conn, t(22, h), &opts("w1")).await.unwrap();
        }
        assert!(receiver.received().is_empty());
        let failed = deliveries::in_state(conn, DeliveryState::Failed)
            .await
            .unwrap();
        assert!(failed.len() >= 2, "{}", db.backend);
        assert!(failed.iter().all(|d| d.attempts == 1), "no retry storm");
        let alarms = notification_anomalies(&db.store).await;
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].message.contains("SPINE_TEST_UNSET_SECRET"));
    })
    .await;
}

#[tokio::test]
async fn a_trading_subscription_hears_trading_verdicts_only() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let trading = Receiver::start(SECRET, 0, 500).await;
        let compliance = Receiver::start(SECRET, 0, 500).await;
        let mut t_sub = webhook("trading-desk", &trading.url);
        t_sub.ready_for = Some(ReadyFor::Trading);
        t_sub.events = vec![EventKind::ReadinessChanged];
        let mut c_sub = webhook("compliance", &compliance.url);
        c_sub.ready_for = Some(ReadyFor::Compliance);
        c_sub.events = vec![EventKind::ReadinessChanged];
        subscriptions::add(conn, t_sub, t(22, 8)).await.unwrap();
        subscriptions::add(conn, c_sub, t(22, 8)).await.unwrap();
        for r in [ReadyFor::Trading, ReadyFor::Compliance, ReadyFor::Research] {
            readiness::record_evaluation(conn, evaluation(ReadinessStatus::Ready, r, t(22, 9)))
                .await
                .unwrap();
        }
        deliver_due(conn, t(22, 9), &opts("w1")).await.unwrap();
        let uses = |r: &Receiver| {
            r.accepted()
                .iter()
                .map(|x| {
                    serde_json::from_str::<Value>(&x.body).unwrap()["ready_for"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(uses(&trading), ["trading"], "{}", db.backend);
        assert_eq!(uses(&compliance), ["compliance"]);
    })
    .await;
}

#[tokio::test]
async fn a_daily_digest_is_one_email_per_day_after_the_day() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let sink = SmtpSink::start().await;
        subscriptions::add(
            conn,
            NewSubscription {
                name: "compliance".into(),
                channel: Channel::Email,
                target: "compliance@example.com".into(),
                domain: Some(finra()),
                ready_for: Some(ReadyFor::Compliance),
                events: vec![],
                min_severity: None,
                secret_env: None,
                digest: DigestMode::Daily,
            },
            t(22, 8),
        )
        .await
        .unwrap();
        anomalies::record_once(conn, anomaly("few_symbols", t(22, 9)))
            .await
            .unwrap();
        readiness::record_evaluation(
            conn,
            evaluation(ReadinessStatus::NotReady, ReadyFor::Compliance, t(22, 10)),
        )
        .await
        .unwrap();
        // A trading verdict the same day is not for this subscription.
        readiness::record_evaluation(
            conn,
            evaluation(ReadinessStatus::Ready, ReadyFor::Trading, t(22, 10)),
        )
        .await
        .unwrap();
        let mut o = opts("w1");
        o.smtp = Some(SmtpSettings::parse(&sink.url).unwrap());
        deliver_due(conn, t(22, 18), &o).await.unwrap();
        assert!(
            sink.mails().is_empty(),
            "{}: the day is not over",
            db.backend
        );
        // The next day: one message for the 22nd; a later event goes to the 23rd's digest.
        anomalies::record_once(conn, anomaly("late", t(23, 9)))
            .await
            .unwrap();
        deliver_due(conn, t(23, 10), &o).await.unwrap();
        deliver_due(conn, t(23, 11), &o).await.unwrap();
        let mails = sink.mails();
        assert_eq!(mails.len(), 1, "one digest for the 22nd");
        let data = &mails[0].data;
        assert!(
            data.contains("Daily digest for 2025-12-22: 2 events"),
            "{data}"
        );
        assert!(data.contains("multipart/alternative"), "{data}");
        assert!(data.contains("text/html"), "{data}");
        assert!(mails[0].to[0].contains("compliance@example.com"));
        deliver_due(conn, t(24, 1), &o).await.unwrap();
        assert_eq!(sink.mails().len(), 2, "the 23rd's digest");
        deliver_due(conn, t(25, 1), &o).await.unwrap();
        assert_eq!(sink.mails().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_deliverers_send_each_delivery_once() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let receiver = Receiver::start(SECRET, 0, 500).await;
        subscriptions::add(conn, webhook("ops", &receiver.url), t(22, 8))
            .await
            .unwrap();
        for i in 0..12 {
            anomalies::record_once(conn, anomaly(&format!("cause_{i}"), t(22, 9)))
                .await
                .unwrap();
        }
        let mut a_opts = opts("worker-a");
        a_opts.batch = 3;
        let mut b_opts = opts("worker-b");
        b_opts.batch = 3;
        for _ in 0..6 {
            let (a, b) = tokio::join!(
                deliver_due(conn, t(22, 9), &a_opts),
                deliver_due(conn, t(22, 9), &b_opts)
            );
            a.unwrap();
            b.unwrap();
        }
        let got = receiver.accepted();
        let mut ids: Vec<&str> = got.iter().map(|r| r.delivery_id.as_str()).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(
            before,
            ids.len(),
            "{}: a delivery was sent twice",
            db.backend
        );
        assert_eq!(ids.len(), 12);
    })
    .await;
}

#[tokio::test]
async fn slack_and_email_say_the_week_the_use_what_changed_and_the_command() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let slack = Receiver::start(SECRET, 0, 500).await;
        let sink = SmtpSink::start().await;
        let mut s = webhook("ops-slack", &slack.url);
        s.channel = Channel::Slack;
        s.secret_env = None;
        s.ready_for = Some(ReadyFor::Trading);
        s.events = vec![EventKind::ReadinessChanged];
        subscriptions::add(conn, s, t(22, 8)).await.unwrap();
        subscriptions::add(
            conn,
            NewSubscription {
                name: "desk-mail".into(),
                channel: Channel::Email,
                target: "desk@example.com".into(),
                domain: Some(finra()),
                ready_for: Some(ReadyFor::Trading),
                events: vec![EventKind::ReadinessChanged],
                min_severity: None,
                secret_env: None,
                digest: DigestMode::None,
            },
            t(22, 8),
        )
        .await
        .unwrap();
        let r = ReadyFor::Trading;
        readiness::record_evaluation(conn, evaluation(ReadinessStatus::Ready, r, t(22, 9)))
            .await
            .unwrap();
        readiness::record_evaluation(conn, evaluation(ReadinessStatus::NotReady, r, t(23, 9)))
            .await
            .unwrap();
        let mut o = opts("w1");
        o.smtp = Some(SmtpSettings::parse(&sink.url).unwrap());
        deliver_due(conn, t(23, 9), &o).await.unwrap();

        let texts: Vec<String> = slack
            .accepted()
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(texts.len(), 2, "{}", db.backend);
        let moved = &texts[1];
        assert!(moved.contains("week 2025-12-19"), "{moved}");
        assert!(moved.contains("for trading: READY -> NOT_READY"), "{moved}");
        assert!(moved.contains("Blocking: tier NMS_TIER_2 is missing"), "{moved}");
        assert!(
            moved.contains(
                "`spine readiness finra.otc_transparency --week-ending 2025-12-19 --for trading --dry-run`"
            ),
            "{moved}"
        );
        let mails = sink.mails();
        assert_eq!(mails.len(), 2);
        let mail = &mails[1].data;
        assert!(mail.contains("Subject: [spine] finra.otc_transparency week 2025-12-19 for trading: READY"), "{mail}");
        assert!(mail.contains("text/plain") && mail.contains("text/html"), "{mail}");
        if db.backend == "sqlite" {
            println!("--- slack ---\n{}\n--- email ---\n{}", slack.accepted()[1].body, mail);
        }
    })
    .await;
}

#[tokio::test]
async fn a_work_item_failing_for_good_is_announced_once() {
    use spine_model::WorkKind;
    use spine_store::work_items::{self, NewWorkItem, Settle};
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let (item, _) = work_items::enqueue(
            conn,
            NewWorkItem {
                domain: finra(),
                pipeline: "ingest".into(),
                kind: WorkKind::Fetch,
                partition: otc(),
                params: None,
                desired_at: t(22, 8),
                priority: 100,
                max_attempts: 2,
            },
            t(22, 8),
        )
        .await
        .unwrap();
        let now = Utc::now();
        let claimed = work_items::claim_next(
            conn,
            "w1",
            t(22, 8),
            now,
            now + chrono::Duration::minutes(5),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(claimed.item.id, item.id);
        work_items::settle(
            conn,
            item.id,
            "w1",
            Settle::Fail {
                error: "HTTP 404 from the source".into(),
            },
            t(22, 9),
        )
        .await
        .unwrap();
        // Settling again as a worker that no longer holds it changes nothing and says nothing.
        work_items::settle(
            conn,
            item.id,
            "w1",
            Settle::Fail { error: "x".into() },
            t(22, 10),
        )
        .await
        .unwrap();
        let failed = kinds(&db.store, EventKind::WorkFailed).await;
        assert_eq!(failed.len(), 1, "{}", db.backend);
        assert_eq!(failed[0].severity.as_deref(), Some("ERROR"));
        assert_eq!(failed[0].payload["error"], "HTTP 404 from the source");
    })
    .await;
}

#[tokio::test]
async fn a_missed_partition_is_announced_as_schedule_missed_once() {
    for_each_backend(|db| async move {
        let conn = db.store.conn();
        let missed = || NewAnomaly {
            partition: Some(otc()),
            cause: Some("missed".into()),
            ..NewAnomaly::new(
                finra(),
                Severity::Error,
                Category::Schedule,
                "OTC for week 2025-12-19 was due 2026-01-20T12:00:00Z and has not arrived",
                t(22, 9),
            )
        };
        anomalies::record_once(conn, missed()).await.unwrap();
        anomalies::record_once(conn, missed()).await.unwrap();
        let missed_events = kinds(&db.store, EventKind::ScheduleMissed).await;
        assert_eq!(missed_events.len(), 1, "{}", db.backend);
        assert_eq!(
            missed_events[0].partition_key.as_deref(),
            Some(otc().canonical().as_str())
        );
        assert_eq!(kinds(&db.store, EventKind::AnomalyOpened).await.len(), 1);
    })
    .await;
}
