//! The store's one error type: every repository function returns it, so callers can tell a
//! missing row from a broken database from bad input without matching on strings.

use spine_model::VocabError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL was refused or the server did not answer.
    #[error("cannot connect to database `{url}`: {source}")]
    Connect {
        /// The URL as given, so the user can see the typo.
        url: String,
        /// What the driver said.
        #[source]
        source: sea_orm::DbErr,
    },
    /// A query failed (constraint, lost connection, syntax).
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A stored value is not valid vocabulary (a corrupted or hand-edited row).
    #[error("invalid stored value: {0}")]
    Vocab(#[from] VocabError),
    /// The row asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. "anomaly 42".
        what: String,
    },
    /// The request breaks a rule of the store (e.g. resolving an anomaly without a note).
    #[error("{0}")]
    Invalid(String),
    /// The database was not opened: it is not one this command may use as it stands (missing,
    /// unmigrated, another application's, newer, or in memory). See [`crate::admin::open`].
    #[error(transparent)]
    Refused(#[from] crate::admin::Refusal),
}

/// The store's result type.
pub type StoreResult<T> = Result<T, StoreError>;
