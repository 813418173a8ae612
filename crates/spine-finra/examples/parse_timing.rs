//! Times the FINRA parser on a generated 1,000,000-row week, in release mode:
//! `cargo run --release -p spine-finra --example parse_timing [-- ROWS]`.
//!
//! Why an example rather than a test: a timing is a measurement to read, not a pass/fail
//! check, and it only means something in release. The file is generated once into the system's
//! temporary directory by `spine_gen::write_week` (FINRA's exact format) and reused.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use spine_finra::parse::{FinraReader, Line};
use spine_gen::{WeekSpec, write_week};
use spine_model::Tier;

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    println!("{} ({rows} rows, {:.1} MB)", path.display(), bytes as f64 / 1e6);

    let mut best_parse = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut reader = FinraReader::new(BufReader::with_capacity(1 << 20, File::open(&path)?))?;
        let mut shares = 0i64;
        for line in reader.by_ref() {
            if let Line::Accepted(row) = line? {
                shares = shares.wrapping_add(row.shares());
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(reader.stats().accepted, rows, "{:?}", reader.stats());
        std::hint::black_box(shares);
        best_parse = best_parse.min(elapsed);
    }
    println!(
        "parse: best of 5 {best_parse:?} ({:.2} M rows/s)",
        rows as f64 / best_parse.as_secs_f64() / 1e6
    );
    Ok(())
}
