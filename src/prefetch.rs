//! Reads and hashes input on a second thread while the caller parses it.
//!
//! On a large plan the read syscalls and SHA-256 are a third of the work;
//! moving them beside the parser uses the second core. Buffers go back and
//! forth over bounded channels, so memory stays at a few chunks and no
//! chunk is allocated twice.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use crate::digest::{HashingReader, Sha256Digest};

const CHUNK: usize = 256 * 1024;
const IN_FLIGHT: usize = 4;

/// The parsing side: a reader over the chunks the background thread sends.
#[derive(Debug)]
pub(crate) struct Prefetched {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Starts reading `input` on a thread of `scope`. The thread ends at the end
/// of input, on a read error (passed on to the reader), or when the reader is
/// dropped; it returns the digest and length of what it read.
pub(crate) fn spawn<'scope, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    input: R,
) -> (Prefetched, ScopedJoinHandle<'scope, (Sha256Digest, u64)>) {
    let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    let handle = scope.spawn(move || {
        let mut reader = HashingReader::new(input);
        let mut spare = Vec::new();
        loop {
            let mut buf = empty_rx.try_recv().ok().or_else(|| spare.pop()).unwrap_or_default();
            buf.resize(CHUNK, 0);
            let mut filled = 0;
            let result = loop {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == CHUNK {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(filled);
            let end = filled == 0 || result.is_err();
            let sent = match result {
                Ok(()) if filled == 0 => Ok(()),
                Ok(()) => full_tx.send(Ok(buf)),
                Err(e) => full_tx.send(Err(e)),
            };
            if end || sent.is_err() {
                break;
            }
            if spare.is_empty() {
                spare.push(Vec::new());
            }
        }
        reader.finish()
    });
    let reader = Prefetched { full: full_rx, empty: empty_tx, current: Vec::new(), pos: 0, done: false };
    (reader, handle)
}

impl Read for Prefetched {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.full.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.current, chunk);
                    let _ = self.empty.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_every_byte_through_and_hashes_it() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, &data[..]);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
            let (digest, len) = h.join().unwrap();
            assert_eq!(digest, Sha256Digest::of(&data));
            assert_eq!(len, data.len() as u64);
        });
    }

    #[test]
    fn empty_input_is_empty() {
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, &b""[..]);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert!(out.is_empty());
            assert_eq!(h.join().unwrap().1, 0);
        });
    }

    #[test]
    fn read_errors_reach_the_reader() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        std::thread::scope(|s| {
            let (mut r, h) = spawn(s, Failing);
            let e = r.read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(e.to_string(), "disk on fire");
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
