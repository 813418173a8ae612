//! Sources configured once per domain: where the worker fetches each partition from.
//!
//! A source is stored in `core_sources` (`spine sources add`) and shared by every worker, on any
//! machine. Two families exist:
//! - **`url-template`**, the engine's own: a URL or path with `${NAME}` variables the domain
//!   fills per partition ([`DomainPlugin::template_variables`]; FINRA: `${TIER}`,
//!   `${WEEK_ENDING}`, `${WEEK_START}`). `http(s)://`, `file://` and plain paths (a drop folder)
//!   all work.
//! - **plugin kinds** a domain implements ([`DomainPlugin::source_kinds`], e.g. FINRA's
//!   `finra-api`), with their own settings, checked by the domain when the source is added.
//!
//! [`fetch_partition`] fetches one partition *if it changed*: the validators of the last
//! successful fetch (`core_source_fetch_state`) are sent back (`ETag` → `If-None-Match`,
//! `Last-Modified` → `If-Modified-Since`, FINRA's `lastUpdateDate` asked cheaply first), and a
//! body identical to the last one is [`SourceFetch::NotModified`] too. A fetched partition is a
//! [`FetchedPartition`]: the bytes in a temporary file (deleted when it is dropped), ready for
//! [`crate::capture::ingest_fetched`], with the partition hint to ingest them under and a
//! [`RequestRecord`] the capture keeps in its metadata so the fetch can be replayed. The caller
//! records the new validators with [`record_fetched`] only once the capture landed.
//!
//! Every HTTP request first reserves a slot of its provider's rate budget in `core_source_rate`
//! ([`reserve_rate_slot`]): the budget is shared through the database, so any number of workers
//! together stay under a provider's published limit. Everything stored or printed about a source
//! goes through [`spine_model::redact`]; settings hold no secret, only the names of environment
//! variables read at fetch time.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use spine_model::{Domain, PartitionKey, redact};
use spine_store::sources::{self as repo, Inserted, NewSource, Validators};
use tempfile::NamedTempFile;

use crate::capture::{FetchedInput, InputBytes};
use crate::domain::DomainPlugin;
use crate::source::{self, ConditionalFetch, Conditions, FetchOptions, SourceError, SourceLocator};
use crate::{Engine, PipelineError, PipelineResult, Registry, RunContext};

/// The engine's own source kind: a URL or path template filled per partition.
pub const URL_TEMPLATE: &str = "url-template";

/// Requests per second a `url-template` source sends to one origin, across every worker: a file
/// server is not an API with a published limit, so this stays polite.
pub const URL_TEMPLATE_REQUESTS_PER_SECOND: f64 = 5.0;

/// The most a `url-template` source may be configured to send per second.
pub const MAX_REQUESTS_PER_SECOND: f64 = 1000.0;

/// The longest source name: the column's width.
const MAX_NAME_CHARS: usize = 128;

/// How many bytes of a body are kept as its [`BodySample::prefix`].
pub const BODY_PREFIX_BYTES: usize = 256;

/// A configured source, typed: what [`active_sources`] returns and [`fetch_partition`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Its row id (`core_sources.id`): what its fetch state is keyed by.
    pub id: i64,
    /// Its unique name, how operators refer to it.
    pub name: String,
    /// The domain whose partitions it serves.
    pub domain: Domain,
    /// What kind of source it is, with its settings.
    pub kind: SourceKind,
    /// The first week (business date) it is expected to serve: nothing earlier is fetched.
    pub since: Option<NaiveDate>,
    /// Inactive sources are kept but never fetched.
    pub active: bool,
}

/// What kind of source, with its settings: JSON stays at the storage edge except for a plugin's
/// settings, which only the plugin reads (and parses into its own type).
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// The engine's `url-template`.
    UrlTemplate {
        /// The template, e.g. `https://example.org/finra/${TIER}/${WEEK_ENDING}.psv`.
        template: String,
        /// Requests per second to its origin, shared by every worker; `None` is
        /// [`URL_TEMPLATE_REQUESTS_PER_SECOND`] (polite to a public site; a mirror of one's own
        /// can take more).
        requests_per_second: Option<f64>,
    },
    /// A kind a domain plugin implements (e.g. `finra-api`).
    Plugin {
        /// The kind's name.
        kind: String,
        /// Its settings (a JSON object), read by the plugin.
        settings: serde_json::Value,
    },
}

impl SourceKind {
    /// The kind's name as stored and shown (`url-template`, `finra-api`, …).
    pub fn name(&self) -> &str {
        match self {
            SourceKind::UrlTemplate { .. } => URL_TEMPLATE,
            SourceKind::Plugin { kind, .. } => kind,
        }
    }

    /// The settings as stored in `core_sources.settings_json`.
    pub fn settings_json(&self) -> serde_json::Value {
        match self {
            SourceKind::UrlTemplate {
                template,
                requests_per_second,
            } => match requests_per_second {
                Some(rate) => json!({ "url_template": template, "requests_per_second": rate }),
                None => json!({ "url_template": template }),
            },
            SourceKind::Plugin { settings, .. } => settings.clone(),
        }
    }
}

impl SourceConfig {
    /// The typed form of a stored row; a row that does not parse (hand-edited) is an error
    /// naming it.
    pub fn from_row(row: &repo::Source) -> PipelineResult<SourceConfig> {
        let domain = Domain::parse(&row.domain)?;
        let kind = if row.kind == URL_TEMPLATE {
            let template = row
                .settings_json
                .get("url_template")
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    PipelineError::Input(format!(
                        "source {}: its settings have no url_template",
                        row.name
                    ))
                })?;
            SourceKind::UrlTemplate {
                template: template.to_string(),
                requests_per_second: row
                    .settings_json
                    .get("requests_per_second")
                    .and_then(|v| v.as_f64()),
            }
        } else {
            SourceKind::Plugin {
                kind: row.kind.clone(),
                settings: row.settings_json.clone(),
            }
        };
        Ok(SourceConfig {
            id: row.id,
            name: row.name.clone(),
            domain,
            kind,
            since: row.since,
            active: row.active,
        })
    }

    /// Whether this source is expected to serve `partition`: its business date (the domain's,
    /// by default the week ending) is on or after [`SourceConfig::since`].
    pub fn serves(&self, plugin: &dyn DomainPlugin, partition: &PartitionKey) -> bool {
        match (self.since, plugin.business_date(partition)) {
            (Some(since), Some(date)) => date >= since,
            _ => true,
        }
    }

    /// The template or the settings, redacted, for listings.
    pub fn describe(&self) -> String {
        match &self.kind {
            SourceKind::UrlTemplate { template, .. } => redact::url(template),
            SourceKind::Plugin { settings, .. } => redact::text(&settings.to_string()),
        }
    }
}

/// The active sources of `domain`, by name: what the worker fetches from.
pub async fn active_sources(engine: &Engine, domain: &Domain) -> PipelineResult<Vec<SourceConfig>> {
    repo::list(engine.store().conn(), Some(domain), true)
        .await?
        .iter()
        .map(SourceConfig::from_row)
        .collect()
}

/// Every configured source (of `domain` when given), active or not, by name.
pub async fn list_sources(
    engine: &Engine,
    domain: Option<&Domain>,
) -> PipelineResult<Vec<SourceConfig>> {
    repo::list(engine.store().conn(), domain, false)
        .await?
        .iter()
        .map(SourceConfig::from_row)
        .collect()
}

/// A source as an operator describes it, before it is checked and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSourceSpec {
    /// Its name; `None` names it `<domain>/<kind>`.
    pub name: Option<String>,
    /// The domain it serves.
    pub domain: Domain,
    /// Its kind and settings.
    pub kind: SourceKind,
    /// The first week it is expected to serve.
    pub since: Option<NaiveDate>,
}

impl NewSourceSpec {
    /// The name it will be stored under.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}/{}", self.domain, self.kind.name()))
    }
}

/// Why a source cannot be added: bad input an operator must fix (the CLI's exit 2); nothing was
/// written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSource {
    /// No registered domain owns the domain named.
    #[error("unknown domain `{domain}`; registered domains: {}", registered.join(", "))]
    UnknownDomain {
        /// The domain given.
        domain: String,
        /// Every registered domain.
        registered: Vec<String>,
    },
    /// The domain offers no such kind.
    #[error("{domain} has no source kind `{kind}`; its kinds: {}", offered.join(", "))]
    UnknownKind {
        /// The domain.
        domain: String,
        /// The kind given.
        kind: String,
        /// The kinds it offers (`url-template` first).
        offered: Vec<String>,
    },
    /// The request rate is not a positive number up to [`MAX_REQUESTS_PER_SECOND`].
    #[error(
        "--requests-per-second must be a number above 0 and at most {MAX_REQUESTS_PER_SECOND}, got {rate}"
    )]
    BadRate {
        /// The rate given.
        rate: String,
    },
    /// The URL template cannot be used.
    #[error("--url-template: {0}")]
    Template(#[from] TemplateError),
    /// The plugin refused the settings.
    #[error("{kind}: {reason}")]
    Settings {
        /// The kind.
        kind: String,
        /// The plugin's reason.
        reason: String,
    },
    /// `since` is after today (on the command's clock): nothing would be expected yet.
    #[error("--since {since} is after today ({today})")]
    SinceInFuture {
        /// The date given.
        since: NaiveDate,
        /// Today on the command's clock.
        today: NaiveDate,
    },
    /// The name is empty, too long or holds control characters.
    #[error("--name `{name}` is not a usable source name: {reason}")]
    BadName {
        /// The name given (escaped).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Another source already has this name.
    #[error(
        "a source named `{name}` already exists ({domain}, {kind}); remove it first or choose another --name"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The existing source's domain.
        domain: String,
        /// The existing source's kind.
        kind: String,
    },
}

/// Why [`add_source`] failed: bad input, or the engine (the database).
#[derive(Debug, thiserror::Error)]
pub enum AddSourceError {
    /// The operator's input cannot be used; nothing was written.
    #[error(transparent)]
    Invalid(#[from] InvalidSource),
    /// The database failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Checks a source without storing it (nor opening anything): the domain is registered, the kind
/// is one it offers, the template names only its variables, makes a locator and holds no
/// credentials, the plugin accepts the settings, `since` is not after `today`, and the name is
/// usable.
pub fn validate_source(
    registry: &Registry,
    spec: &NewSourceSpec,
    today: NaiveDate,
) -> Result<(), InvalidSource> {
    let name = spec.name();
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(InvalidSource::BadName {
            name: name.escape_debug().to_string(),
            reason: format!(
                "a name is 1 to {MAX_NAME_CHARS} characters without control characters"
            ),
        });
    }
    let plugin = registry
        .get(&spec.domain)
        .ok_or_else(|| InvalidSource::UnknownDomain {
            domain: spec.domain.to_string(),
            registered: registry.names(),
        })?;
    let offered = || {
        std::iter::once(URL_TEMPLATE.to_string())
            .chain(plugin.source_kinds().iter().map(|k| k.to_string()))
            .collect::<Vec<_>>()
    };
    match &spec.kind {
        SourceKind::UrlTemplate {
            template,
            requests_per_second,
        } => {
            if let Some(rate) = requests_per_second
                && !(rate.is_finite() && *rate > 0.0 && *rate <= MAX_REQUESTS_PER_SECOND)
            {
                return Err(InvalidSource::BadRate {
                    rate: rate.to_string(),
                });
            }
            if plugin.template_variable_names().is_empty() {
                return Err(InvalidSource::UnknownKind {
                    domain: spec.domain.to_string(),
                    kind: URL_TEMPLATE.to_string(),
                    offered: plugin
                        .source_kinds()
                        .iter()
                        .map(|k| k.to_string())
                        .collect(),
                });
            }
            UrlTemplate::parse(template)?.check(plugin.template_variable_names())?;
        }
        SourceKind::Plugin { kind, settings } => {
            if !plugin.source_kinds().contains(&kind.as_str()) {
                return Err(InvalidSource::UnknownKind {
                    domain: spec.domain.to_string(),
                    kind: kind.clone(),
                    offered: offered(),
                });
            }
            plugin
                .validate_source(kind, settings)
                .map_err(|reason| InvalidSource::Settings {
                    kind: kind.clone(),
                    reason,
                })?;
        }
    }
    if let Some(since) = spec.since
        && since > today
    {
        return Err(InvalidSource::SinceInFuture { since, today });
    }
    Ok(())
}

/// Checks ([`validate_source`]) and stores a source, active. `now` is the command's clock: its
/// date is "today" for `since`, and it is the row's `created_at`.
pub async fn add_source(
    engine: &Engine,
    spec: NewSourceSpec,
    now: DateTime<Utc>,
) -> Result<SourceConfig, AddSourceError> {
    validate_source(engine.registry(), &spec, now.date_naive())?;
    let name = spec.name();
    let inserted = repo::insert(
        engine.store().conn(),
        NewSource {
            name: name.clone(),
            domain: spec.domain.clone(),
            kind: spec.kind.name().to_string(),
            settings: spec.kind.settings_json(),
            since: spec.since,
            active: true,
        },
        now,
    )
    .await
    .map_err(PipelineError::from)?;
    match inserted {
        Inserted::Added(row) => Ok(SourceConfig::from_row(&row)?),
        Inserted::NameTaken(existing) => Err(InvalidSource::NameTaken {
            name,
            domain: existing.domain,
            kind: existing.kind,
        }
        .into()),
    }
}

/// Removes the source named `name` and its fetch state, in one transaction; `None` when there is
/// none. Its captures stay.
pub async fn remove_source(engine: &Engine, name: &str) -> PipelineResult<Option<SourceConfig>> {
    let txn = engine.store().begin().await?;
    let removed = repo::remove(&txn, name).await?;
    txn.commit().await?;
    removed.as_ref().map(SourceConfig::from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// URL templates

/// Why a URL template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `${` without its `}`.
    #[error("`{template}` has an unclosed `${{` at character {at}")]
    Unclosed {
        /// The template.
        template: String,
        /// Its 1-based character position.
        at: usize,
    },
    /// `${}` or a name that is not `[A-Z0-9_]+`.
    #[error(
        "`{template}` has an invalid variable `${{{name}}}`: names are upper-case letters, digits and _"
    )]
    BadName {
        /// The template.
        template: String,
        /// The name.
        name: String,
    },
    /// A variable the domain does not fill.
    #[error("unknown variable `${{{name}}}` in `{template}`; this domain's variables: {}", known_list(.known))]
    UnknownVariable {
        /// The template.
        template: String,
        /// The name.
        name: String,
        /// The variables the domain fills.
        known: Vec<String>,
    },
    /// No variable at all: every partition would fetch the same bytes.
    #[error("`{template}` names no variable, so every partition would fetch the same URL; use {}", known_list(.known))]
    NoVariable {
        /// The template.
        template: String,
        /// The variables the domain fills.
        known: Vec<String>,
    },
    /// The expanded template is not a usable locator.
    #[error("`{template}` does not make a usable locator: {reason}")]
    BadLocator {
        /// The template.
        template: String,
        /// Why (the locator parser's words).
        reason: String,
    },
    /// Credentials in the template (a password, a token parameter): sources are stored in the
    /// database and listed, so they must hold none.
    #[error(
        "`{shown}` holds credentials; sources are stored in the database, so a template must hold none"
    )]
    Credentials {
        /// The template, redacted.
        shown: String,
    },
    /// The partition does not give a value the template needs.
    #[error("`{template}` needs `${{{name}}}`, which partition {partition} does not give")]
    MissingValue {
        /// The template.
        template: String,
        /// The variable.
        name: String,
        /// The partition.
        partition: String,
    },
}

fn known_list(known: &[String]) -> String {
    known
        .iter()
        .map(|k| format!("${{{k}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parsed URL template: literal text and `${NAME}` variables. A `$` not followed by `{` is
/// literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// Whether a template holds a credential: a password in its user-info, or a literal value of a
/// credential-like query parameter (`token=…`, `key=…`; a parameter whose whole value is a
/// `${VARIABLE}` is a partition value, not a secret).
fn holds_credentials(text: &str) -> bool {
    let Some(scheme_end) = text.find("://") else {
        return false;
    };
    let after = &text[scheme_end + 3..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    if authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    {
        return true;
    }
    let Some((_, query)) = text.split_once('?') else {
        return false;
    };
    let query = query.split('#').next().unwrap_or("");
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let secret_name =
            redact::url(&format!("http://h/?{name}=v")) != format!("http://h/?{name}=v");
        let is_variable =
            value.starts_with("${") && value.ends_with('}') && value.matches("${").count() == 1;
        secret_name && !is_variable
    })
}

impl UrlTemplate {
    /// Parses `${NAME}` variables out of `text`.
    pub fn parse(text: &str) -> Result<UrlTemplate, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            literal.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                let at = text.len() - rest.len() + i;
                return Err(TemplateError::Unclosed {
                    template: text.to_string(),
                    at: text[..at].chars().count() + 1,
                });
            };
            let name = &after[..end];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(TemplateError::BadName {
                    template: text.to_string(),
                    name: name.to_string(),
                });
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Variable(name.to_string()));
            rest = &after[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(UrlTemplate {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The variables it names, in order (repeats included).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Checks that it names at least one variable, only variables of `known`, and that it makes
    /// a locator Market Spine can fetch (`http(s)://`, `file://` or a path) whatever the values.
    pub fn check(&self, known: &[&str]) -> Result<(), TemplateError> {
        let known_owned = || known.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        if holds_credentials(&self.text) {
            return Err(TemplateError::Credentials {
                shown: redact::url(&self.text),
            });
        }
        if self.variables().next().is_none() {
            return Err(TemplateError::NoVariable {
                template: self.text.clone(),
                known: known_owned(),
            });
        }
        if let Some(unknown) = self.variables().find(|v| !known.contains(v)) {
            return Err(TemplateError::UnknownVariable {
                template: self.text.clone(),
                name: unknown.to_string(),
                known: known_owned(),
            });
        }
        // Values are dates and codes: the variable's own name stands in for one.
        let sample: Vec<(&str, String)> = known.iter().map(|k| (*k, k.to_string())).collect();
        let expanded = self.expand(&sample, &PartitionKey::new())?;
        SourceLocator::parse(&expanded).map_err(|e| TemplateError::BadLocator {
            template: self.text.clone(),
            reason: match e {
                SourceError::InvalidLocator { reason, .. } => reason,
                other => other.to_string(),
            },
        })?;
        Ok(())
    }

    /// The template with each variable replaced by its value; a variable without a value is an
    /// error naming it and the partition.
    pub fn expand(
        &self,
        values: &[(&str, String)],
        partition: &PartitionKey,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.text.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => {
                    let value = values
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                        .ok_or_else(|| TemplateError::MissingValue {
                            template: self.text.clone(),
                            name: name.clone(),
                            partition: partition.canonical(),
                        })?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Fetching

/// The validators of the last successful fetch of one (source, partition), as the domain sees
/// them: what to send back to ask "changed since?".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchValidators {
    /// The HTTP `ETag` (→ `If-None-Match`).
    pub etag: Option<String>,
    /// The HTTP `Last-Modified` (→ `If-Modified-Since`).
    pub last_modified: Option<String>,
    /// The source's own revision stamp (FINRA's `lastUpdateDate`).
    pub last_update_date: Option<NaiveDate>,
    /// SHA-256 of the bytes.
    pub content_hash: Option<String>,
}

impl FetchValidators {
    fn from_state(state: &repo::FetchState) -> FetchValidators {
        FetchValidators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
            last_update_date: state.last_update_date,
            content_hash: state.content_hash.clone(),
        }
    }

    fn to_store(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            last_update_date: self.last_update_date,
            content_hash: self.content_hash.clone(),
        }
    }
}

/// How the bytes of a capture were obtained from a configured source, kept in the capture's
/// metadata (`source_request`) so an auditor can replay the fetch. Credentials never appear:
/// URLs are redacted and tokens are not part of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The source's name.
    pub source: String,
    /// The source's kind (`url-template`, `finra-api`, …).
    pub kind: String,
    /// `GET`, `POST`, or `READ` for a local file.
    pub method: String,
    /// The URL (redacted) or the path.
    pub url: String,
    /// The request body (the first page's, for a paged API: later pages differ only in their
    /// offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Requests that returned data (pages of a paged API; 1 for a file or a URL).
    pub pages: u32,
    /// Rows received, when the source counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The total the source announced (FINRA's `Record-Total`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_total: Option<u64>,
    /// The summary type asked for (FINRA's `summaryTypeCode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_type: Option<String>,
    /// Whether the requests carried credentials (their values are never recorded).
    pub authenticated: bool,
    /// The validators sent with the request ("changed since?").
    pub sent: FetchValidators,
    /// The validators the response carried.
    pub received: FetchValidators,
    /// When it was fetched, on the run's clock.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Anything else an auditor should know (e.g. rows whose week differs from the one asked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What [`fetch_partition`] found.
// One per fetch, moved once into the ingest: not worth a box for the size difference.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SourceFetch {
    /// Nothing changed since the last successful fetch; nothing to ingest.
    NotModified {
        /// How the source said so (e.g. "HTTP 304 for ETag \"v1\"").
        reason: String,
    },
    /// New bytes, ready to ingest.
    Fetched(FetchedPartition),
}

/// The hash, size and first bytes of a body, kept when the body is not what the domain can read
/// (a 200 answering an HTML error page), so the failed attempt's record shows what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodySample {
    /// SHA-256 of the whole body, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its first [`BODY_PREFIX_BYTES`] bytes, escaped (printable ASCII as is, anything else as
    /// `\n`, `\xNN`, …), so it is one safe line whatever the body held.
    pub prefix: String,
}

impl BodySample {
    /// The sample of an in-memory body.
    pub fn of_bytes(body: &[u8]) -> BodySample {
        BodySample {
            sha256: spine_model::capture::content_hash(body),
            bytes: body.len() as u64,
            prefix: escape_prefix(&body[..body.len().min(BODY_PREFIX_BYTES)]),
        }
    }

    /// The sample of a file whose hash and size are known.
    pub fn of_file(path: &Path, sha256: &str, bytes: u64) -> std::io::Result<BodySample> {
        let mut head = Vec::with_capacity(BODY_PREFIX_BYTES);
        std::fs::File::open(path)?
            .take(BODY_PREFIX_BYTES as u64)
            .read_to_end(&mut head)?;
        Ok(BodySample {
            sha256: sha256.to_string(),
            bytes,
            prefix: escape_prefix(&head),
        })
    }
}

fn escape_prefix(bytes: &[u8]) -> String {
    let escaped: String = bytes.escape_ascii().to_string();
    redact::text(&escaped)
}

/// Bytes fetched for one partition, ready for [`crate::capture::ingest_fetched`]: pass
/// [`FetchedPartition::input`] and [`FetchedPartition::hint`]. The bytes live in a temporary file
/// deleted when this value is dropped: keep it until the ingest returned.
#[derive(Debug)]
pub struct FetchedPartition {
    /// The bytes (a temporary file), the redacted locator, the content hash, and the request
    /// record the capture keeps in its metadata.
    pub input: FetchedInput,
    /// The partition to ingest them under (FINRA: tier and week, the week from the request, never
    /// from a publication lag).
    pub hint: PartitionKey,
    /// How the bytes were obtained (also in `input.request`).
    pub request: RequestRecord,
    /// The validators to record once the capture landed ([`record_fetched`]).
    pub validators: FetchValidators,
    /// When the fetch happened, on the run's clock.
    pub fetched_at: DateTime<Utc>,
    /// Size of the bytes.
    pub bytes: u64,
    _keep: Keep,
}

/// What keeps the temporary file alive (held only to be dropped with the partition).
#[derive(Debug)]
#[allow(dead_code)]
enum Keep {
    Fetched(source::Fetched),
    Temp(NamedTempFile),
}

/// Bytes a plugin wrote to a temporary file, with their SHA-256 and size.
#[derive(Debug)]
pub struct TempBody {
    /// The file (deleted when the [`FetchedPartition`] made from it is dropped).
    pub file: NamedTempFile,
    /// SHA-256 of its bytes, hex.
    pub content_hash: String,
    /// Its size.
    pub bytes: u64,
}

impl FetchedPartition {
    /// Bytes a plugin fetched into `body`, to ingest under `hint`. `locator` is how the capture
    /// names the source (redacted here); `validators` are what to record once the capture landed
    /// (their content hash is set from the body's).
    pub fn from_temp_body(
        body: TempBody,
        locator: &str,
        hint: PartitionKey,
        request: RequestRecord,
        mut validators: FetchValidators,
        fetched_at: DateTime<Utc>,
    ) -> FetchedPartition {
        validators.content_hash = Some(body.content_hash.clone());
        let path = body.file.path().to_path_buf();
        FetchedPartition::new(
            path.as_path(),
            locator,
            body.content_hash,
            body.bytes,
            hint,
            request,
            validators,
            fetched_at,
            Keep::Temp(body.file),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        path: &Path,
        locator: &str,
        content_hash: String,
        bytes: u64,
        hint: PartitionKey,
        request: RequestRecord,
        validators: FetchValidators,
        fetched_at: DateTime<Utc>,
        keep: Keep,
    ) -> FetchedPartition {
        FetchedPartition {
            input: FetchedInput {
                bytes: InputBytes::File(path.to_path_buf()),
                locator: redact::url(locator),
                content_hash,
                request: Some(Arc::new(request.clone())),
            },
            hint,
            request,
            validators,
            fetched_at,
            bytes,
            _keep: keep,
        }
    }

    /// SHA-256 of the bytes, hex: the capture id's content hash.
    pub fn content_hash(&self) -> &str {
        &self.input.content_hash
    }

    /// The bytes' hash, size and escaped first bytes, for the record of an attempt whose bytes
    /// the domain could not read.
    pub fn body_sample(&self) -> std::io::Result<BodySample> {
        let path = self.input.file().map_err(std::io::Error::other)?;
        BodySample::of_file(path, self.content_hash(), self.bytes)
    }

    /// Names the source in the request record (the engine does it for plugins, which are not
    /// told the source's name).
    fn with_source(mut self, source: &SourceConfig) -> FetchedPartition {
        self.request.source = source.name.clone();
        self.request.kind = source.kind.name().to_string();
        self.input.request = Some(Arc::new(self.request.clone()));
        self
    }
}

/// A plugin's failure to fetch, typed the way the worker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginFailure {
    /// A stable upper-case code (e.g. `FINRA_API_RATE_LIMITED`).
    pub code: &'static str,
    /// What happened, redacted.
    pub message: String,
    /// Whether the same fetch may succeed later without anyone changing anything.
    pub retryable: bool,
    /// How long the provider asked to wait.
    pub retry_after: Option<Duration>,
    /// The HTTP status behind it, if the provider answered with one.
    pub http_status: Option<u16>,
    /// What came back, when a success status carried something the plugin cannot read.
    pub body: Option<BodySample>,
}

impl PluginFailure {
    /// A failure; the message is redacted, escaped and bounded here.
    pub fn new(code: &'static str, message: impl AsRef<str>, retryable: bool) -> PluginFailure {
        PluginFailure {
            code,
            message: redact::error(message.as_ref(), redact::MAX_ERROR_CHARS),
            retryable,
            retry_after: None,
            http_status: None,
            body: None,
        }
    }
}

impl fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(body) = &self.body {
            write!(
                f,
                " (body: {} bytes, sha256 {}, starting `{}`)",
                body.bytes, body.sha256, body.prefix
            )?;
        }
        Ok(())
    }
}

/// Why a partition could not be fetched from a source. Like [`SourceError`], it says whether a
/// retry may help ([`SourceFetchError::is_retryable`]), how long to wait
/// ([`SourceFetchError::retry_after`]) and a stable code; "not published yet" (an HTTP 404, a
/// missing drop-folder file, an API week with no rows) is recognisable on its own
/// ([`SourceFetchError::is_not_published`]) because the worker retries it until the partition's
/// retry horizon, not by the retryable flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceFetchError {
    /// The file or URL could not be fetched (`url-template`).
    #[error(transparent)]
    Source(Box<SourceError>),
    /// The source has nothing for the partition yet (a plugin's "404").
    #[error("{what} is not published yet: {detail}")]
    NotPublished {
        /// The partition, in words.
        what: String,
        /// What the source answered.
        detail: String,
    },
    /// The source's configuration cannot be used as it stands (a template variable the
    /// partition lacks, settings the plugin cannot read, an environment variable that is not
    /// set). Never retryable: a person must fix it.
    #[error("the source cannot be used as configured: {reason}")]
    Config {
        /// What is wrong (never a secret's value).
        reason: String,
    },
    /// The source is inactive or not expected to serve this partition (before its `since`).
    #[error("source {source_name} does not serve {partition}: {reason}")]
    NotServed {
        /// The source.
        source_name: String,
        /// The partition.
        partition: String,
        /// Why.
        reason: String,
    },
    /// A plugin's failure (HTTP status, rate limit, timeout, unreadable answer…).
    #[error("{0}")]
    Plugin(Box<PluginFailure>),
    /// The engine failed (the database, an unregistered domain).
    #[error(transparent)]
    Pipeline(Box<PipelineError>),
    /// Writing the fetched bytes to a temporary file failed.
    #[error("cannot keep the fetched bytes in a temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<SourceError> for SourceFetchError {
    fn from(e: SourceError) -> Self {
        SourceFetchError::Source(Box::new(e))
    }
}

impl From<PipelineError> for SourceFetchError {
    fn from(e: PipelineError) -> Self {
        SourceFetchError::Pipeline(Box::new(e))
    }
}

impl From<spine_store::StoreError> for SourceFetchError {
    fn from(e: spine_store::StoreError) -> Self {
        SourceFetchError::Pipeline(Box::new(PipelineError::Store(e)))
    }
}

impl From<PluginFailure> for SourceFetchError {
    fn from(e: PluginFailure) -> Self {
        SourceFetchError::Plugin(Box::new(e))
    }
}

impl SourceFetchError {
    /// Whether the same fetch may succeed later without anyone changing anything: 5xx, 408,
    /// 429, timeouts, connection failures, a plugin's transient failures, and the database
    /// failing (the worker's own trouble, not the source's). Not: "not published yet" (see
    /// [`SourceFetchError::is_not_published`]), configuration, an unreadable answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Source(e) => e.is_retryable(),
            Self::Plugin(p) => p.retryable,
            Self::Pipeline(e) => matches!(**e, PipelineError::Store(_)),
            Self::Io(_) => true,
            Self::NotPublished { .. } | Self::Config { .. } | Self::NotServed { .. } => false,
        }
    }

    /// Whether the source says the partition does not exist yet: an HTTP 404, a drop-folder
    /// file that is not there, an API week without rows. The worker retries these until the
    /// partition's retry horizon.
    pub fn is_not_published(&self) -> bool {
        match self {
            Self::Source(e) => matches!(**e, SourceError::NotFound { .. }),
            Self::Plugin(p) => p.http_status == Some(404),
            Self::NotPublished { .. } => true,
            _ => false,
        }
    }

    /// How long the source asked to wait (`Retry-After`), so a retry backs off at least that
    /// long.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Source(e) => e.retry_after(),
            Self::Plugin(p) => p.retry_after,
            _ => None,
        }
    }

    /// The HTTP status behind the failure, if the source answered with one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Source(e) => e.http_status(),
            Self::Plugin(p) => p.http_status,
            _ => None,
        }
    }

    /// A stable upper-case code, for work-item and anomaly records.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Source(e) => e.code(),
            Self::Plugin(p) => p.code,
            Self::NotPublished { .. } => "SOURCE_NOT_PUBLISHED",
            Self::Config { .. } => "SOURCE_CONFIG",
            Self::NotServed { .. } => "SOURCE_NOT_SERVED",
            Self::Pipeline(_) => "SOURCE_ENGINE",
            Self::Io(_) => "SOURCE_TEMP_IO",
        }
    }

    /// The hash, size and first bytes of what came back, when the source answered with
    /// something that is not its data.
    pub fn body_sample(&self) -> Option<&BodySample> {
        match self {
            Self::Plugin(p) => p.body.as_ref(),
            _ => None,
        }
    }

    /// The message, redacted, escaped and bounded: what to store or print.
    pub fn redacted(&self) -> String {
        redact::error(&self.to_string(), redact::MAX_ERROR_CHARS)
    }
}

/// Waits for the next request slot of `rate_key` (a provider's origin) at
/// `requests_per_second`, reserved in `core_source_rate` so every worker sharing the database
/// shares the budget. Call it before every HTTP request, each page included.
pub async fn reserve_rate_slot(
    engine: &Engine,
    rate_key: &str,
    requests_per_second: f64,
) -> Result<(), SourceFetchError> {
    if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
        return Err(SourceFetchError::Config {
            reason: format!(
                "requests per second must be a positive number, got {requests_per_second}"
            ),
        });
    }
    let interval = Duration::from_secs_f64(1.0 / requests_per_second);
    let slot = repo::reserve_slot(engine.store().conn(), rate_key, interval, Utc::now()).await?;
    if let Ok(wait) = (slot - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    Ok(())
}

/// Fetches one partition from a source if it changed since the last successful fetch.
///
/// Refuses an inactive source and a partition before the source's `since`. A `url-template` is
/// expanded with the domain's variables and fetched (conditionally over HTTP; a drop-folder file
/// is copied); a plugin kind is fetched by its domain. Either way a body identical to the last
/// recorded one is [`SourceFetch::NotModified`]. When nothing changed, the fetch state's
/// `checked_at` moves to the run's clock (and, for an identical body, the validators it came
/// with are kept: they describe bytes already captured); new bytes' validators are recorded by
/// [`record_fetched`], after the capture landed.
pub async fn fetch_partition(
    engine: &Engine,
    source: &SourceConfig,
    partition: &PartitionKey,
    run: &RunContext,
) -> Result<SourceFetch, SourceFetchError> {
    let plugin = engine.domain(&source.domain)?;
    let not_served = |reason: String| SourceFetchError::NotServed {
        source_name: source.name.clone(),
        partition: partition.canonical(),
        reason,
    };
    if !source.active {
        return Err(not_served("the source is inactive".into()));
    }
    if !source.serves(plugin.as_ref(), partition) {
        return Err(not_served(format!(
            "it serves weeks from {} on",
            source.since.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    let conn = engine.store().conn();
    let validators = repo::fetch_state(conn, source.id, partition)
        .await?
        .map(|s| FetchValidators::from_state(&s))
        .unwrap_or_default();
    let outcome = match &source.kind {
        SourceKind::UrlTemplate {
            template,
            requests_per_second,
        } => {
            fetch_url_template(
                engine,
                plugin.as_ref(),
                template,
                requests_per_second.unwrap_or(URL_TEMPLATE_REQUESTS_PER_SECOND),
                partition,
                &validators,
                run,
            )
            .await?
        }
        SourceKind::Plugin { kind, settings } => {
            plugin
                .fetch_source(engine, kind, settings, partition, &validators, run)
                .await?
        }
    };
    match outcome {
        SourceFetch::Fetched(f) if validators.content_hash.as_deref() == Some(f.content_hash()) => {
            // The same bytes as the ones captured: what the source sent with them now (a new
            // ETag, a later stamp) describes the captured bytes, so the next fetch asks with it.
            repo::record_fetch_state(
                conn,
                source.id,
                partition,
                &f.validators.to_store(),
                run.now,
            )
            .await?;
            Ok(SourceFetch::NotModified {
                reason: format!(
                    "the body is identical to the last one fetched (sha256 {})",
                    f.content_hash()
                ),
            })
        }
        SourceFetch::Fetched(f) => Ok(SourceFetch::Fetched(f.with_source(source))),
        not_modified => {
            repo::touch_fetch_state(conn, source.id, partition, run.now).await?;
            Ok(not_modified)
        }
    }
}

/// Records the validators of a fetch whose capture landed (ingested, revised, or unchanged), so
/// the next fetch of the partition asks "changed since?". Call it only after a successful
/// ingest: validators of bytes that never landed would make the next fetch skip them.
pub async fn record_fetched(
    engine: &Engine,
    source: &SourceConfig,
    partition: &PartitionKey,
    fetched: &FetchedPartition,
) -> PipelineResult<()> {
    repo::record_fetch_state(
        engine.store().conn(),
        source.id,
        partition,
        &fetched.validators.to_store(),
        fetched.fetched_at,
    )
    .await?;
    Ok(())
}

/// The rate key of an HTTP origin: sources of the same kind on the same origin share a budget.
pub fn rate_key(kind: &str, url: &reqwest::Url) -> String {
    format!("{kind} {}", url.origin().ascii_serialization())
}

/// Fetches a `url-template` source's partition.
async fn fetch_url_template(
    engine: &Engine,
    plugin: &dyn DomainPlugin,
    template: &str,
    requests_per_second: f64,
    partition: &PartitionKey,
    validators: &FetchValidators,
    run: &RunContext,
) -> Result<SourceFetch, SourceFetchError> {
    let config = |e: TemplateError| SourceFetchError::Config {
        reason: e.to_string(),
    };
    let template = UrlTemplate::parse(template).map_err(config)?;
    let values = plugin.template_variables(partition);
    let expanded = template.expand(&values, partition).map_err(config)?;
    let locator = SourceLocator::parse(&expanded)?;
    let (method, conditions) = match &locator {
        SourceLocator::Http(url) => {
            reserve_rate_slot(engine, &rate_key(URL_TEMPLATE, url), requests_per_second).await?;
            let conditions = Conditions {
                if_none_match: validators.etag.clone(),
                if_modified_since: validators.last_modified.clone(),
            };
            ("GET", conditions)
        }
        SourceLocator::File(_) => ("READ", Conditions::default()),
    };
    let shown = redact::url(&locator.to_string());
    match source::fetch_if_changed(&locator, &FetchOptions::default(), &conditions).await? {
        ConditionalFetch::NotModified => Ok(SourceFetch::NotModified {
            reason: format!(
                "HTTP 304 Not Modified from {shown} ({})",
                [
                    conditions
                        .if_none_match
                        .as_ref()
                        .map(|e| format!("If-None-Match {e}")),
                    conditions
                        .if_modified_since
                        .as_ref()
                        .map(|m| format!("If-Modified-Since {m}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
            ),
        }),
        ConditionalFetch::Fetched {
            fetched,
            validators: received,
        } => {
            let content_hash = fetched.sha256().to_string();
            let new_validators = FetchValidators {
                etag: received.etag.clone(),
                last_modified: received.last_modified.clone(),
                last_update_date: None,
                content_hash: Some(content_hash.clone()),
            };
            let request = RequestRecord {
                method: method.to_string(),
                url: shown.clone(),
                pages: 1,
                sent: FetchValidators {
                    etag: conditions.if_none_match.clone(),
                    last_modified: conditions.if_modified_since.clone(),
                    ..FetchValidators::default()
                },
                received: FetchValidators {
                    etag: received.etag,
                    last_modified: received.last_modified,
                    ..FetchValidators::default()
                },
                fetched_at: Some(run.now),
                ..RequestRecord::default()
            };
            let path = fetched.path().to_path_buf();
            let bytes = fetched.len();
            Ok(SourceFetch::Fetched(FetchedPartition::new(
                &path,
                &shown,
                content_hash,
                bytes,
                partition.clone(),
                request,
                new_validators,
                run.now,
                Keep::Fetched(fetched),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: &[&str] = &["TIER", "WEEK_ENDING", "WEEK_START"];

    #[test]
    fn templates_expand_their_variables_and_refuse_unknown_ones() {
        let t = UrlTemplate::parse("https://h/finra/${TIER}/${WEEK_ENDING}.psv?x=$y").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["TIER", "WEEK_ENDING"]);
        t.check(VARS).unwrap();
        let values = vec![
            ("TIER", "OTC".to_string()),
            ("WEEK_ENDING", "2025-12-19".to_string()),
        ];
        assert_eq!(
            t.expand(&values, &PartitionKey::new()).unwrap(),
            "https://h/finra/OTC/2025-12-19.psv?x=$y"
        );
        let missing = t
            .expand(&values[..1], &PartitionKey::new().with("tier", "OTC"))
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "`https://h/finra/${TIER}/${WEEK_ENDING}.psv?x=$y` needs `${WEEK_ENDING}`, which \
             partition {\"tier\":\"OTC\"} does not give"
        );

        let unknown = UrlTemplate::parse("/drop/${TIER}_${WEEK}.psv")
            .unwrap()
            .check(VARS)
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown variable `${WEEK}` in `/drop/${TIER}_${WEEK}.psv`; this domain's \
             variables: ${TIER}, ${WEEK_ENDING}, ${WEEK_START}"
        );
        assert!(matches!(
            UrlTemplate::parse("/drop/${TIER").unwrap_err(),
            TemplateError::Unclosed { at: 7, .. }
        ));
        assert!(matches!(
            UrlTemplate::parse("/drop/${tier}").unwrap_err(),
            TemplateError::BadName { .. }
        ));
        assert!(matches!(
            UrlTemplate::parse("/drop/${}").unwrap_err(),
            TemplateError::BadName { .. }
        ));
        assert!(matches!(
            UrlTemplate::parse("/drop/otc.psv").unwrap().check(VARS),
            Err(TemplateError::NoVariable { .. })
        ));
        let ftp = UrlTemplate::parse("ftp://h/${TIER}")
            .unwrap()
            .check(VARS)
            .unwrap_err();
        assert!(
            ftp.to_string().contains("unsupported scheme `ftp://`"),
            "{ftp}"
        );
        assert!(matches!(
            UrlTemplate::parse("https://u:pw@h/${TIER}?x=1")
                .unwrap()
                .check(VARS),
            Err(TemplateError::Credentials { shown }) if shown == "https://u:***@h/${TIER}?x=1"
        ));
        assert!(matches!(
            UrlTemplate::parse("https://h/${TIER}?api_key=abc")
                .unwrap()
                .check(VARS),
            Err(TemplateError::Credentials { .. })
        ));
        UrlTemplate::parse("https://h/q?tierCode=${TIER}&week=${WEEK_ENDING}")
            .unwrap()
            .check(VARS)
            .unwrap();
        UrlTemplate::parse("file:///srv/drop/${WEEK_START}/${TIER}.psv")
            .unwrap()
            .check(VARS)
            .unwrap();
    }

    #[test]
    fn a_body_sample_is_bounded_and_escaped() {
        let mut body = b"<html>\n\x1b[31mnot data\x00".to_vec();
        body.extend(std::iter::repeat_n(b'x', 1_000));
        let sample = BodySample::of_bytes(&body);
        assert_eq!(sample.bytes, body.len() as u64);
        assert_eq!(sample.sha256, spine_model::capture::content_hash(&body));
        assert!(
            sample
                .prefix
                .starts_with("<html>\\n\\x1b[31mnot data\\x00xxx"),
            "{}",
            sample.prefix
        );
        assert!(!sample.prefix.chars().any(char::is_control));
        assert!(sample.prefix.len() < BODY_PREFIX_BYTES + 40);
    }

    #[test]
    fn fetch_errors_say_whether_to_retry() {
        let loc = SourceLocator::parse("http://127.0.0.1/x").unwrap();
        let e: SourceFetchError = SourceError::HttpStatus {
            locator: loc.clone(),
            status: 429,
            retry_after: Some(Duration::from_secs(30)),
        }
        .into();
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(e.http_status(), Some(429));
        assert_eq!(e.code(), "SOURCE_HTTP_STATUS");
        assert_eq!(
            e.to_string(),
            "HTTP 429 from http://127.0.0.1/x (Retry-After 30s)"
        );

        let e: SourceFetchError = SourceError::NotFound { locator: loc }.into();
        assert!(!e.is_retryable());
        assert!(e.is_not_published());

        let e = SourceFetchError::Config {
            reason: "environment variable FINRA_SECRET is not set".into(),
        };
        assert!(!e.is_retryable() && !e.is_not_published());
        assert_eq!(e.code(), "SOURCE_CONFIG");

        let mut p = PluginFailure::new("X_BODY", "not JSON from http://u:pw@h/x", false);
        p.body = Some(BodySample::of_bytes(b"<html>"));
        let e: SourceFetchError = p.into();
        assert_eq!(e.body_sample().map(|b| b.bytes), Some(6));
        assert!(e.to_string().contains("http://u:***@h/x"), "{e}");
        assert!(e.to_string().contains("starting `<html>`"), "{e}");
    }
}
