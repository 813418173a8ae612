//! Rendering results for people (aligned tables) and programs (JSON, CSV).
//!
//! Commands build a [`Table`] (and a JSON value where the JSON shape is richer than a table);
//! this module decides how it reaches the terminal, so every command formats the same way.

use std::ffi::OsStr;
use std::io::{self, IsTerminal, Write};

use clap::ValueEnum;
// anstyle, through clap's re-export: already built for clap's own help colours, so colouring
// tables costs no new dependency.
use clap::builder::styling::{AnsiColor, Effects, Style};
use serde_json::Value;

/// The `--format` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
    /// CSV for spreadsheets.
    Csv,
}

/// Rows with named columns, the common shape of most command output.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// Cells, one `Vec` per row, as many cells as headers.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names and no rows.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    /// Writes the table with columns padded to their widest cell; numbers right-aligned. Never
    /// coloured: this is the form for files, pipes and tests.
    pub fn write_aligned(&self, out: &mut impl Write) -> io::Result<()> {
        self.write_aligned_styled(out, false)
    }

    /// Like [`Table::write_aligned`], with status and severity words coloured when `colour` is
    /// true. Cells are padded on their plain text first and coloured afterwards, so escape codes
    /// never count towards a column's width and the columns stay aligned.
    pub fn write_aligned_styled(&self, out: &mut impl Write, colour: bool) -> io::Result<()> {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(std::iter::once(&self.headers[i]))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric: Vec<bool> = (0..self.headers.len())
            .map(|i| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        r.get(i)
                            .is_some_and(|c| !c.is_empty() && c.parse::<f64>().is_ok())
                    })
            })
            .collect();
        let line = |cells: &[String], out: &mut dyn Write, colour: bool| -> io::Result<()> {
            let mut parts = Vec::with_capacity(cells.len());
            for (i, cell) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                let last = i + 1 == cells.len();
                parts.push(if numeric.get(i).copied().unwrap_or(false) {
                    format!("{cell:>w$}")
                } else if last {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                });
            }
            let plain = parts.join("  ");
            let plain = plain.trim_end();
            if colour {
                writeln!(out, "{}", colourize(plain))
            } else {
                writeln!(out, "{plain}")
            }
        };
        line(&self.headers, out, false)?;
        for row in &self.rows {
            line(row, out, colour)?;
        }
        Ok(())
    }

    /// Writes the table as CSV with a header row.
    pub fn write_csv(&self, out: impl Write) -> csv::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.headers)?;
        for row in &self.rows {
            w.write_record(row)?;
        }
        w.flush()?;
        Ok(())
    }

    /// The rows as JSON objects keyed by header (all values as strings).
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    Value::Object(
                        self.headers
                            .iter()
                            .cloned()
                            .zip(r.iter().cloned().map(Value::String))
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

/// Whether to colour output, decided from facts only (so it can be tested): colour goes to a
/// terminal and nowhere else, and any non-empty `NO_COLOR` turns it off (<https://no-color.org>).
pub fn use_colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Whether this process's tables on stdout are coloured (see [`use_colour`]). JSON and CSV never
/// are, whatever this says.
pub fn stdout_colour() -> bool {
    use_colour(
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The colour of a word that carries a verdict or a severity, so the eye finds what blocks
/// before reading: readiness statuses and anomaly severities, nothing else.
fn word_style(word: &str) -> Option<Style> {
    let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
    Some(match word {
        "READY" => fg(AnsiColor::Green),
        "READY_WITH_WARNINGS" | "WARN" => fg(AnsiColor::Yellow),
        "NOT_READY" | "ERROR" => fg(AnsiColor::Red),
        "CRITICAL" => fg(AnsiColor::Red).effects(Effects::BOLD),
        "INFO" => Style::new().effects(Effects::DIMMED),
        _ => return None,
    })
}

/// Colours every whitespace-separated word of an already padded line that [`word_style`]
/// knows, leaving the whitespace (the padding) untouched.
fn colourize(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        match word_style(word) {
            Some(style) => {
                out.push_str(&format!("{style}{word}{style:#}"));
            }
            None => out.push_str(word),
        }
        rest = &rest[end..];
    }
    out
}

/// Prints `table` (or `json`, when given, for `--format json`) in the chosen format.
pub fn emit(format: Format, table: &Table, json: Option<&Value>) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => table.write_aligned_styled(&mut out, stdout_colour())?,
        Format::Csv => table.write_csv(&mut out)?,
        Format::Json => {
            let value = json.cloned().unwrap_or_else(|| table.to_json());
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Prints several titled tables for people (one command, several facets of one answer), or, for
/// programs, `json` or the single flat `csv` table: CSV cannot hold several tables, so the
/// caller chooses the one flat view that makes sense in a spreadsheet.
pub fn emit_sections(
    format: Format,
    sections: &[(String, Table)],
    csv: &Table,
    json: &Value,
) -> anyhow::Result<()> {
    if format != Format::Table {
        return emit(format, csv, Some(json));
    }
    let colour = stdout_colour();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (i, (title, table)) in sections.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{title}")?;
        if table.rows.is_empty() {
            writeln!(out, "  (none)")?;
        } else {
            table.write_aligned_styled(&mut out, colour)?;
        }
    }
    Ok(())
}

/// An anomaly as JSON: every column of the table, with `details` parsed and the partition key
/// as an object. Here, with the other renderers, because the CLI (`spine anomalies`, `spine deps`)
/// and the HTTP API (`/anomalies`) print anomalies the same way.
pub fn anomaly_json(a: &spine_store::anomalies::Anomaly) -> Value {
    serde_json::json!({
        "id": a.id,
        "domain": a.domain,
        "pipeline": a.pipeline,
        "partition_key": a.partition_key.as_deref().and_then(|k| serde_json::from_str::<Value>(k).ok()),
        "stage": a.stage,
        "severity": a.severity,
        "category": a.category,
        "cause": a.cause,
        "message": a.message,
        "details": a.details_json,
        "affected_records": a.affected_records,
        "sample_records": a.sample_records,
        "execution_id": a.execution_id,
        "batch_id": a.batch_id,
        "capture_id": a.capture_id,
        "detected_at": a.detected_at,
        "resolved_at": a.resolved_at,
        "resolution_note": a.resolution_note,
        "resolved_by": a.resolved_by,
        "created_at": a.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_tables_pad_text_left_and_numbers_right() {
        let mut t = Table::new(["symbol", "shares", "note"]);
        t.push(["AAPL", "12", "x"]);
        t.push(["Z", "1234", "longer note"]);
        let mut out = Vec::new();
        t.write_aligned(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "symbol  shares  note\nAAPL        12  x\nZ         1234  longer note\n"
        );
    }

    #[test]
    fn csv_and_json_carry_the_same_cells() {
        let mut t = Table::new(["a", "b"]);
        t.push(["1", "x,y"]);
        let mut out = Vec::new();
        t.write_csv(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\n1,\"x,y\"\n");
        assert_eq!(t.to_json(), serde_json::json!([{"a": "1", "b": "x,y"}]));
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
        // no-color.org: only a non-empty value disables colour.
        assert!(use_colour(true, Some(OsStr::new(""))));
    }

    fn status_table() -> Table {
        let mut t = Table::new(["week", "status", "severity", "note"]);
        t.push(["2025-12-19", "READY", "INFO", "fine"]);
        t.push(["2025-12-26", "NOT_READY", "CRITICAL", "x"]);
        t.push([
            "2026-01-02",
            "READY_WITH_WARNINGS",
            "WARN",
            "ERROR in a note",
        ]);
        t
    }

    #[test]
    fn uncoloured_tables_have_no_escape_codes() {
        let mut out = Vec::new();
        status_table()
            .write_aligned_styled(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        let mut plain = Vec::new();
        status_table().write_aligned(&mut plain).unwrap();
        assert_eq!(text, String::from_utf8(plain).unwrap());
        // Decision and rendering together: escape codes only on a terminal without NO_COLOR.
        for (terminal, no_color, escapes) in [
            (false, None, false),
            (true, Some(OsStr::new("1")), false),
            (false, Some(OsStr::new("true")), false),
            (true, None, true),
        ] {
            let mut out = Vec::new();
            status_table()
                .write_aligned_styled(&mut out, use_colour(terminal, no_color))
                .unwrap();
            assert_eq!(out.contains(&0x1b), escapes, "{terminal} {no_color:?}");
        }
    }

    #[test]
    fn coloured_tables_stay_aligned_and_colour_only_status_words() {
        let mut plain = Vec::new();
        status_table().write_aligned(&mut plain).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        let mut out = Vec::new();
        status_table().write_aligned_styled(&mut out, true).unwrap();
        let coloured = String::from_utf8(out).unwrap();
        assert!(coloured.contains("\x1b[32mREADY\x1b[0m"), "{coloured:?}");
        assert!(
            coloured.contains("\x1b[31mNOT_READY\x1b[0m"),
            "{coloured:?}"
        );
        assert!(coloured.contains("\x1b[33mREADY_WITH_WARNINGS\x1b[0m"));
        assert!(coloured.contains("\x1b[2mINFO\x1b[0m"));
        assert!(coloured.contains("\x1b[33mWARN\x1b[0m"));
        assert!(
            coloured.contains("\x1b[1m\x1b[31mCRITICAL\x1b[0m"),
            "{coloured:?}"
        );
        // "ERROR" inside a free-text note is a word too, and is coloured like a severity.
        assert!(coloured.contains("\x1b[31mERROR\x1b[0m in a note"));
        // The header is never coloured, and stripping the codes gives back the plain table
        // byte for byte: padding was computed on the plain text.
        assert!(coloured.starts_with("week  "));
        assert_eq!(strip_ansi(&coloured), plain);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
