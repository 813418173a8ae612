//! Entity for the `core_capture_chunks` table.
//!
//! The bytes of a capture's input exactly as received, split at line ends into chunks of about
//! 4 MiB, each compressed on its own, stored once per content hash: RAW keeps the received file
//! here instead of a row per line, and "line N as received" decompresses one chunk.
//!
//! Created by migration `m20261203_000001_capture_chunks`; primary key
//! `(content_hash, chunk_no)`. See `docs/SCHEMA.md`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One chunk of a capture's received bytes.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "core_capture_chunks")]
pub struct Model {
    /// SHA-256 (hex) of the whole input: the capture's `content_hash`.
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(64))"
    )]
    pub content_hash: String,
    /// 0-based position of the chunk in the input.
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_no: i64,
    /// 1-based physical line number of the chunk's first line.
    pub first_line: i64,
    /// Lines that start in this chunk (the last chunk's last line may lack a terminator).
    pub line_count: i64,
    /// Size of the chunk before compression, in bytes.
    pub raw_size: i64,
    /// How `bytes` is compressed (`zstd`).
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub codec: String,
    /// The compressed chunk.
    #[sea_orm(column_type = "Blob")]
    pub bytes: Vec<u8>,
}

/// `core_capture_chunks` declares no foreign keys: captures refer to it by content hash.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
