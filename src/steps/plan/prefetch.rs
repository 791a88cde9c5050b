//! Reads, hashes and decodes a plan on a second thread while the caller
//! parses it.
//!
//! On a large plan the read syscalls, SHA-256 and UTF-8 validation are a
//! third of the work; doing them beside the parser uses the second core.
//! Chunks travel through a short queue and empty buffers come back, so
//! memory stays at a few chunks and nothing is copied twice.
//!
//! Each side sleeps only when it must, and is woken only when the other has
//! work for it. The reader, being the faster, fills the queue and then waits
//! until the parser has taken half of it, not until it has taken one: waking
//! a thread is a system call on the parser's critical path, and a large plan
//! is a thousand chunks.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};

use crate::base::digest::Sha256Digest;
use crate::steps::plan::encoding::{DecodeError, Utf8Chunks};

/// Chunks read ahead of the parser at most. The parser is the slower of
/// the two, so more would only hold memory.
const AHEAD: usize = 8;

/// A reader waiting for room resumes once the queue is down to this.
const RESUME_AT: usize = AHEAD / 2;

/// What the two threads share, under one lock.
#[derive(Debug, Default)]
struct Queue {
    /// Chunks read and not yet parsed, in order; an error ends them.
    chunks: VecDeque<Result<Vec<u8>, DecodeError>>,
    /// Buffers the parser is done with, for the reader to fill again.
    spare: Vec<Vec<u8>>,
    /// The reader has passed on everything it will (the end, an error, or
    /// its thread failed).
    ended: bool,
    /// The parser is gone: the reader stops.
    closed: bool,
    /// The parser waits for a chunk.
    parser_waits: bool,
    /// The reader waits for room.
    reader_waits: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a chunk (or the end) arrives for a waiting parser.
    arrived: Condvar,
    /// Signalled when a waiting reader has room again.
    room: Condvar,
}

impl Shared {
    /// The queue. No thread panics while it holds the lock, so a poisoned
    /// lock still guards a consistent queue.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The parsing side: valid UTF-8 chunks, in order.
#[derive(Debug)]
pub(super) struct Prefetched {
    shared: Arc<Shared>,
    done: bool,
}

/// Ends the queue when the reading thread stops, however it stops (a panic
/// included), so the parser never waits for a chunk that will not come.
struct EndOnExit(Arc<Shared>);

impl Drop for EndOnExit {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.ended = true;
        if q.parser_waits {
            q.parser_waits = false;
            self.0.arrived.notify_one();
        }
    }
}

/// Starts reading `input` on a thread of `scope`. The thread ends at the end
/// of input, on an error (passed on), or when the receiver is dropped; it
/// returns the digest and length of the raw bytes it read.
pub(super) fn spawn<'scope, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    input: R,
) -> (Prefetched, ScopedJoinHandle<'scope, (Sha256Digest, u64)>) {
    let shared = Arc::new(Shared::default());
    let end = EndOnExit(Arc::clone(&shared));
    let handle = scope.spawn(move || {
        let shared = &end.0;
        let mut chunks = Utf8Chunks::new(input);
        loop {
            let mut buf = shared.lock().spare.pop().unwrap_or_default();
            let (item, last) = match chunks.next_chunk(&mut buf) {
                Ok(true) => (Some(Ok(buf)), false),
                Ok(false) => (None, true),
                Err(e) => (Some(Err(e)), true),
            };
            let mut q = shared.lock();
            while q.chunks.len() >= AHEAD && !q.closed {
                q.reader_waits = true;
                q = shared.room.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
            if q.closed {
                break;
            }
            q.chunks.extend(item);
            q.ended = last;
            if q.parser_waits {
                q.parser_waits = false;
                shared.arrived.notify_one();
            }
            if last {
                break;
            }
        }
        chunks.finish()
    });
    (Prefetched { shared, done: false }, handle)
}

impl Prefetched {
    /// Replaces `out` with the next chunk (the old buffer goes back to the
    /// reading thread). Returns false at the end of input.
    pub(super) fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        if self.done {
            return Ok(false);
        }
        let shared = &*self.shared;
        let mut q = shared.lock();
        let item = loop {
            if let Some(item) = q.chunks.pop_front() {
                break Some(item);
            }
            if q.ended {
                break None;
            }
            q.parser_waits = true;
            q = shared.arrived.wait(q).unwrap_or_else(PoisonError::into_inner);
        };
        if q.reader_waits && q.chunks.len() <= RESUME_AT {
            q.reader_waits = false;
            shared.room.notify_one();
        }
        match item {
            Some(Ok(chunk)) => {
                let used = std::mem::replace(out, chunk);
                if used.capacity() > 0 && q.spare.len() < AHEAD {
                    q.spare.push(used);
                }
                Ok(true)
            }
            Some(Err(e)) => {
                self.done = true;
                Err(e)
            }
            None => {
                self.done = true;
                Ok(false)
            }
        }
    }
}

impl Drop for Prefetched {
    /// Stops the reader: the parser is done, or failed.
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.closed = true;
        if q.reader_waits {
            q.reader_waits = false;
            self.shared.room.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::plan::encoding::CHUNK;

    fn collect(p: &mut Prefetched) -> Result<Vec<u8>, DecodeError> {
        let mut all = Vec::new();
        let mut buf = Vec::new();
        while p.next_chunk(&mut buf)? {
            all.extend_from_slice(&buf);
        }
        Ok(all)
    }

    #[test]
    fn passes_every_byte_through_and_hashes_it() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| b'a' + (i % 26) as u8).collect();
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, &data[..]);
            assert_eq!(collect(&mut r).unwrap(), data);
            let (digest, len) = h.join().unwrap();
            assert_eq!(digest, Sha256Digest::of(&data));
            assert_eq!(len, data.len() as u64);
        });
    }

    #[test]
    fn digest_covers_the_raw_bytes_of_utf16_input() {
        let raw = [0xFF, 0xFE, b'{', 0, b'}', 0];
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, &raw[..]);
            assert_eq!(collect(&mut r).unwrap(), b"{}");
            assert_eq!(h.join().unwrap().0, Sha256Digest::of(&raw));
        });
    }

    #[test]
    fn errors_reach_the_reader() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, Failing);
            assert!(collect(&mut r).unwrap_err().to_string().contains("disk on fire"));
            h.join().unwrap();
        });
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, &b"{\"a\":\"\xff\"}"[..]);
            assert!(matches!(collect(&mut r), Err(DecodeError::InvalidUtf8 { offset: 6 })));
            h.join().unwrap();
        });
    }

    /// Hands out its bytes in pieces of up to 1000, pausing every 300.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 += 1;
            if self.1.is_multiple_of(300) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let n = buf.len().min(self.0.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_slow_parser_and_a_slow_reader_each_wait_and_lose_nothing() {
        let data: Vec<u8> = (0..(40 * CHUNK + 7)).map(|i| b'a' + (i % 23) as u8).collect();
        // The parser pauses after some chunks (the reader fills the queue
        // and waits for room); the reader pauses too (the parser waits).
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, Trickle(&data, 0));
            let (mut all, mut buf, mut n) = (Vec::new(), Vec::new(), 0);
            while r.next_chunk(&mut buf).unwrap() {
                n += 1;
                if n % 10 == 5 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                all.extend_from_slice(&buf);
            }
            assert!(!r.next_chunk(&mut buf).unwrap(), "the end stays the end");
            assert_eq!(all, data);
            assert_eq!(h.join().unwrap(), (Sha256Digest::of(&data), data.len() as u64));
        });
    }

    #[test]
    fn a_reading_thread_that_fails_ends_the_chunks() {
        struct Panics(usize);
        impl Read for Panics {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0 += 1;
                assert!(self.0 < 3, "the reading thread fails");
                buf.fill(b' ');
                Ok(buf.len())
            }
        }
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, Panics(0));
            let mut buf = Vec::new();
            // Whatever came before the failure, then the end: never a wait forever.
            while r.next_chunk(&mut buf).unwrap() {}
            assert!(h.join().is_err());
        });
    }

    #[test]
    fn dropping_the_reader_stops_the_thread() {
        let data = vec![b'x'; 20 * CHUNK];
        std::thread::scope(|s| {
            let (r, h) = spawn(s, &data[..]);
            drop(r);
            h.join().unwrap();
        });
    }
}
