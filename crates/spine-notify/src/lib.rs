//! Market Spine's notifications: telling people on transitions, at least once, never twice at
//! the same time.
//!
//! The store writes events into the outbox (`core_events`) in the same transaction as the change
//! that causes them (see `spine_store::events`). This crate does the rest, in
//! [`deliver_due`], which the worker calls at the end of every pass:
//!
//! 1. **Fan-out**: every event not yet fanned out becomes one delivery per matching subscription
//!    ([`matches`]), with a stable id derived from (subscription, event) — or, for a daily digest
//!    subscription, joins the delivery of (subscription, the event's UTC day), due once that day
//!    is over. Fan-out runs in one write transaction and deliveries are created `ON CONFLICT DO
//!    NOTHING`, so two workers fanning out at once create each delivery once.
//! 2. **Sending**: due deliveries are claimed with a lease (`spine_store::deliveries::claim_due`)
//!    and sent over their channel ([`channels`]). A retryable failure schedules the next attempt
//!    with exponential backoff on the run clock; a permanent one, or the last attempt, marks the
//!    delivery FAILED and records one ERROR anomaly (category NOTIFICATION, one open per
//!    subscription) on the subscription's domain, which `spine doctor` and `/metrics` show. A
//!    secret variable that is not set fails the delivery at once with the same kind of anomaly:
//!    no crash, no retry storm.
//!
//! The crate depends on `spine-store` and `spine-model` only: the engine never depends on it
//! (`cargo xtask tidy` checks both directions).

pub mod channels;
pub mod message;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use spine_model::{Category, Channel, DigestMode, Domain, EventKind, Severity};
use spine_store::anomalies::{self, NewAnomaly};
use spine_store::deliveries::{self, Content, Delivery, Outcome};
use spine_store::events::{self, Event, EventExt};
use spine_store::subscriptions::{self, Subscription, SubscriptionExt};
use spine_store::{DatabaseConnection, StoreError};

pub use channels::{SmtpSettings, sign, verify};
use message::Notice;

/// The anomaly cause of a delivery given up on (one open anomaly per subscription).
pub const CAUSE_FAILED: &str = "notification_failed";
/// The anomaly cause of a subscription whose secret variable is not set.
pub const CAUSE_SECRET_MISSING: &str = "notification_secret_missing";
/// The domain an anomaly is recorded on when neither the subscription nor its events name one.
pub const FALLBACK_DOMAIN: &str = "spine.notifications";

/// Why notifying failed as a whole (a failed send is not an error: it is recorded and retried).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No subscription by that name.
    #[error("no subscription named `{0}` (see `spine subscriptions list`)")]
    NoSuchSubscription(String),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Setup(String),
}

/// How [`deliver_due`] sends.
#[derive(Debug, Clone)]
pub struct DeliverOptions {
    /// This worker's id, for leases.
    pub worker_id: String,
    /// Attempts before a delivery is FAILED.
    pub max_attempts: i32,
    /// The wait before the second attempt; doubled for each later one.
    pub base_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Each send's timeout (connect and whole request).
    pub timeout: Duration,
    /// How long a claimed delivery stays claimed (wall clock) before another worker may take it.
    pub lease: Duration,
    /// At most this many deliveries per call.
    pub batch: u64,
    /// The SMTP server email subscriptions are sent through (`SPINE_SMTP_URL`).
    pub smtp: Option<SmtpSettings>,
    /// Where secrets are read: the process environment (`None`, production), or this map of
    /// variable name to value (tests, which must not mutate a multi-threaded process's
    /// environment).
    pub secrets: Option<std::collections::HashMap<String, String>>,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        DeliverOptions {
            worker_id: "spine".to_string(),
            max_attempts: 5,
            base_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(300),
            batch: 200,
            smtp: None,
            secrets: None,
        }
    }
}

/// What one delivery attempt did, for the worker's output.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// The delivery id.
    pub delivery_id: String,
    /// The subscription's name.
    pub subscription: String,
    /// `DELIVERED`, `RETRY` or `FAILED`.
    pub outcome: &'static str,
    /// The failure, if any.
    pub error: Option<String>,
}

/// What [`deliver_due`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    /// Events fanned out.
    pub events: usize,
    /// Deliveries created by the fan-out.
    pub created: usize,
    /// Sent and accepted.
    pub delivered: usize,
    /// Failed, to be retried.
    pub retrying: usize,
    /// Given up on.
    pub failed: usize,
    /// Every attempt made.
    pub attempts: Vec<Sent>,
}

impl DeliveryReport {
    /// One line for the worker's output.
    pub fn summary(&self) -> String {
        format!(
            "notifications: {} new event(s), {} delivery(ies) created, {} delivered, {} to retry, {} failed",
            self.events, self.created, self.delivered, self.retrying, self.failed
        )
    }
}

/// Fans out new events and sends every delivery due at `now` (the run clock). See the crate
/// documentation.
pub async fn deliver_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    opts: &DeliverOptions,
) -> Result<DeliveryReport, NotifyError> {
    let mut report = DeliveryReport::default();
    fan_out(db, now, &mut report).await?;
    let client = channels::http_client(opts.timeout).map_err(NotifyError::Setup)?;
    let wall_now = Utc::now();
    let lease_until = wall_now + chrono::Duration::from_std(opts.lease).unwrap_or_default();
    let claimed =
        deliveries::claim_due(db, &opts.worker_id, now, wall_now, lease_until, opts.batch).await?;
    for delivery in claimed {
        attempt(db, &client, delivery, now, opts, &mut report).await?;
    }
    Ok(report)
}

/// Whether `event` goes to `sub` by its filters: its domain, its use (events about another use
/// are not for it; events about no use are), its event kinds, its minimum severity (events with
/// no severity pass).
pub fn matches(sub: &Subscription, event: &Event) -> Result<bool, StoreError> {
    if !sub.active {
        return Ok(false);
    }
    if sub.domain.as_ref().is_some_and(|d| *d != event.domain) {
        return Ok(false);
    }
    if let (Some(wanted), Some(about)) = (&sub.ready_for, &event.ready_for)
        && wanted != about
    {
        return Ok(false);
    }
    let kinds = sub.event_kinds()?;
    if !kinds.is_empty() && !kinds.contains(&event.kind()?) {
        return Ok(false);
    }
    if let (Some(min), Some(sev)) = (sub.min_severity()?, event.severity()?)
        && sev < min
    {
        return Ok(false);
    }
    Ok(true)
}

/// Whether `sub` is the signer of the certification `event` invalidates: its name equals the
/// certification's `certified_by` (ignoring case). The signer hears about it even when the
/// subscription's filters would not pass it: a person who signed a certification must learn it
/// no longer holds.
pub fn is_signer(sub: &Subscription, event: &Event) -> bool {
    sub.active
        && event.kind == EventKind::CertificationInvalidated.as_str()
        && event
            .payload
            .get("certified_by")
            .and_then(|v| v.as_str())
            .is_some_and(|by| by.eq_ignore_ascii_case(&sub.name))
}

/// The stable delivery id of one event for one subscription.
pub fn event_delivery_id(subscription_id: i64, event_id: i64) -> String {
    format!("dlv-{subscription_id}-event-{event_id}")
}

/// The stable delivery id of one day's digest for one subscription.
pub fn digest_delivery_id(subscription_id: i64, day: NaiveDate) -> String {
    format!("dlv-{subscription_id}-digest-{day}")
}

/// Midnight UTC after `day`: when its digest is due.
fn day_end(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .unwrap_or(day)
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

async fn fan_out(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    report: &mut DeliveryReport,
) -> Result<(), NotifyError> {
    loop {
        let txn = spine_store::begin_write(db)
            .await
            .map_err(StoreError::from)?;
        let batch = events::not_fanned_out(&txn, 500).await?;
        if batch.is_empty() {
            txn.commit().await.map_err(StoreError::from)?;
            return Ok(());
        }
        let subs = subscriptions::list(&txn).await?;
        for event in &batch {
            for sub in &subs {
                if !(matches(sub, event)? || is_signer(sub, event)) {
                    continue;
                }
                let created = match sub.digest()? {
                    DigestMode::Daily => {
                        let day = event.occurred_at.date_naive();
                        deliveries::create(
                            &txn,
                            &digest_delivery_id(sub.id, day),
                            sub.id,
                            Content::Digest(day),
                            day_end(day),
                            now,
                        )
                        .await?
                    }
                    DigestMode::None => {
                        deliveries::create(
                            &txn,
                            &event_delivery_id(sub.id, event.id),
                            sub.id,
                            Content::Event(event.id),
                            now,
                            now,
                        )
                        .await?
                    }
                };
                report.created += usize::from(created);
            }
        }
        let ids: Vec<i64> = batch.iter().map(|e| e.id).collect();
        events::mark_fanned_out(&txn, &ids, Utc::now()).await?;
        txn.commit().await.map_err(StoreError::from)?;
        report.events += batch.len();
    }
}

/// What a delivery says, per channel.
enum Body {
    One(Notice),
    Digest(NaiveDate, Vec<Notice>),
}

impl Body {
    fn domain(&self) -> Option<String> {
        match self {
            Body::One(n) => Some(n.domain.clone()),
            Body::Digest(_, ns) => ns.first().map(|n| n.domain.clone()),
        }
    }
}

async fn body_of(
    db: &DatabaseConnection,
    sub: &Subscription,
    delivery: &Delivery,
) -> Result<Option<Body>, NotifyError> {
    if let Some(event_id) = delivery.event_id {
        return Ok(match events::get(db, event_id).await? {
            Some(event) => Some(Body::One(Notice::of(&event)?)),
            None => None,
        });
    }
    let Some(day) = delivery.digest_day else {
        return Ok(None);
    };
    let mut notices = Vec::new();
    for event in events::on_day(db, day).await? {
        if matches(sub, &event)? || is_signer(sub, &event) {
            notices.push(Notice::of(&event)?);
        }
    }
    Ok(Some(Body::Digest(day, notices)))
}

/// A secret the subscription names but the environment does not hold.
struct MissingSecret(String);

fn secret_of(sub: &Subscription, opts: &DeliverOptions) -> Result<Option<String>, MissingSecret> {
    let Some(var) = &sub.secret_env else {
        return Ok(None);
    };
    let value = match &opts.secrets {
        Some(map) => map.get(var).cloned(),
        None => std::env::var(var).ok(),
    };
    match value {
        Some(v) if !v.is_empty() => Ok(Some(v)),
        _ => Err(MissingSecret(var.clone())),
    }
}

/// Sends one message for `sub`; `Ok` holds the status the channel answered with.
async fn send(
    client: &reqwest::Client,
    sub: &Subscription,
    delivery_id: &str,
    body: &Body,
    secret: Option<&str>,
    opts: &DeliverOptions,
) -> Result<i32, channels::SendFailure> {
    let channel = sub.channel().map_err(|e| channels::SendFailure {
        message: e.to_string(),
        status: None,
        retryable: false,
    })?;
    match channel {
        Channel::Webhook => {
            let bytes = match body {
                Body::One(n) => message::webhook_body(delivery_id, n),
                Body::Digest(day, ns) => message::webhook_digest_body(delivery_id, *day, ns),
            };
            channels::post_json(
                client,
                &sub.target,
                delivery_id,
                bytes,
                secret.map(str::as_bytes),
            )
            .await
        }
        Channel::Slack => {
            let text = match body {
                Body::One(n) => message::slack_text(n),
                Body::Digest(day, ns) => message::slack_digest_text(*day, ns),
            };
            let bytes = serde_json::to_vec(&json!({ "text": text })).unwrap_or_default();
            channels::post_json(client, &sub.target, delivery_id, bytes, None).await
        }
        Channel::Email => {
            let Some(smtp) = &opts.smtp else {
                return Err(channels::SendFailure {
                    message: "no SMTP server is configured (set SPINE_SMTP_URL)".to_string(),
                    status: None,
                    retryable: false,
                });
            };
            let email = match body {
                Body::One(n) => message::email(delivery_id, n),
                Body::Digest(day, ns) => message::email_digest(delivery_id, *day, ns),
            };
            channels::send_email(smtp, secret, &sub.target, delivery_id, &email, opts.timeout).await
        }
    }
}

/// The wait before attempt `attempts + 1`: `base × 2^(attempts − 1)`, at most `max`.
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    base.saturating_mul(2u32.saturating_pow(exp)).min(max)
}

async fn attempt(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    delivery: Delivery,
    now: DateTime<Utc>,
    opts: &DeliverOptions,
    report: &mut DeliveryReport,
) -> Result<(), NotifyError> {
    let worker = opts.worker_id.as_str();
    let Some(sub) = subscriptions::by_id(db, delivery.subscription_id).await? else {
        let outcome = Outcome::Failed {
            error: "the subscription was removed".to_string(),
            status: None,
        };
        deliveries::settle(db, delivery.id, worker, outcome, now).await?;
        return Ok(());
    };
    let mut sent = Sent {
        delivery_id: delivery.delivery_id.clone(),
        subscription: sub.name.clone(),
        outcome: "DELIVERED",
        error: None,
    };
    let body = match body_of(db, &sub, &delivery).await? {
        Some(Body::Digest(_, ns)) if ns.is_empty() => None,
        other => other,
    };
    let Some(body) = body else {
        // Nothing left to say (the event is gone, or no event of the day matches any more).
        let outcome = Outcome::Failed {
            error: "nothing to deliver".to_string(),
            status: None,
        };
        deliveries::settle(db, delivery.id, worker, outcome, now).await?;
        return Ok(());
    };
    let domain = sub.domain.clone().or_else(|| body.domain());
    let secret = match secret_of(&sub, opts) {
        Ok(secret) => secret,
        Err(MissingSecret(var)) => {
            let error = format!(
                "the environment variable {var} (--secret-env of subscription `{}`) is not set",
                sub.name
            );
            let outcome = Outcome::Failed {
                error: error.clone(),
                status: None,
            };
            if deliveries::settle(db, delivery.id, worker, outcome, now)
                .await?
                .is_some()
            {
                alarm(
                    db,
                    &sub,
                    domain,
                    CAUSE_SECRET_MISSING,
                    &error,
                    &delivery,
                    now,
                )
                .await?;
            }
            report.failed += 1;
            sent.outcome = "FAILED";
            sent.error = Some(error);
            report.attempts.push(sent);
            return Ok(());
        }
    };
    let result = send(
        client,
        &sub,
        &delivery.delivery_id,
        &body,
        secret.as_deref(),
        opts,
    )
    .await;
    match result {
        Ok(status) => {
            deliveries::settle(
                db,
                delivery.id,
                worker,
                Outcome::Delivered {
                    status: Some(status),
                },
                now,
            )
            .await?;
            report.delivered += 1;
        }
        Err(failure) => {
            let attempts = delivery.attempts + 1;
            sent.error = Some(failure.message.clone());
            if failure.retryable && attempts < opts.max_attempts {
                let wait = backoff(attempts, opts.base_backoff, opts.max_backoff);
                let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                deliveries::settle(
                    db,
                    delivery.id,
                    worker,
                    Outcome::Retry {
                        error: failure.message,
                        status: failure.status,
                        next_attempt_at: next,
                    },
                    now,
                )
                .await?;
                report.retrying += 1;
                sent.outcome = "RETRY";
            } else {
                let error = format!(
                    "{} (attempt {attempts} of {}{})",
                    failure.message,
                    opts.max_attempts,
                    if failure.retryable {
                        ""
                    } else {
                        ", not retryable"
                    }
                );
                let settled = deliveries::settle(
                    db,
                    delivery.id,
                    worker,
                    Outcome::Failed {
                        error: error.clone(),
                        status: failure.status,
                    },
                    now,
                )
                .await?;
                if settled.is_some() {
                    alarm(db, &sub, domain, CAUSE_FAILED, &error, &delivery, now).await?;
                }
                report.failed += 1;
                sent.outcome = "FAILED";
            }
        }
    }
    report.attempts.push(sent);
    Ok(())
}

/// Records the ERROR NOTIFICATION anomaly of a failed delivery, once per subscription and cause
/// while it is open.
async fn alarm(
    db: &DatabaseConnection,
    sub: &Subscription,
    domain: Option<String>,
    cause: &str,
    error: &str,
    delivery: &Delivery,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let domain = domain
        .as_deref()
        .and_then(|d| Domain::parse(d).ok())
        .unwrap_or_else(|| Domain::parse(FALLBACK_DOMAIN).expect("a valid domain name"));
    let message = format!(
        "notification to subscription `{}` ({} {}) could not be delivered: {error}",
        sub.name, sub.channel, sub.target
    );
    anomalies::record_once(
        db,
        NewAnomaly {
            pipeline: Some("notifications".to_string()),
            details: Some(json!({
                "subscription": sub.name,
                "channel": sub.channel,
                "delivery_id": delivery.delivery_id,
                "error": error,
            })),
            cause: Some(format!("{cause}:{}", sub.name)),
            ..NewAnomaly::new(
                domain,
                Severity::Error,
                Category::Notification,
                message,
                now,
            )
        },
    )
    .await?;
    Ok(())
}

/// What `spine subscriptions test NAME` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The id the test message carried.
    pub delivery_id: String,
    /// Whether the channel accepted it.
    pub delivered: bool,
    /// The status the channel answered with, if any.
    pub status: Option<i32>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// Sends a test notice to the subscription named `name` now, outside the outbox: nothing is
/// recorded, so a test can be repeated freely.
pub async fn send_test(
    db: &DatabaseConnection,
    name: &str,
    now: DateTime<Utc>,
    opts: &DeliverOptions,
) -> Result<TestResult, NotifyError> {
    let sub = subscriptions::get(db, name)
        .await?
        .ok_or_else(|| NotifyError::NoSuchSubscription(name.to_string()))?;
    let delivery_id = format!("dlv-{}-test-{}", sub.id, now.timestamp_micros());
    let body = Body::One(Notice::test(&sub.name, sub.domain.as_deref(), now));
    let secret = match secret_of(&sub, opts) {
        Ok(s) => s,
        Err(MissingSecret(var)) => {
            return Ok(TestResult {
                delivery_id,
                delivered: false,
                status: None,
                error: Some(format!("the environment variable {var} is not set")),
            });
        }
    };
    let client = channels::http_client(opts.timeout).map_err(NotifyError::Setup)?;
    Ok(
        match send(&client, &sub, &delivery_id, &body, secret.as_deref(), opts).await {
            Ok(status) => TestResult {
                delivery_id,
                delivered: true,
                status: Some(status),
                error: None,
            },
            Err(f) => TestResult {
                delivery_id,
                delivered: false,
                status: f.status,
                error: Some(f.message),
            },
        },
    )
}
