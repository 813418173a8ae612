//! Named locks shared by every process that writes one database: one writer per partition (an
//! ingest, a stage run, a recompute) and one migrator at a time.
//!
//! A lock must outlive a transaction (a capture spans one transaction per stage) and must die
//! with its holder (a killed process cannot leave a partition locked). So each backend uses the
//! mechanism that has both properties:
//! - **PostgreSQL**: a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) held by a
//!   transaction opened for the purpose and kept open while the lock is held. Every machine
//!   sharing the database shares the lock; a dead client's connection drops, and the server
//!   releases it.
//! - **SQLite** (a file on one machine): an exclusive OS file lock (`flock`) on
//!   `<database>.locks/<key>.lock`, which the OS releases when the process dies.
//! - **SQLite in memory**: an in-process lock (nothing else can open that database).
//!
//! Waiting is bounded: [`Store::lock`] polls until its deadline, then fails naming the lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::{Store, StoreError, StoreResult};

/// How often a contended lock is tried again.
const POLL: Duration = Duration::from_millis(50);

/// A held lock; released by [`Lock::release`] or when dropped (and by the database or the OS if
/// the process dies while holding it).
#[derive(Debug)]
pub struct Lock {
    name: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    Postgres(DatabaseTransaction),
    File(std::fs::File),
    Memory(tokio::sync::OwnedMutexGuard<()>),
}

impl Lock {
    /// What the lock protects, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Releases the lock now.
    pub async fn release(self) -> StoreResult<()> {
        match self.held {
            Held::Postgres(txn) => txn.rollback().await?,
            Held::File(file) => {
                let _ = file.unlock();
            }
            Held::Memory(guard) => drop(guard),
        }
        Ok(())
    }
}

/// The lock key of a name: the first 8 bytes of its SHA-256 (PostgreSQL advisory keys are
/// `bigint`), and the file name SQLite uses.
fn key(name: &str) -> (i64, String) {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (i64::from_be_bytes(bytes), hex::encode(&digest[..12]))
}

fn memory_locks() -> &'static Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    LOCKS.get_or_init(Default::default)
}

impl Store {
    /// Takes the lock `name`, waiting at most `wait` for another holder to release it.
    pub async fn lock(&self, name: &str, wait: Duration) -> StoreResult<Lock> {
        let deadline = Instant::now() + wait;
        let (int_key, file_key) = key(name);
        let timed_out = || {
            StoreError::Invalid(format!(
                "waited {}s for the lock on {name}: another process is still writing it",
                wait.as_secs()
            ))
        };
        match (self.backend(), self.sqlite_path()) {
            (DatabaseBackend::Postgres, _) => loop {
                let txn = self.conn().begin().await?;
                let got = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT pg_try_advisory_xact_lock($1) AS locked",
                        [int_key.into()],
                    ))
                    .await?
                    .and_then(|row| row.try_get::<bool>("", "locked").ok())
                    .unwrap_or(false);
                if got {
                    return Ok(Lock {
                        name: name.to_string(),
                        held: Held::Postgres(txn),
                    });
                }
                txn.rollback().await?;
                if Instant::now() >= deadline {
                    return Err(timed_out());
                }
                tokio::time::sleep(POLL).await;
            },
            (_, Some(db_path)) => {
                let dir = PathBuf::from(format!("{}.locks", db_path.display()));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot create lock directory {}: {e}",
                        dir.display()
                    ))
                })?;
                let path = dir.join(format!("{file_key}.lock"));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| {
                        StoreError::Invalid(format!(
                            "cannot open lock file {}: {e}",
                            path.display()
                        ))
                    })?;
                loop {
                    match file.try_lock() {
                        Ok(()) => {
                            return Ok(Lock {
                                name: name.to_string(),
                                held: Held::File(file),
                            });
                        }
                        Err(std::fs::TryLockError::WouldBlock) => {}
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(StoreError::Invalid(format!(
                                "cannot lock {}: {e}",
                                path.display()
                            )));
                        }
                    }
                    if Instant::now() >= deadline {
                        return Err(timed_out());
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            _ => {
                let mutex = memory_locks()
                    .lock()
                    .expect("the lock table is never poisoned")
                    .entry(file_key)
                    .or_default()
                    .clone();
                match tokio::time::timeout(wait, mutex.lock_owned()).await {
                    Ok(guard) => Ok(Lock {
                        name: name.to_string(),
                        held: Held::Memory(guard),
                    }),
                    Err(_) => Err(timed_out()),
                }
            }
        }
    }
}
