//! Rendering results for people (aligned tables) and programs (JSON, CSV).
//!
//! Commands build a [`Table`] (and a JSON value where the JSON shape is richer than a table);
//! this module decides how it reaches the terminal, so every command formats the same way.

use std::io::{self, Write};

use clap::ValueEnum;
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

    /// Writes the table with columns padded to their widest cell; numbers right-aligned.
    pub fn write_aligned(&self, out: &mut impl Write) -> io::Result<()> {
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
        let line = |cells: &[String], out: &mut dyn Write| -> io::Result<()> {
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
            writeln!(out, "{}", parts.join("  ").trim_end())
        };
        line(&self.headers, out)?;
        for row in &self.rows {
            line(row, out)?;
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

/// Prints `table` (or `json`, when given, for `--format json`) in the chosen format.
pub fn emit(format: Format, table: &Table, json: Option<&Value>) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => table.write_aligned(&mut out)?,
        Format::Csv => table.write_csv(&mut out)?,
        Format::Json => {
            let value = json.cloned().unwrap_or_else(|| table.to_json());
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
    }
    Ok(())
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
}
