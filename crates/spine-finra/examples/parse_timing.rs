//! Times the FINRA parser on a generated 1,000,000-row week, in release mode:
//! `cargo run --release -p spine-finra --example parse_timing [-- ROWS [parse]]`.
//!
//! Why an example rather than a test: a timing is a measurement to read, not a pass/fail
//! check, and it only means something in release. The file is generated once into the system's
//! temporary directory by `spine_gen::write_week` (FINRA's exact format) and reused.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use spine_finra::parse::{FinraReader, Line, ReaderOptions, dominant_last_update};
use spine_gen::{WeekSpec, write_week};
use spine_model::{Tier, WeekEnding};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The fastest of `n` runs of `f` (the least disturbed by whatever else the machine runs). What
/// `f` returns is dropped after the clock stops: freeing a reader's maps is not parsing.
fn best_of<T>(n: usize, mut f: impl FnMut() -> Result<T>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let start = Instant::now();
        let kept = f()?;
        best = best.min(start.elapsed());
        drop(kept);
    }
    Ok(best)
}

fn report(what: &str, took: Duration, rows: u64) {
    println!(
        "{what}: best of 5 {took:?} ({:.2} M rows/s)",
        rows as f64 / took.as_secs_f64() / 1e6
    );
}

fn main() -> Result<()> {
    let rows: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let week = NaiveDate::from_ymd_opt(2025, 11, 14).expect("a date");
    let path: PathBuf = std::env::temp_dir().join(format!("spine_parse_timing_{rows}.csv"));
    if !path.exists() {
        let spec = WeekSpec {
            rows,
            ..WeekSpec::default()
        };
        write_week(BufWriter::new(File::create(&path)?), Tier::Otc, week, &spec)?;
    }
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "{} ({rows} rows, {:.1} MB)",
        path.display(),
        bytes as f64 / 1e6
    );

    // `-- ROWS parse` times the parse alone (e.g. under `perf stat`).
    let parse_only = std::env::args().nth(2).as_deref() == Some("parse");
    // The stamp pre-scan the pipeline runs before planning (only the bytes after each line's
    // last `|`).
    let scan = best_of(if parse_only { 0 } else { 5 }, || {
        let (stamp, counts) = dominant_last_update(File::open(&path)?)?.ok_or("no stamp")?;
        assert_eq!(counts.lines_with(stamp), rows);
        Ok(())
    })?;
    if !parse_only {
        report("stamp pre-scan", scan, rows);
    }
    let options = ReaderOptions {
        expected_last_update: dominant_last_update(File::open(&path)?)?.map(|(d, _)| d),
        week_ending: Some(WeekEnding::new(week)?),
    };
    // A full parse as the pipeline runs it: the reader buffers a plain file itself.
    let parse = best_of(5, || {
        let mut reader = FinraReader::with_options(File::open(&path)?, options)?;
        let mut shares = 0i64;
        for line in reader.by_ref() {
            if let Line::Accepted(row) = line? {
                shares = shares.wrapping_add(row.shares());
            }
        }
        assert_eq!(reader.stats().accepted, rows, "{:?}", reader.stats());
        std::hint::black_box(shares);
        Ok(reader)
    })?;
    report("parse", parse, rows);
    Ok(())
}
