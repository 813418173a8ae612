//! `spine subscriptions add|list|remove|test|deliveries|deliver`: who is told about what, and
//! the log of what they were told.
//!
//! `add` checks everything before opening the database (the target against the channel, event
//! names, the domain, the secret's variable name), so bad input is a usage error (exit 2) that
//! writes nothing; a name already taken is one too. `deliver` runs
//! `spine_notify::deliver_due` at the run's clock, as the worker does after each pass. Email is
//! sent through the server of `SPINE_SMTP_URL` (see docs/OPERATIONS.md, "Telling people").

use std::process::ExitCode;

use serde::Serialize;
use spine_model::Channel;
use spine_notify::{DeliverOptions, SmtpSettings};
use spine_store::subscriptions::{self, NewSubscription, Subscription};
use spine_store::{StoreError, deliveries};

use crate::cli::{SubscriptionAddArgs, SubscriptionsCommand};
use crate::commands::Context;
use crate::errors::usage;
use crate::output::{Table, emit};

/// The variable naming the SMTP server email subscriptions are sent through.
pub const SMTP_URL_VAR: &str = "SPINE_SMTP_URL";

/// A subscription as `--format json` shows it.
#[derive(Debug, Serialize)]
struct SubscriptionView<'a> {
    id: i64,
    name: &'a str,
    channel: &'a str,
    target: &'a str,
    domain: Option<&'a str>,
    ready_for: Option<&'a str>,
    events: Option<&'a serde_json::Value>,
    min_severity: Option<&'a str>,
    secret_env: Option<&'a str>,
    digest: &'a str,
}

impl<'a> From<&'a Subscription> for SubscriptionView<'a> {
    fn from(s: &'a Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            name: &s.name,
            channel: &s.channel,
            target: &s.target,
            domain: s.domain.as_deref(),
            ready_for: s.ready_for.as_deref(),
            events: s.events.as_ref(),
            min_severity: s.min_severity.as_deref(),
            secret_env: s.secret_env.as_deref(),
            digest: &s.digest,
        }
    }
}

fn table(rows: &[Subscription]) -> Table {
    let mut table = Table::new([
        "name", "channel", "target", "domain", "for", "events", "min", "secret", "digest",
    ]);
    let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    for s in rows {
        let events = s
            .events
            .as_ref()
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|| "all".to_string());
        table.push([
            s.name.clone(),
            s.channel.clone(),
            s.target.clone(),
            dash(s.domain.as_deref()),
            dash(s.ready_for.as_deref()),
            events,
            dash(s.min_severity.as_deref()),
            dash(s.secret_env.as_deref()),
            s.digest.clone(),
        ]);
    }
    table
}

/// Checks a subscription's input before anything is opened: the usage error says what is wrong.
pub fn validate(args: &SubscriptionAddArgs) -> Result<(), String> {
    let name = args.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err("--name must be 1 to 128 printable characters".to_string());
    }
    match args.channel {
        Channel::Webhook | Channel::Slack => {
            spine_notify::channels::valid_http_url(&args.target).map_err(|e| {
                format!(
                    "--target: {e}; a {} subscription needs an http:// or https:// URL",
                    args.channel
                )
            })?;
        }
        Channel::Email => {
            spine_notify::channels::valid_address(&args.target)
                .map_err(|e| format!("--target: {e}"))?;
            if args.target.contains("://") {
                return Err(format!(
                    "--target `{}`: an email subscription's target is the recipient address; the \
                     server is {SMTP_URL_VAR}",
                    args.target
                ));
            }
        }
    }
    if args.channel == Channel::Webhook && args.secret_env.is_none() {
        return Err(
            "a webhook is signed: name the variable holding its signing key with --secret-env VAR"
                .to_string(),
        );
    }
    if let Some(var) = &args.secret_env {
        let ok = !var.is_empty()
            && var.len() <= 128
            && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !var.as_bytes()[0].is_ascii_digit();
        if !ok {
            return Err(format!(
                "--secret-env `{var}` is not an environment variable name (letters, digits and \
                 `_`): give the variable's name, never the secret"
            ));
        }
    }
    Ok(())
}

/// The delivery options of this process: the SMTP server from `SPINE_SMTP_URL`.
pub fn deliver_options(worker_id: &str) -> anyhow::Result<DeliverOptions> {
    let smtp = match std::env::var(SMTP_URL_VAR) {
        Ok(url) if !url.is_empty() => {
            Some(SmtpSettings::parse(&url).map_err(|e| usage(format!("{SMTP_URL_VAR}: {e}")))?)
        }
        _ => None,
    };
    Ok(DeliverOptions {
        worker_id: worker_id.to_string(),
        smtp,
        ..DeliverOptions::default()
    })
}

async fn find(
    ctx: &Context,
    store: &spine_store::Store,
    name: &str,
) -> anyhow::Result<Subscription> {
    let _ = ctx;
    match subscriptions::get(store.conn(), name).await? {
        Some(sub) => Ok(sub),
        None => {
            let names: Vec<String> = subscriptions::list(store.conn())
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect();
            Err(usage(format!(
                "no subscription named `{}`; subscriptions: {}",
                name.escape_debug(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )))
        }
    }
}

/// Runs a `spine subscriptions` command.
pub async fn run(ctx: &Context, cmd: SubscriptionsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SubscriptionsCommand::Add(args) => {
            validate(&args).map_err(usage)?;
            let now = ctx.clock.now();
            let store = ctx.open_store().await?;
            let new = NewSubscription {
                name: args.name.trim().to_string(),
                channel: args.channel,
                target: args.target.clone(),
                domain: args.domain.clone(),
                ready_for: args.ready_for,
                events: args.events.clone(),
                min_severity: args.min_severity,
                secret_env: args.secret_env.clone(),
                digest: args.digest,
            };
            let sub = match subscriptions::add(store.conn(), new, now).await {
                Ok(sub) => sub,
                Err(StoreError::Invalid(e)) => return Err(usage(e)),
                Err(e) => return Err(e.into()),
            };
            emit(
                ctx.format(),
                &table(std::slice::from_ref(&sub)),
                Some(&serde_json::to_value(SubscriptionView::from(&sub))?),
            )?;
        }
        SubscriptionsCommand::List => {
            let store = ctx.open_store().await?;
            let rows = subscriptions::list(store.conn()).await?;
            let views: Vec<SubscriptionView<'_>> =
                rows.iter().map(SubscriptionView::from).collect();
            emit(
                ctx.format(),
                &table(&rows),
                Some(&serde_json::to_value(views)?),
            )?;
        }
        SubscriptionsCommand::Remove { name } => {
            let store = ctx.open_store().await?;
            let sub = find(ctx, &store, &name).await?;
            subscriptions::remove(store.conn(), &sub.name).await?;
            emit(
                ctx.format(),
                &table(std::slice::from_ref(&sub)),
                Some(&serde_json::json!({ "removed": SubscriptionView::from(&sub) })),
            )?;
        }
        SubscriptionsCommand::Test { name } => {
            let opts = deliver_options("spine-cli")?;
            let store = ctx.open_store().await?;
            let sub = find(ctx, &store, &name).await?;
            let result =
                spine_notify::send_test(store.conn(), &sub.name, ctx.clock.now(), &opts).await?;
            let mut t = Table::new([
                "subscription",
                "delivery_id",
                "delivered",
                "status",
                "error",
            ]);
            t.push([
                sub.name.clone(),
                result.delivery_id.clone(),
                result.delivered.to_string(),
                result
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                result.error.clone().unwrap_or_else(|| "-".into()),
            ]);
            emit(ctx.format(), &t, Some(&serde_json::to_value(&result)?))?;
            if !result.delivered {
                return Ok(ExitCode::FAILURE);
            }
        }
        SubscriptionsCommand::Deliveries { name } => {
            let store = ctx.open_store().await?;
            let sub = find(ctx, &store, &name).await?;
            let rows = deliveries::of_subscription(store.conn(), sub.id).await?;
            let mut t = Table::new([
                "delivery_id",
                "about",
                "state",
                "attempts",
                "next_attempt_at",
                "delivered_at",
                "last_status",
                "last_error",
            ]);
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
            };
            for d in &rows {
                let about = match (d.event_id, d.digest_day) {
                    (Some(e), _) => format!("event {e}"),
                    (None, Some(day)) => format!("digest {day}"),
                    _ => "-".to_string(),
                };
                t.push([
                    d.delivery_id.clone(),
                    about,
                    d.state.clone(),
                    d.attempts.to_string(),
                    time(d.next_attempt_at),
                    time(d.delivered_at),
                    d.last_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    d.last_error.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            emit(ctx.format(), &t, Some(&serde_json::to_value(&rows)?))?;
        }
        SubscriptionsCommand::Deliver => {
            let opts = deliver_options(&format!("spine-cli-{}", std::process::id()))?;
            let store = ctx.open_store().await?;
            let report = spine_notify::deliver_due(store.conn(), ctx.clock.now(), &opts).await?;
            let mut t = Table::new(["delivery_id", "subscription", "outcome", "error"]);
            for a in &report.attempts {
                t.push([
                    a.delivery_id.clone(),
                    a.subscription.clone(),
                    a.outcome.to_string(),
                    a.error.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            eprintln!("{}", report.summary());
            emit(ctx.format(), &t, Some(&serde_json::to_value(&report)?))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
