//! The bytes of a capture exactly as received, kept once per content hash.
//!
//! A stage that loads a file keeps the file itself, not a row per line: it is split at line ends
//! into chunks of about [`CHUNK_BYTES`], each compressed on its own with zstd and stored in
//! `core_capture_chunks` under the capture's content hash, inside the capture's transaction.
//! For a million-row week that is one compressed copy of the lines instead of a second
//! uncompressed table beside the typed rows (docs/PERFORMANCE.md measures the difference), and
//! nothing is lost:
//!
//! - [`line`] answers "show me line N as received" by decompressing the one chunk that holds it;
//! - [`restore`] writes the whole input back to a temporary file, checked against its SHA-256,
//!   so a standalone re-run of a later stage re-reads exactly the bytes that were captured.
//!
//! Two captures of the same bytes share their chunks: the same bytes always split into the same
//! chunks, so a chunk already stored is simply not written again.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use spine_store::ConnectionTrait;
use spine_store::capture_chunks::{self, Chunk};

use crate::{PipelineError, PipelineResult};

/// Whether the bytes of `content_hash` are kept (an empty input always is).
pub async fn kept<C: ConnectionTrait>(conn: &C, content_hash: &str) -> PipelineResult<bool> {
    Ok(content_hash == EMPTY_SHA256 || capture_chunks::count(conn, content_hash).await? > 0)
}

/// The codec named in every chunk this module writes.
pub const CODEC: &str = "zstd";

/// Uncompressed bytes per chunk, cut at the last line end before it (a longer line makes a
/// longer chunk). Large enough to compress well, small enough that [`line`] decompresses little.
pub const CHUNK_BYTES: usize = 4 << 20;

/// zstd's fastest regular level: the chunks are written on the ingest's critical path, and level
/// 1 already shrinks FINRA's pipe-delimited text several times.
const LEVEL: i32 = 1;

/// Chunks read back at a time by [`restore`].
const RESTORE_PAGE: u64 = 4;

/// What [`chunk_file`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedFile {
    /// SHA-256 (hex) of every byte read.
    pub content_hash: String,
    /// Bytes read.
    pub bytes: u64,
    /// Chunks handed over.
    pub chunks: i64,
}

/// Reads `path`, splits it at line ends into chunks of about [`CHUNK_BYTES`], compresses each
/// and hands it to `out` (which returns `false` to stop early), all tagged with `content_hash`.
/// Returns the SHA-256 of what was read, which the caller compares with `content_hash`: a file
/// rewritten since it was hashed must not be stored under the old hash. Runs on a blocking
/// thread.
pub fn chunk_file(
    path: &Path,
    content_hash: &str,
    mut out: impl FnMut(Chunk) -> bool,
) -> PipelineResult<ChunkedFile> {
    let io = |source| PipelineError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut input = Hashed {
        file: std::fs::File::open(path).map_err(io)?,
        hasher: Sha256::new(),
        total: 0,
        eof: false,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + (64 << 10));
    let mut chunk_no = 0i64;
    let mut first_line = 1i64;
    loop {
        // Fill up to a chunk (or the end of the file).
        while !input.eof && buf.len() < CHUNK_BYTES {
            let up_to = CHUNK_BYTES.max(buf.len() + (64 << 10));
            input.read_once(&mut buf, up_to).map_err(io)?;
        }
        if buf.is_empty() {
            break;
        }
        // Cut after the last line end, unless this is the end of the file; a line longer than
        // a chunk keeps growing the buffer until its end arrives.
        let cut = if input.eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => {
                    let up_to = buf.len() + CHUNK_BYTES;
                    input.read_once(&mut buf, up_to).map_err(io)?;
                    continue;
                }
            }
        };
        let piece = &buf[..cut];
        let newlines = piece.iter().filter(|&&b| b == b'\n').count() as i64;
        let unterminated = i64::from(piece.last() != Some(&b'\n'));
        let bytes = zstd::bulk::compress(piece, LEVEL).map_err(io)?;
        let chunk = Chunk {
            content_hash: content_hash.to_string(),
            chunk_no,
            first_line,
            line_count: newlines + unterminated,
            raw_size: piece.len() as i64,
            codec: CODEC.to_string(),
            bytes,
        };
        chunk_no += 1;
        first_line += newlines;
        buf.drain(..cut);
        if !out(chunk) {
            break;
        }
    }
    Ok(ChunkedFile {
        content_hash: hex::encode(input.hasher.finalize()),
        bytes: input.total,
        chunks: chunk_no,
    })
}

/// The input of [`chunk_file`], hashed as it is read.
struct Hashed {
    file: std::fs::File,
    hasher: Sha256,
    total: u64,
    eof: bool,
}

impl Hashed {
    /// One read, appended to `buf` (grown to at most `up_to` bytes); notes the end of the file.
    fn read_once(&mut self, buf: &mut Vec<u8>, up_to: usize) -> std::io::Result<()> {
        let start = buf.len();
        buf.resize(up_to.max(start + 1), 0);
        let n = self.file.read(&mut buf[start..])?;
        buf.truncate(start + n);
        if n == 0 {
            self.eof = true;
        } else {
            self.hasher.update(&buf[start..]);
            self.total += n as u64;
        }
        Ok(())
    }
}

/// Decompresses one chunk, checking its codec and size.
fn decompress(chunk: &Chunk) -> PipelineResult<Vec<u8>> {
    let corrupt = |why: String| {
        PipelineError::Input(format!(
            "chunk {} of the bytes {} cannot be read back: {why}",
            chunk.chunk_no, chunk.content_hash
        ))
    };
    if chunk.codec != CODEC {
        return Err(corrupt(format!("unknown codec `{}`", chunk.codec)));
    }
    let size = usize::try_from(chunk.raw_size).map_err(|_| corrupt("negative size".into()))?;
    let bytes = zstd::bulk::decompress(&chunk.bytes, size).map_err(|e| corrupt(e.to_string()))?;
    if bytes.len() != size {
        return Err(corrupt(format!(
            "{} bytes where {size} were stored",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Physical line `line` (1-based, the header is line 1) of the input whose SHA-256 is
/// `content_hash`, exactly as received without its line end (`\n` or `\r\n`); `None` when the
/// input has no such line or its bytes are not kept (captures made before bytes were kept).
pub async fn line<C: ConnectionTrait>(
    conn: &C,
    content_hash: &str,
    line: i64,
) -> PipelineResult<Option<Vec<u8>>> {
    Ok(lines(conn, content_hash, line, 1)
        .await?
        .into_iter()
        .next()
        .map(|(_, bytes)| bytes))
}

/// Up to `count` physical lines from `from` (1-based) of the input whose SHA-256 is
/// `content_hash`, as [`line`] gives each, with their numbers; fewer when the input ends (or is
/// not kept). Each chunk involved is decompressed once.
pub async fn lines<C: ConnectionTrait>(
    conn: &C,
    content_hash: &str,
    from: i64,
    count: i64,
) -> PipelineResult<Vec<(i64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut next = from.max(1);
    let end = from.saturating_add(count.max(0));
    while next < end {
        let Some(chunk) = capture_chunks::holding_line(conn, content_hash, next).await? else {
            break;
        };
        let bytes = decompress(&chunk)?;
        let last = chunk.first_line + chunk.line_count;
        let skip = (next - chunk.first_line) as usize;
        let take = (end.min(last) - next) as usize;
        for found in bytes.split(|&b| b == b'\n').skip(skip).take(take) {
            out.push((next, found.strip_suffix(b"\r").unwrap_or(found).to_vec()));
            next += 1;
        }
        if next < end.min(last) {
            // The chunk ended early: it does not hold the lines it says it holds.
            return Err(PipelineError::Input(format!(
                "chunk {} of the bytes {content_hash} holds fewer lines than recorded",
                chunk.chunk_no
            )));
        }
    }
    Ok(out)
}

/// SHA-256 (hex) of no bytes: an empty input has no chunks and is still "kept".
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Writes the input whose SHA-256 is `content_hash` back to a temporary file (removed when the
/// returned handle is dropped), reading a few chunks at a time, and checks the result against
/// the hash. `None` when its bytes are not kept.
pub async fn restore<C: ConnectionTrait>(
    conn: &C,
    content_hash: &str,
) -> PipelineResult<Option<tempfile::NamedTempFile>> {
    let io = |source| PipelineError::Io {
        path: format!("a temporary file for the bytes {content_hash}"),
        source,
    };
    let mut file = tempfile::NamedTempFile::new().map_err(io)?;
    let mut hasher = Sha256::new();
    let mut next = 0i64;
    loop {
        let page = capture_chunks::page(conn, content_hash, next - 1, RESTORE_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for chunk in &page {
            if chunk.chunk_no != next {
                return Err(PipelineError::Input(format!(
                    "the bytes {content_hash} are incomplete: chunk {next} is missing"
                )));
            }
            let bytes = decompress(chunk)?;
            hasher.update(&bytes);
            file.write_all(&bytes).map_err(io)?;
            next += 1;
        }
    }
    if next == 0 && content_hash != EMPTY_SHA256 {
        return Ok(None);
    }
    let restored = hex::encode(hasher.finalize());
    if restored != content_hash {
        return Err(PipelineError::Input(format!(
            "the stored bytes {content_hash} read back as {restored}: they were altered"
        )));
    }
    file.flush().map_err(io)?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks_of(bytes: &[u8]) -> (Vec<Chunk>, ChunkedFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.txt");
        std::fs::write(&path, bytes).unwrap();
        let mut chunks = Vec::new();
        let read = chunk_file(&path, "h", |c| {
            chunks.push(c);
            true
        })
        .unwrap();
        (chunks, read)
    }

    #[test]
    fn chunks_cut_at_line_ends_and_number_the_lines() {
        // 3 chunks' worth of 100-byte lines, the last one without a line end.
        let line = |i: usize| format!("{i:09}|{}", "x".repeat(89));
        let lines: Vec<String> = (1..=130_000).map(line).collect();
        let mut text = lines.join("\n").into_bytes();
        text.extend_from_slice(b"\r\nlast");
        let (chunks, read) = chunks_of(&text);
        assert_eq!(read.bytes, text.len() as u64);
        assert_eq!(read.content_hash, spine_model::capture::content_hash(&text));
        assert_eq!(read.chunks, chunks.len() as i64);
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        let mut whole = Vec::new();
        let mut expected_first = 1;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.chunk_no, i as i64);
            assert_eq!(c.first_line, expected_first);
            expected_first += c.line_count;
            let bytes = decompress(c).unwrap();
            if i + 1 < chunks.len() {
                assert_eq!(bytes.last(), Some(&b'\n'), "chunk {i} ends mid-line");
            }
            assert!(
                c.bytes.len() < bytes.len() / 3,
                "chunk {i} barely compressed"
            );
            whole.extend(bytes);
        }
        assert_eq!(whole, text);
        assert_eq!(expected_first - 1, 130_001);
    }

    #[test]
    fn an_empty_file_has_no_chunks_and_a_line_longer_than_a_chunk_stays_whole() {
        let (chunks, read) = chunks_of(b"");
        assert!(chunks.is_empty());
        assert_eq!(read.content_hash, EMPTY_SHA256);

        let mut text = vec![b'a'; CHUNK_BYTES + 10];
        text.push(b'\n');
        text.extend(vec![b'b'; CHUNK_BYTES]);
        text.push(b'\n');
        let (chunks, _) = chunks_of(&text);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].line_count, 1);
        assert_eq!(chunks[0].raw_size as usize, CHUNK_BYTES + 11);
        assert_eq!((chunks[1].first_line, chunks[1].line_count), (2, 1));
        assert_eq!(chunks[1].raw_size as usize, CHUNK_BYTES + 1);
    }

    #[test]
    fn a_chunk_with_another_codec_or_size_is_refused() {
        let (mut chunks, _) = chunks_of(b"a|b\nc|d\n");
        let mut c = chunks.remove(0);
        c.raw_size += 1;
        assert!(decompress(&c).is_err());
        c.raw_size -= 1;
        c.codec = "gzip".into();
        let err = decompress(&c).unwrap_err().to_string();
        assert!(err.contains("unknown codec `gzip`"), "{err}");
    }

    #[tokio::test]
    async fn the_bytes_come_back_whole_once_per_hash_and_tampering_is_caught() {
        spine_store::test_support::for_each_backend(|db| async move {
            let conn = db.store.conn();
            let text = b"h1|h2\nA|1\r\nB|2\n\nC|3".to_vec();
            let hash = spine_model::capture::content_hash(&text);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.txt");
            std::fs::write(&path, &text).unwrap();
            let mut chunks = Vec::new();
            chunk_file(&path, &hash, |c| {
                chunks.push(c);
                true
            })
            .unwrap();
            for c in &chunks {
                assert!(capture_chunks::insert(conn, c.clone()).await.unwrap());
                // The same bytes again are not stored twice.
                assert!(!capture_chunks::insert(conn, c.clone()).await.unwrap());
            }
            let file = restore(conn, &hash).await.unwrap().expect("kept");
            assert_eq!(std::fs::read(file.path()).unwrap(), text);
            assert_eq!(line(conn, &hash, 1).await.unwrap().unwrap(), b"h1|h2");
            assert_eq!(line(conn, &hash, 3).await.unwrap().unwrap(), b"B|2");
            assert_eq!(line(conn, &hash, 4).await.unwrap().unwrap(), b"");
            assert_eq!(line(conn, &hash, 5).await.unwrap().unwrap(), b"C|3");
            assert_eq!(line(conn, &hash, 6).await.unwrap(), None);
            let some = lines(conn, &hash, 2, 10).await.unwrap();
            let numbers: Vec<i64> = some.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, [2, 3, 4, 5]);
            assert_eq!(some[0].1, b"A|1");
            assert!(restore(conn, &"0".repeat(64)).await.unwrap().is_none());

            // Bytes that decompress but are not the captured ones are refused by name.
            let other = b"h1|h2\nA|9\r\nB|2\n\nC|3".to_vec();
            let tampered = spine_model::capture::content_hash(b"tampered");
            let mut c = chunks[0].clone();
            c.content_hash = tampered.clone();
            c.bytes = zstd::bulk::compress(&other, 1).unwrap();
            capture_chunks::insert(conn, c).await.unwrap();
            let err = restore(conn, &tampered).await.unwrap_err().to_string();
            assert!(err.contains("they were altered"), "{err}");
        })
        .await;
    }
}
