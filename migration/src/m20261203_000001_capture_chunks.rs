//! The bytes of every capture as received, stored once per content hash.
//!
//! `core_capture_chunks` holds a capture's input file split at line ends into chunks of about
//! 4 MiB, each compressed on its own (`codec`, zstd), keyed by `(content_hash, chunk_no)`: two
//! captures of the same bytes share the rows, and "line N as received" decompresses the one
//! chunk whose `first_line .. first_line + line_count` holds it. It replaces the per-line copy in
//! `finra_otc_raw` for new captures (a million-row week wrote every line twice: verbatim in RAW,
//! typed in NORMALIZED); `finra_otc_raw` stays for captures made before this migration.
//!
//! On PostgreSQL the `bytes` column is `STORAGE EXTERNAL`: the chunks are already compressed, so
//! TOAST should not spend time trying to compress them again.

use sea_orm_migration::{prelude::*, schema::*};

use crate::ddl::drop_table;

/// The migration itself; what it creates is described in the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CoreCaptureChunks {
    Table,
    ContentHash,
    ChunkNo,
    FirstLine,
    LineCount,
    RawSize,
    Codec,
    Bytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CoreCaptureChunks::Table)
                    .col(string_len(CoreCaptureChunks::ContentHash, 64))
                    .col(big_integer(CoreCaptureChunks::ChunkNo))
                    .col(big_integer(CoreCaptureChunks::FirstLine))
                    .col(big_integer(CoreCaptureChunks::LineCount))
                    .col(big_integer(CoreCaptureChunks::RawSize))
                    .col(string_len(CoreCaptureChunks::Codec, 16))
                    .col(blob(CoreCaptureChunks::Bytes))
                    .primary_key(
                        Index::create()
                            .col(CoreCaptureChunks::ContentHash)
                            .col(CoreCaptureChunks::ChunkNo),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE \"core_capture_chunks\" ALTER COLUMN \"bytes\" SET STORAGE EXTERNAL",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, CoreCaptureChunks::Table).await
    }
}
