//! Text encodings a plan file arrives in.
//!
//! Terraform writes UTF-8 without a byte-order mark, but a plan piped through
//! PowerShell (`terraform show -json > plan.json`) is UTF-16 LE with a BOM,
//! and some editors add a UTF-8 BOM. All of them are read; everything is
//! turned into a UTF-8 byte stream for the scanner, which validates it.

use std::io::{self, Read};

/// How the input was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark (what Terraform writes).
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16, little-endian (with or without a byte-order mark).
    Utf16Le,
    /// UTF-16, big-endian (with or without a byte-order mark).
    Utf16Be,
}

impl Encoding {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16Le => "UTF-16 LE",
            Encoding::Utf16Be => "UTF-16 BE",
        }
    }
}

/// The input in UTF-8, whatever it arrived in.
#[derive(Debug)]
pub(crate) enum Utf8Source<R> {
    /// Bytes passed through (the peeked prefix first).
    Direct(io::Chain<io::Cursor<Vec<u8>>, R>),
    /// UTF-16 transcoded on the fly.
    Utf16(Utf16Decoder<R>),
}

/// Detects the encoding from the first bytes and returns a UTF-8 reader.
///
/// Without a BOM, UTF-16 is recognised by the zero bytes that ASCII text
/// (a JSON document starts with `{` or whitespace) has in every other place.
pub(crate) fn detect<R: Read>(mut input: R) -> io::Result<(Encoding, Utf8Source<R>)> {
    let mut head = Vec::with_capacity(4);
    let mut chunk = [0u8; 4];
    while head.len() < 4 {
        let n = match input.read(&mut chunk[..4 - head.len()]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
    }
    let (encoding, skip) = match head.as_slice() {
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8Bom, 3),
        [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
        [a, 0, ..] if *a != 0 => (Encoding::Utf16Le, 0),
        [0, b, ..] if *b != 0 => (Encoding::Utf16Be, 0),
        _ => (Encoding::Utf8, 0),
    };
    let rest = head.split_off(skip);
    let source = match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => Utf8Source::Direct(io::Cursor::new(rest).chain(input)),
        Encoding::Utf16Le | Encoding::Utf16Be => Utf8Source::Utf16(Utf16Decoder {
            inner: input,
            big_endian: encoding == Encoding::Utf16Be,
            raw: rest,
            raw_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            high_surrogate: None,
            eof: false,
            consumed: skip as u64,
        }),
    };
    Ok((encoding, source))
}

impl<R> Utf8Source<R> {
    /// The underlying reader.
    pub(crate) fn into_inner(self) -> R {
        match self {
            Utf8Source::Direct(chain) => chain.into_inner().1,
            Utf8Source::Utf16(d) => d.inner,
        }
    }
}

impl<R: Read> Read for Utf8Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Utf8Source::Direct(r) => r.read(buf),
            Utf8Source::Utf16(r) => r.read(buf),
        }
    }
}

/// Transcodes UTF-16 to UTF-8 chunk by chunk; surrogate pairs and odd bytes
/// may straddle chunk boundaries.
#[derive(Debug)]
pub(crate) struct Utf16Decoder<R> {
    inner: R,
    big_endian: bool,
    raw: Vec<u8>,
    raw_pos: usize,
    out: Vec<u8>,
    out_pos: usize,
    high_surrogate: Option<u16>,
    eof: bool,
    /// Input bytes consumed before `raw`, for error offsets.
    consumed: u64,
}

impl<R: Read> Utf16Decoder<R> {
    fn invalid(&self, at: u64, what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("invalid UTF-16 at byte {at}: {what}"))
    }

    /// Decodes the next chunk into `out`. Returns false at the end of input.
    fn fill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() {
            // Keep an odd trailing byte for the next round.
            self.raw.drain(..self.raw_pos);
            self.raw_pos = 0;
            if !self.eof {
                let have = self.raw.len();
                self.raw.resize(have + 64 * 1024, 0);
                let n = loop {
                    match self.inner.read(&mut self.raw[have..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.raw.truncate(have + n);
                self.eof = n == 0;
            }
            let units = self.raw.len() / 2;
            for i in 0..units {
                let pair = [self.raw[2 * i], self.raw[2 * i + 1]];
                let unit = if self.big_endian { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) };
                let at = self.consumed + 2 * i as u64;
                let c = match (self.high_surrogate.take(), unit) {
                    (None, 0xD800..=0xDBFF) => {
                        self.high_surrogate = Some(unit);
                        continue;
                    }
                    (None, 0xDC00..=0xDFFF) => return Err(self.invalid(at, "unpaired low surrogate")),
                    (None, u) => char::from_u32(u32::from(u)).expect("not a surrogate"),
                    (Some(hi), lo @ 0xDC00..=0xDFFF) => {
                        let cp = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                        char::from_u32(cp).expect("valid surrogate pair")
                    }
                    (Some(_), _) => return Err(self.invalid(at, "unpaired high surrogate")),
                };
                let mut utf8 = [0u8; 4];
                self.out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            self.raw_pos = units * 2;
            self.consumed += self.raw_pos as u64;
            if self.eof {
                if self.raw.len() > self.raw_pos {
                    return Err(self.invalid(self.consumed, "odd number of bytes"));
                }
                if self.high_surrogate.is_some() {
                    return Err(self.invalid(self.consumed, "input ends inside a surrogate pair"));
                }
                return Ok(!self.out.is_empty());
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for Utf16Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos == self.out.len() && !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (Encoding, io::Result<String>) {
        let (enc, mut src) = detect(bytes).unwrap();
        let mut out = Vec::new();
        let r = src.read_to_end(&mut out).map(|_| String::from_utf8(out).unwrap());
        (enc, r)
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
    fn plain_utf8_passes_through() {
        let (enc, s) = decode(b"{\"a\":1}");
        assert_eq!(enc, Encoding::Utf8);
        assert_eq!(s.unwrap(), "{\"a\":1}");
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let (enc, s) = decode(b"\xEF\xBB\xBF{}");
        assert_eq!(enc, Encoding::Utf8Bom);
        assert_eq!(s.unwrap(), "{}");
    }

    #[test]
    fn utf16_with_and_without_bom_both_orders() {
        let text = "{\"k\": \"caf\u{e9} \u{1F600}\"}";
        for be in [false, true] {
            for bom in [false, true] {
                let (enc, s) = decode(&utf16(text, be, bom));
                assert_eq!(enc, if be { Encoding::Utf16Be } else { Encoding::Utf16Le });
                assert_eq!(s.unwrap(), text, "be={be} bom={bom}");
            }
        }
    }

    #[test]
    fn utf16_surrogate_pair_across_chunks_is_decoded() {
        // 64 KiB chunks: put the pair right on the boundary.
        // BOM + prefix + padding = 32 Ki units - 1, so the pair straddles.
        let mut text = String::from("{\"k\":\"");
        let pad = 32 * 1024 - 1 - 1 - text.len();
        text.push_str(&"a".repeat(pad));
        text.push('\u{1F600}');
        text.push_str("\"}");
        let (_, s) = decode(&utf16(&text, false, true));
        assert_eq!(s.unwrap(), text);
    }

    #[test]
    fn broken_utf16_is_an_error() {
        let mut odd = utf16("{}", false, true);
        odd.push(b'x');
        assert!(decode(&odd).1.unwrap_err().to_string().contains("odd number of bytes"));
        let lone = [0xFF, 0xFE, 0x00, 0xD8, b'}', 0];
        assert!(decode(&lone).1.unwrap_err().to_string().contains("surrogate"));
    }
}
