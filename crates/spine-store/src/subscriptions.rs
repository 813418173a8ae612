//! `core_subscriptions`: who is told about what, and how.
//!
//! Validation of what a person typed (URLs, addresses, event names) happens at the CLI's edge
//! before a database is opened; the store keeps the typed values and refuses only what it alone
//! can see (a name already taken). Secrets are never stored: `secret_env` names the environment
//! variable that holds one, read by the worker when it sends.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use spine_model::entities::core_subscriptions::{self, Column, Entity};
use spine_model::{Channel, DigestMode, Domain, EventKind, ReadyFor, Severity};

use crate::{StoreError, StoreResult};

/// A stored subscription.
pub type Subscription = core_subscriptions::Model;

/// A subscription to add.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Unique name (a desk, a team, a person; matched against certification signers).
    pub name: String,
    /// How it is told.
    pub channel: Channel,
    /// A URL (webhook, slack) or an email address.
    pub target: String,
    /// Only this domain (every domain when None).
    pub domain: Option<Domain>,
    /// Only readiness events for this use (every use when None).
    pub ready_for: Option<ReadyFor>,
    /// Only these kinds (every kind when empty).
    pub events: Vec<EventKind>,
    /// Only events at this severity or worse (events without a severity always pass).
    pub min_severity: Option<Severity>,
    /// The environment variable holding the signing key or SMTP password.
    pub secret_env: Option<String>,
    /// One message per event, or a daily digest.
    pub digest: DigestMode,
}

/// Adds a subscription; a name already taken is refused.
pub async fn add<C: ConnectionTrait>(
    conn: &C,
    new: NewSubscription,
    now: DateTime<Utc>,
) -> StoreResult<Subscription> {
    if get(conn, &new.name).await?.is_some() {
        return Err(StoreError::Invalid(format!(
            "a subscription named `{}` already exists (spine subscriptions remove {} first)",
            new.name, new.name
        )));
    }
    let events = (!new.events.is_empty())
        .then(|| json!(new.events.iter().map(|e| e.as_str()).collect::<Vec<_>>()));
    Ok(core_subscriptions::ActiveModel {
        name: Set(new.name),
        channel: Set(new.channel.to_string()),
        target: Set(new.target),
        domain: Set(new.domain.map(|d| d.to_string())),
        ready_for: Set(new.ready_for.map(|r| r.to_string())),
        events: Set(events),
        min_severity: Set(new.min_severity.map(|s| s.to_string())),
        secret_env: Set(new.secret_env),
        digest: Set(new.digest.to_string()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The subscription named `name`.
pub async fn get<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<Option<Subscription>> {
    Ok(Entity::find()
        .filter(Column::Name.eq(name))
        .one(conn)
        .await?)
}

/// The subscription with this id.
pub async fn by_id<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<Option<Subscription>> {
    Ok(Entity::find_by_id(id).one(conn).await?)
}

/// Every subscription, by name.
pub async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Subscription>> {
    Ok(Entity::find().order_by_asc(Column::Name).all(conn).await?)
}

/// Removes the subscription named `name` and its deliveries not yet sent (the log of what was
/// sent or given up on is kept). Returns whether it existed.
pub async fn remove<C: ConnectionTrait>(conn: &C, name: &str) -> StoreResult<bool> {
    let Some(sub) = get(conn, name).await? else {
        return Ok(false);
    };
    crate::deliveries::drop_pending(conn, sub.id).await?;
    Entity::delete_by_id(sub.id).exec(conn).await?;
    Ok(true)
}

/// The parsed vocabulary of a stored subscription.
pub trait SubscriptionExt {
    /// The channel, parsed.
    fn channel(&self) -> StoreResult<Channel>;
    /// The digest mode, parsed.
    fn digest(&self) -> StoreResult<DigestMode>;
    /// The use filter, parsed.
    fn ready_for(&self) -> StoreResult<Option<ReadyFor>>;
    /// The minimum severity, parsed.
    fn min_severity(&self) -> StoreResult<Option<Severity>>;
    /// The event kinds it wants (empty: every kind).
    fn event_kinds(&self) -> StoreResult<Vec<EventKind>>;
}

impl SubscriptionExt for Subscription {
    fn channel(&self) -> StoreResult<Channel> {
        Ok(self.channel.parse()?)
    }
    fn digest(&self) -> StoreResult<DigestMode> {
        Ok(self.digest.parse()?)
    }
    fn ready_for(&self) -> StoreResult<Option<ReadyFor>> {
        Ok(self.ready_for.as_deref().map(str::parse).transpose()?)
    }
    fn min_severity(&self) -> StoreResult<Option<Severity>> {
        Ok(self.min_severity.as_deref().map(str::parse).transpose()?)
    }
    fn event_kinds(&self) -> StoreResult<Vec<EventKind>> {
        let Some(events) = self.events.as_ref().and_then(|v| v.as_array()) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let name = e.as_str().ok_or_else(|| {
                StoreError::Invalid(format!("subscription `{}`: bad event list", self.name))
            })?;
            out.push(name.parse()?);
        }
        Ok(out)
    }
}
