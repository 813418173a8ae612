//! What both benchmark scenarios share (`bench`'s pipeline and `scale`): a target with its
//! verdict, the median of a series, and a progress line. Kept apart so that `bench`, which
//! dispatches to `scale`, and `scale` do not import each other.

use serde::Serialize;

/// One target and its verdict.
#[derive(Debug, Serialize)]
pub struct Target {
    /// What is measured.
    pub name: &'static str,
    /// The measured value.
    pub value: f64,
    /// The target, as text (`<= 3.0`).
    pub target: String,
    /// Whether the value meets it.
    pub pass: bool,
}

/// The median of a non-empty list (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A progress line on stderr (stdout carries only the results).
pub(crate) fn note(line: String) {
    eprintln!("xtask bench: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }
}
