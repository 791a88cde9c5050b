//! Text encodings a plan file arrives in, decoded into chunks of valid
//! UTF-8.
//!
//! Terraform writes UTF-8 without a byte-order mark, but a plan piped through
//! PowerShell (`terraform show -json > plan.json`) is UTF-16 LE with a BOM,
//! and some editors add a UTF-8 BOM. All of them are read. [`Utf8Chunks`]
//! hands out chunks that are valid UTF-8 and end on a character boundary, so
//! the scanner never has to think about encodings. It also hashes the raw
//! bytes as it reads them: the plan's SHA-256 is of the file as written, in
//! whatever encoding.

use std::io::{self, Read};

use crate::base::digest::{Sha256Digest, StreamDigest};

/// Default chunk size: large enough that nearly every `resource_changes`
/// element lies wholly in one chunk (and is read in place), small enough
/// that the chunks in flight between the threads stay under a megabyte.
pub(crate) const CHUNK: usize = 64 * 1024;

/// How the input was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// UTF-8 without a byte-order mark (what Terraform writes).
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16, little-endian (with or without a byte-order mark).
    Utf16Le,
    /// UTF-16, big-endian (with or without a byte-order mark).
    Utf16Be,
}

/// The input is not text in a supported encoding, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Reading failed.
    #[error("could not read the input: {0}")]
    Io(#[from] io::Error),
    /// Bytes that are not UTF-8.
    #[error("the input is not valid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Where, in the input.
        offset: u64,
    },
    /// Broken UTF-16.
    #[error("the input is not valid UTF-16 at byte {offset}: {what}")]
    InvalidUtf16 {
        /// Where, in the input.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// Reads any supported encoding and yields valid UTF-8 in chunks, hashing
/// the raw bytes as they are read.
#[derive(Debug)]
pub(crate) struct Utf8Chunks<R> {
    input: R,
    /// SHA-256 and length of the raw bytes read so far.
    digest: StreamDigest,
    chunk: usize,
    encoding: Option<Encoding>,
    /// Input bytes read but not yet decoded (an incomplete character).
    carry: Vec<u8>,
    /// Raw buffer for UTF-16.
    raw: Vec<u8>,
    /// Input offset of the first byte of `carry`.
    offset: u64,
    eof: bool,
}

impl<R: Read> Utf8Chunks<R> {
    /// Decodes `input` in chunks of about [`CHUNK`] bytes.
    pub(crate) fn new(input: R) -> Self {
        Self::with_chunk_size(input, CHUNK)
    }

    /// Decodes `input` in chunks of about `chunk` bytes (tests use tiny ones).
    pub(crate) fn with_chunk_size(input: R, chunk: usize) -> Self {
        Utf8Chunks {
            input,
            digest: StreamDigest::default(),
            chunk: chunk.max(1),
            encoding: None,
            carry: Vec::new(),
            raw: Vec::new(),
            offset: 0,
            eof: false,
        }
    }

    /// The digest and length of the raw bytes read.
    pub(crate) fn finish(self) -> (Sha256Digest, u64) {
        self.digest.finish()
    }

    /// Appends to `buf` (whose length is `at`) until `want` more bytes or
    /// the end of input, and hashes them.
    fn fill(&mut self, buf: &mut Vec<u8>, at: usize, want: usize) -> io::Result<usize> {
        debug_assert_eq!(buf.len(), at);
        buf.reserve(want);
        // `read_to_end` lets files and pipes read into the spare capacity
        // as it is, where a `read` into a slice would have it zeroed first
        // (a pass over every byte of the plan; BENCHMARKS.md).
        let got = (&mut self.input).take(want as u64).read_to_end(buf)?;
        if got < want {
            self.eof = true;
        }
        self.digest.update(&buf[at..]);
        Ok(got)
    }

    /// Detects the encoding from the first bytes. Without a BOM, UTF-16 is
    /// recognised by the zero bytes that ASCII text (a JSON document starts
    /// with `{` or whitespace) has in every other place.
    fn detect(&mut self) -> io::Result<Encoding> {
        let mut head = std::mem::take(&mut self.carry);
        self.fill(&mut head, 0, 4)?;
        let (encoding, skip) = match head.as_slice() {
            [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8Bom, 3),
            [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
            [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
            [a, 0, ..] if *a != 0 => (Encoding::Utf16Le, 0),
            [0, b, ..] if *b != 0 => (Encoding::Utf16Be, 0),
            _ => (Encoding::Utf8, 0),
        };
        head.drain(..skip);
        self.offset = skip as u64;
        self.carry = head;
        Ok(encoding)
    }

    /// Replaces `out` with the next chunk of valid UTF-8 ending on a
    /// character boundary. Returns false at the end of input.
    pub(crate) fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        let encoding = match self.encoding {
            Some(e) => e,
            None => {
                let e = self.detect()?;
                self.encoding = Some(e);
                e
            }
        };
        match encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => self.next_utf8(out),
            Encoding::Utf16Le | Encoding::Utf16Be => self.next_utf16(out, encoding == Encoding::Utf16Be),
        }
    }

    fn next_utf8(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        out.clear();
        out.append(&mut self.carry);
        let mut incomplete = false;
        loop {
            if !self.eof && (out.len() < self.chunk || incomplete) {
                let at = out.len();
                // At least the rest of a character, when one is cut.
                let want = self.chunk.saturating_sub(at).max(4);
                self.fill(out, at, want)?;
            }
            if out.is_empty() {
                return Ok(false);
            }
            match std::str::from_utf8(out) {
                Ok(_) => {
                    self.offset += out.len() as u64;
                    return Ok(true);
                }
                Err(e) if e.error_len().is_none() && !self.eof => {
                    // An incomplete character at the end: keep it for later.
                    let valid = e.valid_up_to();
                    self.carry.extend_from_slice(&out[valid..]);
                    out.truncate(valid);
                    if !out.is_empty() {
                        self.offset += valid as u64;
                        return Ok(true);
                    }
                    out.append(&mut self.carry);
                    incomplete = true;
                }
                Err(e) => {
                    return Err(DecodeError::InvalidUtf8 { offset: self.offset + e.valid_up_to() as u64 });
                }
            }
        }
    }

    fn next_utf16(&mut self, out: &mut Vec<u8>, big_endian: bool) -> Result<bool, DecodeError> {
        out.clear();
        while out.is_empty() {
            let mut raw = std::mem::take(&mut self.raw);
            raw.clear();
            raw.append(&mut self.carry);
            if !self.eof {
                let at = raw.len();
                self.fill(&mut raw, at, self.chunk)?;
            }
            let unit = |i: usize| {
                let pair = [raw[2 * i], raw[2 * i + 1]];
                if big_endian { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) }
            };
            let mut units = raw.len() / 2;
            // A high surrogate at the end waits for its pair from the next read.
            if !self.eof && units > 0 && (0xD800..=0xDBFF).contains(&unit(units - 1)) {
                units -= 1;
            }
            // std's decoder pairs the surrogates (as fast as the hand-written one
            // it replaced, BENCHMARKS.md); `at` counts units, for errors.
            let mut at = 0;
            let mut utf8 = [0u8; 4];
            // At least a byte per unit; ASCII (nearly all of a plan) is
            // pushed as its byte rather than copied as a slice of one.
            out.reserve(units);
            for c in char::decode_utf16((0..units).map(unit)) {
                match c {
                    Ok(c) if c.is_ascii() => {
                        out.push(c as u8);
                        at += 1;
                    }
                    Ok(c) => {
                        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                        at += c.len_utf16();
                    }
                    Err(e) => {
                        let what = match e.unpaired_surrogate() {
                            0xDC00..=0xDFFF => "unpaired low surrogate",
                            _ if at + 1 == units && self.eof => "input ends inside a surrogate pair",
                            _ => "unpaired high surrogate",
                        };
                        return Err(DecodeError::InvalidUtf16 { offset: self.offset + 2 * at as u64, what });
                    }
                }
            }
            self.offset += 2 * units as u64;
            self.carry.extend_from_slice(&raw[2 * units..]);
            self.raw = raw;
            if self.eof {
                if !self.carry.is_empty() {
                    return Err(DecodeError::InvalidUtf16 { offset: self.offset, what: "odd number of bytes" });
                }
                return Ok(!out.is_empty());
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits the input into tiny reads.
    pub(crate) struct Trickle<'a>(pub &'a [u8], pub usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn decode(bytes: &[u8], chunk: usize) -> (Option<Encoding>, Result<String, DecodeError>) {
        let mut d = Utf8Chunks::with_chunk_size(Trickle(bytes, 3), chunk);
        let mut all = Vec::new();
        let mut buf = Vec::new();
        let r = loop {
            match d.next_chunk(&mut buf) {
                Ok(true) => {
                    assert!(std::str::from_utf8(&buf).is_ok(), "every chunk is valid UTF-8 on its own");
                    all.extend_from_slice(&buf);
                }
                Ok(false) => break Ok(String::from_utf8(all).unwrap()),
                Err(e) => break Err(e),
            }
        };
        (d.encoding, r)
    }

    fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut v = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(s.encode_utf16());
        for u in units {
            v.extend_from_slice(&if big_endian { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        v
    }

    #[test]
    fn plain_utf8_passes_through_at_every_chunk_size() {
        let text = "{\"a\": \"caf\u{e9} \u{1F600}\"}";
        for chunk in [1, 2, 3, 4, 5, 64] {
            let (enc, s) = decode(text.as_bytes(), chunk);
            assert_eq!(enc, Some(Encoding::Utf8));
            assert_eq!(s.unwrap(), text);
        }
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let (enc, s) = decode(b"\xEF\xBB\xBF{}", 4);
        assert_eq!(enc, Some(Encoding::Utf8Bom));
        assert_eq!(s.unwrap(), "{}");
    }

    #[test]
    fn utf16_with_and_without_bom_both_orders() {
        let text = "{\"k\": \"caf\u{e9} \u{1F600}\"}";
        for be in [false, true] {
            for bom in [false, true] {
                for chunk in [1, 3, 7, 1024] {
                    let (enc, s) = decode(&utf16(text, be, bom), chunk);
                    assert_eq!(enc, Some(if be { Encoding::Utf16Be } else { Encoding::Utf16Le }));
                    assert_eq!(s.unwrap(), text, "be={be} bom={bom} chunk={chunk}");
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_offset() {
        assert!(matches!(decode(b"{\"a\":\"\xff\"}", 2).1, Err(DecodeError::InvalidUtf8 { offset: 6 })));
        assert!(matches!(decode(b"\xEF\xBB\xBF{\"a\":\"\xff\"}", 64).1, Err(DecodeError::InvalidUtf8 { offset: 9 })));
        // A truncated multi-byte character at the very end.
        assert!(matches!(decode(b"{\"a\":1}\xc3", 3).1, Err(DecodeError::InvalidUtf8 { offset: 7 })));
    }

    #[test]
    fn broken_utf16_is_an_error() {
        let mut odd = utf16("{}", false, true);
        odd.push(b'x');
        assert!(decode(&odd, 64).1.unwrap_err().to_string().contains("odd number of bytes"));
        let lone = [0xFF, 0xFE, 0x00, 0xD8, b'}', 0];
        assert!(decode(&lone, 64).1.unwrap_err().to_string().contains("surrogate"));
    }

    #[test]
    fn broken_surrogates_are_named_at_their_offset_at_every_chunk_size() {
        // BOM, `{`, then the broken unit at byte 4.
        let with = |units: &[u16]| {
            let mut v = vec![0xFF, 0xFE, b'{', 0];
            for u in units {
                v.extend_from_slice(&u.to_le_bytes());
            }
            v
        };
        for chunk in 1..=9 {
            for (bytes, what) in [
                (with(&[0xDC00, u16::from(b'}')]), "unpaired low surrogate"),
                (with(&[0xD800, u16::from(b'}')]), "unpaired high surrogate"),
                (with(&[0xD800, 0xD800, 0xDC00]), "unpaired high surrogate"),
                (with(&[0xD800]), "input ends inside a surrogate pair"),
            ] {
                match decode(&bytes, chunk).1 {
                    Err(DecodeError::InvalidUtf16 { offset, what: got }) => {
                        assert_eq!((offset, got), (4, what), "chunk {chunk}: {bytes:?}");
                    }
                    other => panic!("chunk {chunk}: {bytes:?}: {other:?}"),
                }
            }
            // A pair split anywhere decodes.
            assert_eq!(decode(&with(&[0xD83D, 0xDE00, u16::from(b'}')]), chunk).1.unwrap(), "{\u{1F600}}");
        }
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert_eq!(decode(b"", 8).1.unwrap(), "");
    }
}
