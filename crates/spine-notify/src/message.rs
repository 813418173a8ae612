//! What each channel says: the webhook's JSON payload, the Slack text and the email, for one
//! event or one day's digest.
//!
//! Every human-readable message names the week, the use, what changed and the `spine` command
//! to look closer, so a reader can act on it without opening a dashboard.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use spine_model::{EventKind, PartitionKey};
use spine_store::events::Event;

/// One event as every channel renders it: the stored event, read once.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The event's kind.
    pub kind: EventKind,
    /// The domain.
    pub domain: String,
    /// The partition key's canonical text, if any.
    pub partition_key: Option<String>,
    /// The use, if any.
    pub ready_for: Option<String>,
    /// The severity, if any.
    pub severity: Option<String>,
    /// The capture it is about.
    pub capture_id: Option<String>,
    /// The capture superseded.
    pub previous_capture_id: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The event's details.
    pub details: Value,
}

impl Notice {
    /// The notice of a stored event.
    pub fn of(event: &Event) -> Result<Notice, spine_store::StoreError> {
        Ok(Notice {
            kind: event.kind.parse()?,
            domain: event.domain.clone(),
            partition_key: event.partition_key.clone(),
            ready_for: event.ready_for.clone(),
            severity: event.severity.clone(),
            capture_id: event.capture_id.clone(),
            previous_capture_id: event.previous_capture_id.clone(),
            occurred_at: event.occurred_at,
            details: event.payload.clone(),
        })
    }

    /// The test notice `spine subscriptions test NAME` sends.
    pub fn test(subscription: &str, domain: Option<&str>, now: DateTime<Utc>) -> Notice {
        Notice {
            kind: EventKind::Test,
            domain: domain.unwrap_or("spine.notifications").to_string(),
            partition_key: None,
            ready_for: None,
            severity: None,
            capture_id: None,
            previous_capture_id: None,
            occurred_at: now,
            details: json!({
                "message": format!("test notification for subscription `{subscription}`")
            }),
        }
    }

    fn detail(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(Value::as_str)
    }

    fn partition(&self) -> Option<PartitionKey> {
        self.partition_key
            .as_deref()
            .and_then(|k| PartitionKey::parse(k).ok())
    }

    /// "week 2025-12-19 (OTC)", or the key as stored when it has no week.
    fn week(&self) -> String {
        let Some(key) = self.partition() else {
            return "all partitions".to_string();
        };
        match (key.week_ending(), key.get("tier")) {
            (Some(week), Some(tier)) => format!("week {week} ({tier})"),
            (Some(week), None) => format!("week {week}"),
            _ => key.canonical(),
        }
    }

    /// The command that looks closer at what this notice is about.
    pub fn command(&self) -> String {
        let key = self.partition();
        let week = key.as_ref().and_then(|k| k.week_ending());
        let tier = key
            .as_ref()
            .and_then(|k| k.get("tier").map(|t| format!(" --tier {t}")))
            .unwrap_or_default();
        match (self.kind, week, self.ready_for.as_deref()) {
            (
                EventKind::ReadinessChanged | EventKind::CertificationInvalidated,
                Some(w),
                Some(u),
            ) => {
                format!(
                    "spine readiness {} --week-ending {w}{tier} --for {u} --dry-run",
                    self.domain
                )
            }
            (
                EventKind::AnomalyOpened | EventKind::AnomalyResolved | EventKind::ScheduleMissed,
                Some(w),
                _,
            ) => format!(
                "spine anomalies list --domain {} --week-ending {w}",
                self.domain
            ),
            (EventKind::Test, _, _) => "spine subscriptions list".to_string(),
            _ => format!("spine doctor {}", self.domain),
        }
    }

    /// One line saying what happened.
    pub fn title(&self) -> String {
        let week = self.week();
        let use_ = self.ready_for.as_deref().unwrap_or("every use");
        match self.kind {
            EventKind::ReadinessChanged => {
                let status = self.detail("status").unwrap_or("?");
                match self.detail("previous_status") {
                    Some(prev) => format!("{} {week} for {use_}: {prev} -> {status}", self.domain),
                    None => format!("{} {week} for {use_}: first verdict {status}", self.domain),
                }
            }
            EventKind::CertificationInvalidated => {
                let by = self.detail("certified_by").unwrap_or("unknown");
                format!(
                    "{} {week} for {use_}: the certification signed by {by} is invalidated by a newer capture",
                    self.domain
                )
            }
            EventKind::CaptureRevised => {
                format!(
                    "{} {week}: data corrected (a new capture supersedes the previous one)",
                    self.domain
                )
            }
            EventKind::AnomalyOpened => format!(
                "{} {week}: new {} {} anomaly: {}",
                self.domain,
                self.detail("severity").unwrap_or("?"),
                self.detail("category").unwrap_or("?"),
                self.detail("message").unwrap_or("")
            ),
            EventKind::AnomalyResolved => format!(
                "{} {week}: resolved {} anomaly: {}",
                self.domain,
                self.detail("category").unwrap_or("?"),
                self.detail("message").unwrap_or("")
            ),
            EventKind::ScheduleMissed => format!(
                "{} {week}: missed its schedule: {}",
                self.domain,
                self.detail("message").unwrap_or("")
            ),
            EventKind::WorkFailed => format!(
                "{} {week}: work failed after {} attempts: {}",
                self.domain,
                self.details
                    .get("attempts")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                self.detail("error").unwrap_or("")
            ),
            EventKind::Test => format!(
                "Market Spine test notification: {}",
                self.detail("message").unwrap_or("")
            ),
        }
    }

    /// The lines under the title: what a person needs to judge it.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.kind {
            EventKind::ReadinessChanged => {
                if let Some(issues) = self
                    .details
                    .get("blocking_issues")
                    .and_then(Value::as_array)
                {
                    for issue in issues.iter().filter_map(Value::as_str) {
                        out.push(format!("Blocking: {issue}"));
                    }
                }
            }
            EventKind::CertificationInvalidated => {
                if let Some(at) = self
                    .details
                    .pointer("/certification/certified_at")
                    .and_then(Value::as_str)
                {
                    out.push(format!("Certified at: {at}"));
                }
                out.push(format!(
                    "Capture: {} -> {}",
                    self.previous_capture_id.as_deref().unwrap_or("?"),
                    self.capture_id.as_deref().unwrap_or("?")
                ));
                out.push("Review updated analytics before trading.".to_string());
            }
            EventKind::CaptureRevised => {
                out.push(format!(
                    "Capture: {} -> {}",
                    self.previous_capture_id.as_deref().unwrap_or("?"),
                    self.capture_id.as_deref().unwrap_or("?")
                ));
                if let (Some(a), Some(b)) = (
                    self.details
                        .get("previous_rows_accepted")
                        .and_then(Value::as_i64),
                    self.details.get("rows_accepted").and_then(Value::as_i64),
                ) {
                    out.push(format!("Rows accepted: {a} -> {b}"));
                }
            }
            EventKind::AnomalyResolved => {
                if let Some(note) = self.detail("resolution_note") {
                    out.push(format!("Resolution: {note}"));
                }
            }
            _ => {}
        }
        out
    }
}

/// The webhook's JSON body for one event (documented in docs/OPERATIONS.md).
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    /// The delivery id (also `X-Spine-Delivery`): stable across retries.
    pub id: &'a str,
    /// The event kind.
    pub event: &'a str,
    /// The domain.
    pub domain: &'a str,
    /// The partition key as an object (`{"tier": "OTC", "week_ending": "2025-12-19"}`).
    pub partition_key: Value,
    /// The use, for readiness and certification events.
    pub ready_for: Option<&'a str>,
    /// The new status (readiness), or null.
    pub status: Option<&'a str>,
    /// The previous status (readiness; null for a first verdict).
    pub previous_status: Option<&'a str>,
    /// The capture the event is about.
    pub capture_id: Option<&'a str>,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// Everything else the event recorded.
    pub details: &'a Value,
}

/// The webhook body of one notice.
pub fn webhook_body(delivery_id: &str, notice: &Notice) -> Vec<u8> {
    let partition_key = notice
        .partition_key
        .as_deref()
        .and_then(|k| serde_json::from_str(k).ok())
        .unwrap_or(Value::Null);
    let payload = WebhookPayload {
        id: delivery_id,
        event: notice.kind.as_str(),
        domain: &notice.domain,
        partition_key,
        ready_for: notice.ready_for.as_deref(),
        status: notice.detail("status"),
        previous_status: notice.detail("previous_status"),
        capture_id: notice.capture_id.as_deref(),
        occurred_at: notice.occurred_at.to_rfc3339(),
        details: &notice.details,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The webhook body of a digest: the day and every event's payload.
pub fn webhook_digest_body(delivery_id: &str, day: NaiveDate, notices: &[Notice]) -> Vec<u8> {
    let events: Vec<Value> = notices
        .iter()
        .map(|n| serde_json::from_slice(&webhook_body(delivery_id, n)).unwrap_or(Value::Null))
        .collect();
    serde_json::to_vec(&json!({
        "id": delivery_id,
        "event": "digest",
        "day": day,
        "events": events,
    }))
    .unwrap_or_default()
}

/// The Slack text of one notice: bold title, the details, the command in code.
pub fn slack_text(notice: &Notice) -> String {
    let mut text = format!("*{}*", notice.title());
    for line in notice.lines() {
        text.push('\n');
        text.push_str(&line);
    }
    text.push_str(&format!("\nLook closer: `{}`", notice.command()));
    text
}

/// The Slack text of a digest.
pub fn slack_digest_text(day: NaiveDate, notices: &[Notice]) -> String {
    let mut text = format!(
        "*Market Spine daily digest for {day}: {} events*",
        notices.len()
    );
    for n in notices {
        text.push_str(&format!("\n• {} — `{}`", n.title(), n.command()));
    }
    text
}

/// An email: subject, plain text and a short HTML alternative.
#[derive(Debug, Clone)]
pub struct Email {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The email of one notice.
pub fn email(delivery_id: &str, notice: &Notice) -> Email {
    let title = notice.title();
    let lines = notice.lines();
    let command = notice.command();
    let mut text = format!("{title}\n\n");
    for line in &lines {
        text.push_str(&format!("{line}\n"));
    }
    text.push_str(&format!(
        "Occurred at: {}\n\nLook closer:\n  {command}\n\nDelivery {delivery_id}\n",
        notice.occurred_at.to_rfc3339()
    ));
    let mut html = format!("<p><strong>{}</strong></p>", escape_html(&title));
    if !lines.is_empty() {
        html.push_str("<ul>");
        for line in &lines {
            html.push_str(&format!("<li>{}</li>", escape_html(line)));
        }
        html.push_str("</ul>");
    }
    html.push_str(&format!(
        "<p>Look closer: <code>{}</code></p>",
        escape_html(&command)
    ));
    Email {
        subject: format!("[spine] {title}"),
        text,
        html,
    }
}

/// The email of a digest.
pub fn email_digest(delivery_id: &str, day: NaiveDate, notices: &[Notice]) -> Email {
    let subject = format!(
        "[spine] Daily digest for {day}: {} event{}",
        notices.len(),
        if notices.len() == 1 { "" } else { "s" }
    );
    let mut text = format!("Market Spine daily digest for {day} (UTC)\n\n");
    let mut html = format!("<p><strong>Market Spine daily digest for {day} (UTC)</strong></p><ul>");
    for n in notices {
        text.push_str(&format!(
            "- {} {}\n    {}\n",
            n.occurred_at.format("%H:%M"),
            n.title(),
            n.command()
        ));
        html.push_str(&format!(
            "<li>{} {} <code>{}</code></li>",
            n.occurred_at.format("%H:%M"),
            escape_html(&n.title()),
            escape_html(&n.command())
        ));
    }
    html.push_str("</ul>");
    text.push_str(&format!("\nDelivery {delivery_id}\n"));
    Email {
        subject,
        text,
        html,
    }
}
