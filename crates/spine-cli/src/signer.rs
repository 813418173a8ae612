//! Who signs a record a person is accountable for (`certified_by`, `resolved_by`).
//!
//! A regulator asks "who decided this?": the answer must name someone, never a placeholder. The
//! signer is the `--by` value (or the command's explicit environment override, which clap folds
//! into it), else the operating-system user (`$USER`, then `$LOGNAME`); with none of them the
//! command refuses with a [`UsageError`] (exit 2) before it opens the database, so it writes
//! nothing.

use std::fmt;

pub use crate::errors::UsageError;

/// What is being signed, to say so in the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// `spine readiness`: the evaluation and the certification it may issue.
    Certification,
    /// `spine anomalies resolve`: the resolution.
    Resolution,
}

impl Signing {
    /// The environment variable that overrides `--by` for this command.
    fn env_override(self) -> &'static str {
        match self {
            Signing::Certification => "SPINE_CERTIFIED_BY",
            Signing::Resolution => "SPINE_USER",
        }
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signing::Certification => "certification",
            Signing::Resolution => "resolution",
        })
    }
}

/// The OS user variables, in the order they are consulted.
pub const OS_USER_VARS: [&str; 2] = ["USER", "LOGNAME"];

/// The signer from `--by` (with its environment override already folded in by clap), else the
/// OS user from the process environment.
pub fn resolve(by: Option<String>, what: Signing) -> Result<String, UsageError> {
    resolve_with(by, what, |name| std::env::var(name).ok())
}

/// [`resolve`] over any environment lookup (tests pass their own). Blank values count as unset:
/// a signature of spaces names no one.
pub fn resolve_with(
    by: Option<String>,
    what: Signing,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, UsageError> {
    let named = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(by) = named(by) {
        return Ok(by);
    }
    for var in OS_USER_VARS {
        if let Some(user) = named(env(var)) {
            return Ok(user);
        }
    }
    Err(UsageError(format!(
        "no one to sign this {what}: pass --by NAME (there is no --by, {}, $USER or \
         $LOGNAME); nothing was recorded",
        what.env_override()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn by_wins_then_user_then_logname() {
        let both = [("USER", "alice"), ("LOGNAME", "bob")];
        assert_eq!(
            resolve_with(Some("carol".into()), Signing::Certification, env(&both)),
            Ok("carol".into())
        );
        assert_eq!(
            resolve_with(None, Signing::Certification, env(&both)),
            Ok("alice".into())
        );
        assert_eq!(
            resolve_with(None, Signing::Resolution, env(&[("LOGNAME", "bob")])),
            Ok("bob".into())
        );
    }

    #[test]
    fn no_signer_is_a_usage_error_that_says_to_pass_by() {
        let blank = [("USER", "  "), ("LOGNAME", "")];
        let err = resolve_with(Some(" ".into()), Signing::Certification, env(&blank)).unwrap_err();
        assert!(err.0.contains("pass --by NAME"), "{err}");
        assert!(err.0.contains("SPINE_CERTIFIED_BY"), "{err}");
        let err = resolve_with(None, Signing::Resolution, env(&[])).unwrap_err();
        assert!(err.0.contains("sign this resolution"), "{err}");
        assert!(err.0.contains("SPINE_USER"), "{err}");
    }
}
