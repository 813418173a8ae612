//! Anomaly causes: the stable key of each detection.
//!
//! An anomaly's `cause` makes detection idempotent ("one open anomaly per partition and cause")
//! and lets later code resolve exactly what an earlier capture opened, without matching on
//! message text. The type is defined once, here; the causes every domain shares (a source that
//! could not be fetched, a partition missed or late against its schedule, an upstream calendar
//! revised under a calc) are its associated constants, and a domain declares its own causes as
//! constants of this same type in its crate, so adding a domain touches no engine file.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The stable key of one kind of detection, e.g. `missed` or `venue_coverage`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnomalyCause(Cow<'static, str>);

impl AnomalyCause {
    /// The partition's source could not be fetched (missing file, HTTP 404/5xx, timeout).
    pub const SOURCE_UNAVAILABLE: AnomalyCause = AnomalyCause::named("source_unavailable");
    /// An expected partition did not arrive by its due time.
    pub const MISSED: AnomalyCause = AnomalyCause::named("missed");
    /// A partition arrived after its due time.
    pub const LATE: AnomalyCause = AnomalyCause::named("late");
    /// The calendar a calc used was revised: the calc is stale until recomputed.
    pub const CALENDAR_REVISED: AnomalyCause = AnomalyCause::named("calendar_revised");
    /// No exchange calendar covers a week a calc needs trading days for.
    pub const CALENDAR_MISSING: AnomalyCause = AnomalyCause::named("calendar_missing");

    /// A cause with a fixed name: how domains declare their own causes as constants.
    pub const fn named(name: &'static str) -> AnomalyCause {
        AnomalyCause(Cow::Borrowed(name))
    }

    /// A cause read back from storage.
    pub fn from_stored(name: impl Into<String>) -> AnomalyCause {
        AnomalyCause(Cow::Owned(name.into()))
    }

    /// The stored spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AnomalyCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for AnomalyCause {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AnomalyCause {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for AnomalyCause {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AnomalyCause {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(AnomalyCause::from_stored(String::deserialize(
            deserializer,
        )?))
    }
}
