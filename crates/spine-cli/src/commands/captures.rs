//! `spine captures lines`: any line of a capture's input exactly as received, read from the
//! bytes kept at capture time (`spine_engine::received`), so "what did line N say" has an
//! answer for accepted lines too, not only for rejects.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;
use spine_engine::received;
use spine_model::escape::escape_raw;
use spine_store::captures;

use crate::cli::{CaptureLinesArgs, CapturesCommand};
use crate::commands::Context;
use crate::output::{Table, emit};

/// Runs a `spine captures` command.
pub async fn run(ctx: &Context, cmd: CapturesCommand) -> anyhow::Result<ExitCode> {
    let CapturesCommand::Lines(args) = cmd;
    lines(ctx, args).await
}

async fn lines(ctx: &Context, args: CaptureLinesArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store().await?;
    let Some(capture) = captures::get(store.conn(), &args.capture).await? else {
        bail!(
            "no capture {} (see `spine status` or `spine ingest` output for ids)",
            args.capture
        );
    };
    let found = received::lines(store.conn(), &capture.content_hash, args.line, args.count).await?;
    if found.is_empty() {
        if !received::kept(store.conn(), &capture.content_hash).await? {
            bail!(
                "the received bytes of capture {} are not kept: it was made before Market Spine \
                 kept them (its accepted lines are in its domain's RAW table), or its domain \
                 ({}) stores its input in its own tables",
                capture.capture_id,
                capture.domain
            );
        }
        bail!(
            "capture {} has no line {} (its input has the header and {} data lines)",
            capture.capture_id,
            args.line,
            capture.rows_read
        );
    }
    let mut table = Table::new(["line", "text"]);
    let mut json = Vec::with_capacity(found.len());
    for (n, bytes) in &found {
        let text = escape_raw(bytes);
        table.push([n.to_string(), text.clone()]);
        json.push(json!({ "capture_id": capture.capture_id, "line_number": n, "text": text }));
    }
    emit(ctx.format(), &table, Some(&serde_json::Value::Array(json)))?;
    Ok(ExitCode::SUCCESS)
}
