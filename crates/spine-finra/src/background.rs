//! Parsing on its own thread while the stage's transaction writes, so the two overlap.
//!
//! A stage that loads a file does two kinds of work: parsing and validating lines (CPU in this
//! process) and inserting rows (CPU in SQLite, on sqlx's connection thread, or a round trip to
//! PostgreSQL). Done in turn, each waits for the other; done here, the parser fills the next
//! batch while the database stores the previous one. The channel is bounded, so the parser is
//! never more than [`DEPTH`] batches ahead and memory stays flat whatever the file's size.
//!
//! Atomicity is untouched: every write still goes through the one transaction of the stage, on
//! the caller's task; the parsing thread never touches the database.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches the parser may have ready before it waits for the database.
const DEPTH: usize = 2;

/// The sending half given to the parsing thread.
pub(super) struct Batches<T>(mpsc::Sender<T>);

impl<T> Batches<T> {
    /// Hands a batch to the stage; waits while [`DEPTH`] batches are already waiting. Returns
    /// `false` when the stage has stopped reading (it failed and rolled back): the parser should
    /// stop, and what it returns is ignored.
    pub(super) fn send(&self, batch: T) -> bool {
        self.0.blocking_send(batch).is_ok()
    }
}

/// A parser running on a blocking thread: its batches, then its result.
pub(super) struct Background<T, R> {
    batches: mpsc::Receiver<T>,
    parser: JoinHandle<R>,
}

/// Starts `parse` on tokio's blocking pool. It sends its batches through the [`Batches`] it is
/// given and returns its summary (counts, digests, accumulated calcs) when it is done.
pub(super) fn spawn<T, R, F>(parse: F) -> Background<T, R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(&Batches<T>) -> R + Send + 'static,
{
    let (tx, rx) = mpsc::channel(DEPTH);
    let parser = tokio::task::spawn_blocking(move || parse(&Batches(tx)));
    Background {
        batches: rx,
        parser,
    }
}

impl<T, R> Background<T, R> {
    /// The next batch, or `None` once the parser has finished (successfully or not).
    pub(super) async fn next(&mut self) -> Option<T> {
        self.batches.recv().await
    }

    /// A batch already waiting, without waiting for one: lets a stage serve two background
    /// threads from one loop.
    pub(super) fn try_next(&mut self) -> Option<T> {
        self.batches.try_recv().ok()
    }

    /// Waits for the parser's result. A panic in the parser is resumed here, on the stage's
    /// task, as if the parsing had run inline.
    pub(super) async fn finish(self) -> R {
        drop(self.batches);
        match self.parser.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels a blocking task, and then nothing waits here.
            Err(e) => panic!("the parsing thread was cancelled: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_arrive_in_order_then_the_result() {
        let mut bg = spawn(|out: &Batches<u32>| {
            let mut sent = 0;
            for i in 0..100 {
                if !out.send(i) {
                    break;
                }
                sent += 1;
            }
            sent
        });
        let mut got = Vec::new();
        while let Some(b) = bg.next().await {
            got.push(b);
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(bg.finish().await, 100);
    }

    #[tokio::test]
    async fn the_parser_stops_when_the_stage_stops_reading() {
        let mut bg = spawn(|out: &Batches<u32>| {
            let mut sent = 0;
            for i in 0..1_000_000 {
                if !out.send(i) {
                    break;
                }
                sent += 1;
            }
            sent
        });
        assert_eq!(bg.next().await, Some(0));
        // The stage fails here: it stops reading, and the parser must not run to the end.
        let sent = bg.finish().await;
        assert!(sent < 1_000_000, "the parser sent {sent} batches");
    }

    #[tokio::test]
    #[should_panic(expected = "parser bug")]
    async fn a_panic_in_the_parser_reaches_the_stage() {
        let bg = spawn(|_: &Batches<u32>| -> u32 { panic!("parser bug") });
        bg.finish().await;
    }
}
