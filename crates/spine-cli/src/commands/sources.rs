//! `spine sources add|list|remove`: where each domain's partitions are fetched from, stored in
//! the database for every worker.
//!
//! `add` checks everything it can before opening the database (the domain, the kind, the
//! template's variables, the plugin's settings, `--since` against the command's clock), so bad
//! input is a usage error (exit 2) that writes nothing; a name already taken is one too. It opens
//! an existing database only: sources are configuration of a database someone set up.

use std::process::ExitCode;

use serde::Serialize;
use spine_engine::sources::{self, AddSourceError, NewSourceSpec, SourceConfig, SourceKind};

use crate::cli::{SourceAddArgs, SourcesCommand};
use crate::commands::Context;
use crate::errors::usage;
use crate::output::{Table, emit};

/// A source as `--format json` shows it.
#[derive(Debug, Serialize)]
struct SourceView {
    id: i64,
    name: String,
    domain: String,
    kind: String,
    since: Option<chrono::NaiveDate>,
    active: bool,
    /// The kind's settings (a template, or the plugin's settings; never a secret).
    settings: serde_json::Value,
}

impl From<&SourceConfig> for SourceView {
    fn from(s: &SourceConfig) -> Self {
        SourceView {
            id: s.id,
            name: s.name.clone(),
            domain: s.domain.to_string(),
            kind: s.kind.name().to_string(),
            since: s.since,
            active: s.active,
            settings: s.kind.settings_json(),
        }
    }
}

fn table(rows: &[SourceConfig]) -> Table {
    let mut table = Table::new(["name", "domain", "kind", "since", "active", "settings"]);
    for s in rows {
        table.push([
            s.name.clone(),
            s.domain.to_string(),
            s.kind.name().to_string(),
            s.since.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            s.active.to_string(),
            s.describe(),
        ]);
    }
    table
}

/// The source the flags describe, or the usage error saying which flag does not fit the kind.
fn spec(args: &SourceAddArgs) -> anyhow::Result<NewSourceSpec> {
    let settings = args.plugin_settings();
    let kind = if args.kind == sources::URL_TEMPLATE {
        // --requests-per-second applies to both kinds; the other settings are a plugin's.
        if let Some((_, flag, _)) = settings
            .iter()
            .find(|(key, _, _)| *key != "requests_per_second")
        {
            return Err(usage(format!(
                "{flag} does not apply to --kind url-template (it configures a plugin kind such \
                 as finra-api)"
            )));
        }
        let Some(template) = &args.url_template else {
            return Err(usage(
                "--kind url-template needs --url-template (a URL or path with ${VARIABLES})",
            ));
        };
        SourceKind::UrlTemplate {
            template: template.clone(),
            requests_per_second: args.requests_per_second,
        }
    } else {
        if args.url_template.is_some() {
            return Err(usage(format!(
                "--url-template applies to --kind url-template, not --kind {}",
                args.kind
            )));
        }
        SourceKind::Plugin {
            kind: args.kind.clone(),
            settings: serde_json::Value::Object(
                settings
                    .into_iter()
                    .map(|(key, _, value)| (key.to_string(), value))
                    .collect(),
            ),
        }
    };
    Ok(NewSourceSpec {
        name: args.name.clone(),
        domain: args.domain.clone(),
        kind,
        since: args.since,
    })
}

/// Runs a `spine sources` command.
pub async fn run(ctx: &Context, cmd: SourcesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SourcesCommand::Add(args) => {
            let spec = spec(&args)?;
            let now = ctx.clock.now();
            // Everything that can be wrong with the input is found before anything is opened.
            sources::validate_source(&crate::registry::registry(), &spec, now.date_naive())
                .map_err(|e| usage(e.to_string()))?;
            let engine = ctx.open_engine().await?;
            let source = match sources::add_source(&engine, spec, now).await {
                Ok(source) => source,
                Err(AddSourceError::Invalid(e)) => return Err(usage(e.to_string())),
                Err(AddSourceError::Pipeline(e)) => return Err(e.into()),
            };
            let shown = std::slice::from_ref(&source);
            emit(
                ctx.format(),
                &table(shown),
                Some(&serde_json::to_value(SourceView::from(&source))?),
            )?;
        }
        SourcesCommand::List { domain } => {
            let engine = ctx.open_engine().await?;
            let rows = sources::list_sources(&engine, domain.as_ref()).await?;
            let views: Vec<SourceView> = rows.iter().map(SourceView::from).collect();
            emit(
                ctx.format(),
                &table(&rows),
                Some(&serde_json::to_value(views)?),
            )?;
        }
        SourcesCommand::Remove { name } => {
            let engine = ctx.open_engine().await?;
            let Some(removed) = sources::remove_source(&engine, &name).await? else {
                let names: Vec<String> = sources::list_sources(&engine, None)
                    .await?
                    .into_iter()
                    .map(|s| s.name)
                    .collect();
                return Err(usage(format!(
                    "no source named `{}`; configured sources: {}",
                    name.escape_debug(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            };
            emit(
                ctx.format(),
                &table(std::slice::from_ref(&removed)),
                Some(&serde_json::json!({ "removed": SourceView::from(&removed) })),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
