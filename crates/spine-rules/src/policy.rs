//! Which anomaly severities block which use: policy as data, not `if`s scattered around.
//!
//! Defaults (DESIGN.md): CRITICAL blocks every use; ERROR also blocks compliance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use spine_model::{ReadyFor, Severity};

/// For each use, the lowest severity that blocks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingPolicy {
    /// Use → lowest blocking severity. A use missing from the map is blocked by CRITICAL only.
    pub min_blocking: BTreeMap<ReadyFor, Severity>,
}

impl Default for BlockingPolicy {
    fn default() -> Self {
        BlockingPolicy {
            min_blocking: BTreeMap::from([
                (ReadyFor::Trading, Severity::Critical),
                (ReadyFor::Compliance, Severity::Error),
                (ReadyFor::Research, Severity::Critical),
            ]),
        }
    }
}

impl BlockingPolicy {
    /// The lowest severity that blocks `use_`.
    pub fn threshold(&self, use_: ReadyFor) -> Severity {
        self.min_blocking
            .get(&use_)
            .copied()
            .unwrap_or(Severity::Critical)
    }

    /// Whether an unresolved anomaly of `severity` blocks `use_`.
    pub fn blocks(&self, use_: ReadyFor, severity: Severity) -> bool {
        severity >= self.threshold(use_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let p = BlockingPolicy::default();
        for use_ in ReadyFor::ALL {
            assert!(p.blocks(*use_, Severity::Critical));
            assert!(!p.blocks(*use_, Severity::Warn));
            assert!(!p.blocks(*use_, Severity::Info));
        }
        assert!(p.blocks(ReadyFor::Compliance, Severity::Error));
        assert!(!p.blocks(ReadyFor::Trading, Severity::Error));
        assert!(!p.blocks(ReadyFor::Research, Severity::Error));
    }

    #[test]
    fn policy_is_data_that_round_trips() {
        let mut p = BlockingPolicy::default();
        p.min_blocking.insert(ReadyFor::Trading, Severity::Warn);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"min_blocking":{"trading":"WARN","compliance":"ERROR","research":"CRITICAL"}}"#
        );
        let back: BlockingPolicy = serde_json::from_str(&json).unwrap();
        assert!(back.blocks(ReadyFor::Trading, Severity::Warn));
        let empty = BlockingPolicy {
            min_blocking: BTreeMap::new(),
        };
        assert!(!empty.blocks(ReadyFor::Compliance, Severity::Error));
    }
}
