//! The received bytes of captures, in compressed chunks stored once per content hash
//! (`core_capture_chunks`).
//!
//! The store only moves rows: splitting, compressing and decompressing are the engine's
//! (`spine_engine::received`). Chunks are written inside the capture's RAW transaction, so a
//! capture is never committed without its bytes; a chunk that already exists (the same bytes
//! captured before, for another partition or by a process that won a race) is left as it is,
//! which is correct because the same bytes always split into the same chunks.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spine_model::entities::core_capture_chunks::{self, Column, Entity};

use crate::StoreResult;

/// One chunk of a capture's input, compressed.
pub use core_capture_chunks::Model as Chunk;

/// Stores one chunk unless the chunk of that content and position exists already. Returns
/// whether it was written.
pub async fn insert<C: ConnectionTrait>(conn: &C, chunk: Chunk) -> StoreResult<bool> {
    let model = core_capture_chunks::ActiveModel {
        content_hash: Set(chunk.content_hash),
        chunk_no: Set(chunk.chunk_no),
        first_line: Set(chunk.first_line),
        line_count: Set(chunk.line_count),
        raw_size: Set(chunk.raw_size),
        codec: Set(chunk.codec),
        bytes: Set(chunk.bytes),
    };
    let inserted = Entity::insert(model)
        .on_conflict_do_nothing_on([Column::ContentHash, Column::ChunkNo])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// How many chunks are stored for `content_hash` (0: its bytes are not kept).
pub async fn count<C: ConnectionTrait>(conn: &C, content_hash: &str) -> StoreResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::ContentHash.eq(content_hash))
        .count(conn)
        .await?)
}

/// The chunks of `content_hash` after position `after` (`-1` for the first), in order, at most
/// `limit`: reading a large input a few chunks at a time keeps memory bounded.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    content_hash: &str,
    after: i64,
    limit: u64,
) -> StoreResult<Vec<Chunk>> {
    Ok(Entity::find()
        .filter(Column::ContentHash.eq(content_hash))
        .filter(Column::ChunkNo.gt(after))
        .order_by_asc(Column::ChunkNo)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The chunk of `content_hash` that holds physical line `line` (1-based), if any.
pub async fn holding_line<C: ConnectionTrait>(
    conn: &C,
    content_hash: &str,
    line: i64,
) -> StoreResult<Option<Chunk>> {
    let chunk = Entity::find()
        .filter(Column::ContentHash.eq(content_hash))
        .filter(Column::FirstLine.lte(line))
        .order_by_desc(Column::FirstLine)
        .one(conn)
        .await?;
    Ok(chunk.filter(|c| line < c.first_line + c.line_count))
}
