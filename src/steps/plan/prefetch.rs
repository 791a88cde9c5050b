//! Reads, hashes and decodes a plan on a second thread while the caller
//! parses it.
//!
//! On a large plan the read syscalls, SHA-256 and UTF-8 validation are a
//! third of the work; doing them beside the parser uses the second core.
//! Chunks travel over a bounded channel and empty buffers come back over
//! another, so memory stays at a few chunks and nothing is copied twice.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use crate::base::digest::Sha256Digest;
use crate::steps::plan::encoding::{DecodeError, Utf8Chunks};

/// Chunks read ahead of the parser. The parser is the slower of the two,
/// so more would only hold memory.
const IN_FLIGHT: usize = 2;

/// The parsing side: valid UTF-8 chunks, in order.
#[derive(Debug)]
pub(super) struct Prefetched {
    full: Receiver<Result<Vec<u8>, DecodeError>>,
    empty: SyncSender<Vec<u8>>,
    done: bool,
}

/// Starts reading `input` on a thread of `scope`. The thread ends at the end
/// of input, on an error (passed on), or when the receiver is dropped; it
/// returns the digest and length of the raw bytes it read.
pub(super) fn spawn<'scope, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    input: R,
) -> (Prefetched, ScopedJoinHandle<'scope, (Sha256Digest, u64)>) {
    let (full_tx, full_rx) = sync_channel(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    let handle = scope.spawn(move || {
        let mut chunks = Utf8Chunks::new(input);
        loop {
            let mut buf = empty_rx.try_recv().unwrap_or_default();
            let (item, last) = match chunks.next_chunk(&mut buf) {
                Ok(true) => (Some(Ok(buf)), false),
                Ok(false) => (None, true),
                Err(e) => (Some(Err(e)), true),
            };
            if let Some(item) = item
                && full_tx.send(item).is_err()
            {
                break;
            }
            if last {
                break;
            }
        }
        chunks.finish()
    });
    (Prefetched { full: full_rx, empty: empty_tx, done: false }, handle)
}

impl Prefetched {
    /// Replaces `out` with the next chunk (the old buffer goes back to the
    /// reading thread). Returns false at the end of input.
    pub(super) fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        if self.done {
            return Ok(false);
        }
        match self.full.recv() {
            Ok(Ok(chunk)) => {
                let used = std::mem::replace(out, chunk);
                let _ = self.empty.try_send(used);
                Ok(true)
            }
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => {
                self.done = true;
                Ok(false)
            }
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
