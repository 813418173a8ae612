//! How a failed command tells people: one line with the cause once, no secrets, bounded in
//! length, control characters escaped, as JSON on stderr under `--format json`, and an exit code
//! that says which kind of failure it was.

use serde::Serialize;
use spine_engine::PipelineError;
use spine_model::redact;

use crate::output::Format;

/// A command line that cannot be carried out as given, found after clap parsed it: the binary
/// prints it as one `error:` line and exits 2, like clap's own usage errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A usage error (exit 2) as the `anyhow::Error` commands return.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Which kind of failure ended the command; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The command line cannot be carried out as given (exit 2).
    Usage,
    /// A signal stopped the run at a stage boundary (exit 130 for SIGINT, 143 for SIGTERM).
    Stopped,
    /// Anything else that went wrong while running (exit 1).
    Runtime,
}

/// A failed command, ready to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The process exit code.
    pub exit_code: u8,
    /// One line: the error and its causes, each said once, redacted and bounded.
    pub message: String,
}

impl Failure {
    /// Classifies an error a command returned.
    pub fn of(err: &anyhow::Error) -> Failure {
        let message = one_line(err);
        if err.chain().any(|e| e.is::<UsageError>()) {
            return Failure {
                kind: FailureKind::Usage,
                exit_code: 2,
                message,
            };
        }
        let stopped_by = err
            .chain()
            .find_map(|e| match e.downcast_ref::<PipelineError>() {
                Some(PipelineError::Aborted { reason, .. }) => Some(reason.clone()),
                _ => None,
            });
        match stopped_by {
            Some(reason) => Failure {
                kind: FailureKind::Stopped,
                // 128 + the signal's number, as shells report a process a signal ended.
                exit_code: if reason == "SIGTERM" { 143 } else { 130 },
                message,
            },
            None => Failure {
                kind: FailureKind::Runtime,
                exit_code: 1,
                message,
            },
        }
    }

    /// A usage error clap found while parsing, kept to its first line (the one that says what
    /// is wrong; the rest is the usage summary).
    pub fn usage_from_clap(err: &clap::Error) -> Failure {
        let text = err.to_string();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid command line");
        Failure {
            kind: FailureKind::Usage,
            exit_code: 2,
            message: redact::error(
                first.trim_start_matches("error: ").trim(),
                redact::MAX_ERROR_CHARS,
            ),
        }
    }

    /// Writes the failure on stderr: `error: …` for people, a JSON object for programs.
    pub fn print(&self, format: Format) {
        if format == Format::Json {
            let body = serde_json::json!({ "error": self });
            eprintln!("{body}");
        } else {
            eprintln!("error: {}", self.message);
        }
    }
}

/// The error and its causes on one line, outermost first, each said once: a cause whose text
/// the line already holds (many errors print their source in their own message) is skipped.
/// URLs are redacted, control characters escaped and the length bounded.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    redact::error(&line, redact::MAX_ERROR_CHARS)
}

/// Whether the raw command line asks for JSON output, for failures found before (or while)
/// clap parses it.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open `{path}`: {source}")]
    struct Open {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Open {
            path: "a.csv".into(),
            source: io,
        })
        .context("cannot ingest");
        assert_eq!(
            one_line(&err),
            "cannot ingest: cannot open `a.csv`: no such file"
        );
    }

    #[test]
    fn secrets_newlines_escapes_and_length_are_handled() {
        let err = anyhow::anyhow!(
            "fetch http://u:pw@h/x?token=abc failed\nline two \u{1b}[31mred{}",
            "x".repeat(10_000)
        );
        let line = one_line(&err);
        assert!(!line.contains("pw@") && !line.contains("abc"), "{line}");
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(
            line.chars().count() < redact::MAX_ERROR_CHARS + 40,
            "{line}"
        );
        assert!(line.ends_with("more characters)"), "{line}");
    }

    #[test]
    fn kinds_have_their_exit_codes() {
        assert_eq!(Failure::of(&usage("bad")).exit_code, 2);
        let stopped = anyhow::Error::new(PipelineError::Aborted {
            reason: "SIGTERM".into(),
            before: "NORMALIZED".into(),
        });
        assert_eq!(Failure::of(&stopped).exit_code, 143);
        assert_eq!(Failure::of(&stopped).kind, FailureKind::Stopped);
        assert_eq!(Failure::of(&anyhow::anyhow!("x")).exit_code, 1);
    }

    #[test]
    fn json_is_recognised_in_both_spellings() {
        let v = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(wants_json(&v(&["spine", "status", "--format", "json"])));
        assert!(wants_json(&v(&["spine", "--format=json", "status"])));
        assert!(!wants_json(&v(&["spine", "status", "--format", "csv"])));
    }
}
