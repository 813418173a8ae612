//! The write transaction of a bulk stage: rows through `COPY … FROM STDIN` on PostgreSQL, inside
//! the stage's one transaction.
//!
//! SeaORM 2.0 keeps the connection of its `DatabaseTransaction` private, so `COPY` (which needs
//! the connection itself: it is a protocol exchange, not a statement with parameters) could not
//! run inside one. [`StageTxn`] is the stage's transaction instead: on PostgreSQL it owns a sqlx
//! transaction on a connection of the store's pool and runs every statement of the stage on it
//! (it implements [`ConnectionTrait`], binding values exactly as SeaORM does, through
//! `sea-query-sqlx`), so the repository functions are unchanged and the stage stays all or
//! nothing; the bulk inserts see it and send their rows as one text `COPY` per batch
//! ([`crate::bulk`]). Dropped without [`StageTxn::commit`], sqlx rolls it back. On SQLite it is
//! SeaORM's `BEGIN IMMEDIATE` transaction, as [`crate::Store::begin`] gives.

use std::any::Any;
use std::sync::Arc;

use sea_orm::sea_query::Values;
use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

/// A stage's write transaction; see the module documentation.
pub enum StageTxn {
    /// SeaORM's transaction (SQLite).
    Sea(DatabaseTransaction),
    /// A PostgreSQL transaction whose connection the stage holds, for `COPY`.
    Pg(PgTxn),
}

impl std::fmt::Debug for StageTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StageTxn::Sea(_) => "StageTxn::Sea",
            StageTxn::Pg(_) => "StageTxn::Pg",
        })
    }
}

/// A PostgreSQL transaction on a connection of the store's pool, held for the whole stage.
pub struct PgTxn {
    tx: Mutex<sqlx::Transaction<'static, Postgres>>,
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt
        .values
        .as_ref()
        .map_or(Values(Vec::new()), |values| values.clone());
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

impl PgTxn {
    /// Begins a transaction on a connection of `pool`.
    pub(crate) async fn begin(pool: &sqlx::PgPool) -> Result<PgTxn, DbErr> {
        let tx = pool.begin().await.map_err(exec_err)?;
        Ok(PgTxn { tx: Mutex::new(tx) })
    }

    /// Runs `COPY … FROM STDIN` (`statement`) with `data` in the transaction; returns the rows
    /// copied.
    pub(crate) async fn copy_in(&self, statement: &str, data: &[u8]) -> Result<u64, DbErr> {
        let mut tx = self.tx.lock().await;
        let mut copy = tx.copy_in_raw(statement).await.map_err(exec_err)?;
        if let Err(e) = copy.send(data).await {
            // Ends the COPY so the error, not a protocol mix-up, is what the stage reports.
            let _ = copy.abort(e.to_string()).await;
            return Err(exec_err(e));
        }
        copy.finish().await.map_err(exec_err)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for PgTxn {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut tx = self.tx.lock().await;
        query(&stmt)
            .execute(&mut **tx)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        use sqlx::Executor;
        let mut tx = self.tx.lock().await;
        (&mut **tx)
            .execute(sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut tx = self.tx.lock().await;
        match query(&stmt).fetch_one(&mut **tx).await {
            Ok(row) => Ok(Some(row.into())),
            Err(sqlx::Error::RowNotFound) => Ok(None),
            Err(e) => Err(query_err(e)),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut tx = self.tx.lock().await;
        query(&stmt)
            .fetch_all(&mut **tx)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

impl StageTxn {
    /// Commits the stage.
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            StageTxn::Sea(t) => t.commit().await,
            StageTxn::Pg(t) => t.tx.into_inner().commit().await.map_err(exec_err),
        }
    }

    /// The PostgreSQL transaction, when `conn` is a stage's transaction on PostgreSQL: what the
    /// bulk inserts look for to use `COPY`.
    pub(crate) fn pg_of<C: ConnectionTrait + 'static>(conn: &C) -> Option<&PgTxn> {
        match (conn as &dyn Any).downcast_ref::<StageTxn>()? {
            StageTxn::Pg(t) => Some(t),
            StageTxn::Sea(_) => None,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for StageTxn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            StageTxn::Sea(t) => t.get_database_backend(),
            StageTxn::Pg(t) => t.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            StageTxn::Sea(t) => t.execute_raw(stmt).await,
            StageTxn::Pg(t) => t.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            StageTxn::Sea(t) => t.execute_unprepared(sql).await,
            StageTxn::Pg(t) => t.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            StageTxn::Sea(t) => t.query_one_raw(stmt).await,
            StageTxn::Pg(t) => t.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            StageTxn::Sea(t) => t.query_all_raw(stmt).await,
            StageTxn::Pg(t) => t.query_all_raw(stmt).await,
        }
    }
}
