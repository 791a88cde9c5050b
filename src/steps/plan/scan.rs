//! A streaming, validating JSON scanner for large plan files.
//!
//! A plan is mostly sections the gate never reads (`planned_values`,
//! `prior_state`): building a tree of the whole file costs hundreds of MB.
//! The scanner walks the top-level object key by key from a fixed-size
//! buffer; it *skips* the values the gate does not need (still validating
//! their syntax, so a malformed or truncated file is refused, never
//! half-read), lends the rest of its buffer ([`Scanner::window`]) so that an
//! element of `resource_changes` can be read in place in one pass
//! (`super::element`), and *captures* the bytes of a value that the end of
//! the buffer cuts (and of small top-level values, for serde). Memory is the
//! buffer plus the largest single element, whatever the size of the file.

use memchr::memchr2;

use super::encoding::{DecodeError, Utf8Chunks};
use crate::steps::plan::prefetch::Prefetched;

/// Deepest nesting accepted; real plans stay far below.
const MAX_DEPTH: usize = 1024;

/// Why the input is not valid JSON, and where (byte offset in the UTF-8 text).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading or decoding the input failed.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The input has no bytes, or only whitespace.
    #[error("the input is empty")]
    Empty,
    /// The input ended in the middle of a value.
    #[error("the input ends unexpectedly at byte {offset} (truncated?)")]
    Truncated {
        /// Where the input ended.
        offset: u64,
    },
    /// A byte that cannot appear here.
    #[error("not valid JSON at byte {offset}: expected {expected}, found {found}")]
    Unexpected {
        /// Where.
        offset: u64,
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found, printable.
        found: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("JSON nested deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep {
        /// Where.
        offset: u64,
    },
}

/// Shows one found byte in an error message.
pub(super) fn printable(b: u8) -> String {
    match b {
        b'\n' => "a line break".into(),
        b'\t' => "a tab".into(),
        0x20..=0x7e => format!("'{}'", char::from(b)),
        _ => format!("byte 0x{b:02x}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value must come (after `:` or `,` in an array, or at the top).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    CommaOrClose,
}

/// Why [`Scanner::walk_fast`] stopped: built in its loop, turned into the
/// result (and an error's message) only on the way out.
enum Exit {
    Done,
    /// The next token may be cut by the end of the buffer.
    More,
    Unexpected(&'static str),
    /// A bad string byte at this position in the buffer.
    BadString(usize),
    /// A bad number or literal of this many bytes.
    BadNumber(usize),
    BadLiteral(usize),
    TooDeep,
}

impl Exit {
    /// True when the value is complete, false to go on token by token, or
    /// the error at `*pos` (moved to a bad string byte) of `buf`, whose
    /// first byte is at stream offset `base`.
    fn result(self, buf: &[u8], base: u64, pos: &mut usize) -> Result<bool, ScanError> {
        let i = *pos;
        let offset = base + i as u64;
        let lossy = |len: usize| format!("{:?}", String::from_utf8_lossy(&buf[i..(i + len).min(buf.len())]));
        match self {
            Exit::Done => Ok(true),
            Exit::More => Ok(false),
            Exit::Unexpected(expected) => Err(ScanError::Unexpected { offset, expected, found: printable(buf[i]) }),
            Exit::BadString(bad) => {
                *pos = bad;
                Err(ScanError::Unexpected {
                    offset: base + bad as u64,
                    expected: "a character (control characters must be escaped) or a valid escape",
                    found: printable(buf[bad]),
                })
            }
            Exit::BadNumber(len) => Err(ScanError::Unexpected { offset, expected: "a number", found: lossy(len) }),
            Exit::BadLiteral(len) => {
                Err(ScanError::Unexpected { offset, expected: "true, false or null", found: lossy(len) })
            }
            Exit::TooDeep => Err(ScanError::TooDeep { offset }),
        }
    }
}

/// How a number or literal at the start of some bytes ends.
pub(super) enum Scalar {
    /// Valid, this many bytes long.
    Len(usize),
    /// It may go on past the bytes given.
    More,
    /// Invalid; these many bytes are shown in the error.
    Bad(usize),
}

/// The number at the start of `rest` (its first byte is `-` or a digit).
#[inline]
pub(super) fn number_at(rest: &[u8]) -> Scalar {
    let Some(len) = rest.iter().position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) else {
        return Scalar::More;
    };
    if valid_number(&rest[..len]) { Scalar::Len(len) } else { Scalar::Bad(len) }
}

/// The literal at the start of `rest` (its first byte is `t`, `f` or `n`),
/// compared four bytes at once.
#[inline]
fn literal_at(rest: &[u8]) -> Scalar {
    let Some(four) = rest.get(..4) else {
        return Scalar::More;
    };
    let four = u32::from_le_bytes(four.try_into().expect("four bytes"));
    if four == u32::from_le_bytes(*b"true") || four == u32::from_le_bytes(*b"null") {
        Scalar::Len(4)
    } else if four != u32::from_le_bytes(*b"fals") {
        Scalar::Bad(4)
    } else {
        match rest.get(4) {
            Some(b'e') => Scalar::Len(5),
            Some(_) => Scalar::Bad(5),
            None => Scalar::More,
        }
    }
}

/// Where the scanner gets its input: chunks of valid UTF-8 that end on a
/// character boundary.
pub(super) trait ChunkSource {
    /// Replaces `out` with the next chunk; false at the end of input.
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError>;
}

impl<R: std::io::Read> ChunkSource for Utf8Chunks<R> {
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        Utf8Chunks::next_chunk(self, out)
    }
}

impl ChunkSource for Prefetched {
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
        Prefetched::next_chunk(self, out)
    }
}

/// The scanner. See the module documentation.
#[derive(Debug)]
pub(super) struct Scanner<S> {
    src: S,
    /// The current chunk.
    buf: Vec<u8>,
    /// Next byte to consume.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Start in `buf` of the capture in progress.
    capture_from: Option<usize>,
    captured: Vec<u8>,
    /// Open containers of the value being walked (`b'{'` or `b'['`).
    stack: Vec<u8>,
    number: Vec<u8>,
}

impl<S: ChunkSource> Scanner<S> {
    pub(super) fn new(src: S) -> Self {
        Scanner {
            src,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            capture_from: None,
            captured: Vec::new(),
            stack: Vec::new(),
            number: Vec::new(),
        }
    }

    /// The stream offset of the next byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Moves to the next chunk. Returns false at the end of input.
    /// Precondition: everything in the buffer has been consumed.
    #[cold]
    fn refill(&mut self) -> Result<bool, ScanError> {
        debug_assert_eq!(self.pos, self.buf.len());
        if let Some(from) = self.capture_from {
            self.captured.extend_from_slice(&self.buf[from..]);
            self.capture_from = Some(0);
        }
        self.base += self.buf.len() as u64;
        self.pos = 0;
        if self.eof {
            self.buf.clear();
            return Ok(false);
        }
        // A source never hands out an empty chunk before the end.
        if !self.src.next_chunk(&mut self.buf)? || self.buf.is_empty() {
            self.eof = true;
            self.buf.clear();
            return Ok(false);
        }
        Ok(true)
    }

    /// The next non-whitespace byte, not consumed; `None` at the end.
    #[inline]
    fn peek_token(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            while self.pos < self.buf.len() {
                let b = self.buf[self.pos];
                if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Like [`Self::peek_token`], but the end of input is an error.
    #[inline]
    fn need_token(&mut self) -> Result<u8, ScanError> {
        match self.peek_token()? {
            Some(b) => Ok(b),
            None => Err(ScanError::Truncated { offset: self.offset() }),
        }
    }

    /// The next raw byte (no whitespace skipping), consumed.
    #[inline]
    fn next_byte(&mut self) -> Result<u8, ScanError> {
        if self.pos == self.buf.len() && !self.refill()? {
            return Err(ScanError::Truncated { offset: self.offset() });
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn unexpected(&self, expected: &'static str, found: u8) -> ScanError {
        ScanError::Unexpected { offset: self.offset(), expected, found: printable(found) }
    }

    /// Consumes `want` (after whitespace) or fails.
    fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), ScanError> {
        let b = self.need_token()?;
        if b != want {
            return Err(self.unexpected(expected, b));
        }
        self.pos += 1;
        Ok(())
    }

    /// Checks that the document starts with an object; consumes the `{`.
    pub(super) fn begin_document_object(&mut self) -> Result<(), ScanError> {
        match self.peek_token()? {
            None => Err(ScanError::Empty),
            Some(b'{') => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(self.unexpected("'{' (a plan is a JSON object)", b)),
        }
    }

    /// The next key of the object being read (its `{` or previous value
    /// consumed), with its `:` consumed; `None` after the closing `}`.
    pub(super) fn next_key(&mut self, first: bool) -> Result<Option<String>, ScanError> {
        let b = self.need_token()?;
        if b == b'}' {
            self.pos += 1;
            return Ok(None);
        }
        if !first {
            if b != b',' {
                return Err(self.unexpected("',' or '}'", b));
            }
            self.pos += 1;
        }
        let b = self.need_token()?;
        if b != b'"' {
            return Err(self.unexpected("a key in double quotes", b));
        }
        let at = self.offset();
        let raw = self.capture_value()?;
        let key = serde_json::from_slice::<String>(raw).map_err(|e| ScanError::Unexpected {
            offset: at,
            expected: "a key",
            found: e.to_string(),
        })?;
        self.expect(b':', "':'")?;
        Ok(Some(key))
    }

    /// After `[` (see [`Self::begin_array`]): true when another element
    /// follows (its `,` consumed), false after the closing `]`.
    pub(super) fn next_element(&mut self, first: bool) -> Result<bool, ScanError> {
        let b = self.need_token()?;
        if b == b']' {
            self.pos += 1;
            return Ok(false);
        }
        if !first {
            if b != b',' {
                return Err(self.unexpected("',' or ']'", b));
            }
            self.pos += 1;
        }
        Ok(true)
    }

    /// Consumes the `[` of an array value. Returns false (consuming the
    /// value) when the value is `null`, which plans use for "none".
    pub(super) fn begin_array(&mut self) -> Result<bool, ScanError> {
        match self.need_token()? {
            b'[' => {
                self.pos += 1;
                Ok(true)
            }
            b'n' => {
                self.skip_value()?;
                Ok(false)
            }
            b => Err(self.unexpected("an array", b)),
        }
    }

    /// The rest of the current chunk from the next token on (not consumed),
    /// and its stream offset: a value that lies wholly inside it can be read
    /// in place, then [`Self::consume`]d.
    pub(super) fn window(&mut self) -> Result<(&[u8], u64), ScanError> {
        self.need_token()?;
        Ok((&self.buf[self.pos..], self.offset()))
    }

    /// Consumes `n` bytes of the [`Self::window`].
    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(self.pos + n <= self.buf.len());
        self.pos += n;
    }

    /// Checks that only whitespace follows the document.
    pub(super) fn finish(&mut self) -> Result<(), ScanError> {
        match self.peek_token()? {
            None => Ok(()),
            Some(b) => Err(self.unexpected("the end of the input after the plan object", b)),
        }
    }

    /// Skips one value, validating it.
    pub(super) fn skip_value(&mut self) -> Result<(), ScanError> {
        self.walk_value()
    }

    /// Reads one value and returns its bytes (valid JSON, UTF-8), valid
    /// until the next call.
    ///
    /// A captured object or array is only walked for its extent (strings and
    /// brackets): the caller parses the bytes (serde or the element reader),
    /// which validates them completely, so validating here too would read
    /// them twice.
    pub(super) fn capture_value(&mut self) -> Result<&[u8], ScanError> {
        let first = self.need_token()?;
        self.captured.clear();
        self.capture_from = Some(self.pos);
        let walked = if matches!(first, b'{' | b'[') { self.walk_extent() } else { self.walk_value() };
        let from = self.capture_from.take().expect("capture in progress");
        walked?;
        self.captured.extend_from_slice(&self.buf[from..self.pos]);
        Ok(&self.captured)
    }

    /// Walks an object or array to its end, tracking only strings and
    /// bracket depth. Malformed content is left for the parser of the
    /// captured bytes to report; the end of input is still detected.
    fn walk_extent(&mut self) -> Result<(), ScanError> {
        let mut depth: usize = 0;
        loop {
            let Scanner { buf, pos, .. } = &mut *self;
            let mut i = *pos;
            let mut cut = false;
            while let Some(word) = buf.get(i..i + 8) {
                let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                let hits = structural_bytes(w);
                if hits == 0 {
                    i += 8;
                    continue;
                }
                i += (hits.trailing_zeros() / 8) as usize;
                match buf[i] {
                    b'"' => match string_end(buf, i + 1) {
                        Ok(Some(close)) => i = close + 1,
                        Ok(None) => {
                            cut = true;
                            break;
                        }
                        // Left for the parser to report precisely.
                        Err(bad) => i = bad + 1,
                    },
                    b'{' | b'[' => {
                        depth += 1;
                        i += 1;
                    }
                    _ => {
                        depth = depth.saturating_sub(1);
                        i += 1;
                        if depth == 0 {
                            *pos = i;
                            return Ok(());
                        }
                    }
                }
            }
            *pos = i;
            if cut || self.pos < self.buf.len() {
                // A token near the end of the chunk: one byte at a time.
                let b = self.next_byte()?;
                match b {
                    b'"' => self.skip_string_body()?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            } else if !self.refill()? {
                return Err(ScanError::Truncated { offset: self.offset() });
            }
        }
    }

    /// Walks one complete value. Tokens that lie wholly inside the buffer
    /// go through [`Self::walk_fast`]; a token cut by the end of the buffer
    /// (once per refill) goes through [`Self::walk_token`], which refills.
    fn walk_value(&mut self) -> Result<(), ScanError> {
        self.stack.clear();
        let mut state = State::Value;
        loop {
            if self.walk_fast(&mut state)? || self.walk_token(&mut state)? {
                return Ok(());
            }
        }
    }

    /// Applies one token to the state machine. Returns true when the value
    /// being walked is complete.
    fn transition(stack: &mut Vec<u8>, state: &mut State, tok: u8, offset: u64) -> Result<bool, ScanError> {
        #[cold]
        #[inline(never)]
        fn unexpected_at(offset: u64, tok: u8, expected: &'static str) -> ScanError {
            ScanError::Unexpected { offset, expected, found: printable(tok) }
        }
        let unexpected = |expected: &'static str| unexpected_at(offset, tok, expected);
        match *state {
            State::Value | State::ArrayFirst => match tok {
                b'{' | b'[' => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(ScanError::TooDeep { offset });
                    }
                    stack.push(tok);
                    *state = if tok == b'{' { State::ObjectFirst } else { State::ArrayFirst };
                    return Ok(false);
                }
                // A scalar (string, number, literal) already consumed.
                b'"' | b'0' => {}
                b']' if *state == State::ArrayFirst => {
                    stack.pop();
                }
                _ => return Err(unexpected("a value")),
            },
            State::ObjectFirst | State::Key => match tok {
                b'"' => {
                    *state = State::Colon;
                    return Ok(false);
                }
                b'}' if *state == State::ObjectFirst => {
                    stack.pop();
                }
                _ => return Err(unexpected("a key in double quotes")),
            },
            State::Colon => {
                if tok != b':' {
                    return Err(unexpected("':'"));
                }
                *state = State::Value;
                return Ok(false);
            }
            State::CommaOrClose => {
                let top = *stack.last().expect("inside a container");
                match (tok, top) {
                    (b',', b'{') => {
                        *state = State::Key;
                        return Ok(false);
                    }
                    (b',', _) => {
                        *state = State::Value;
                        return Ok(false);
                    }
                    (b'}', b'{') | (b']', b'[') => {
                        stack.pop();
                    }
                    _ => {
                        return Err(unexpected(if top == b'{' { "',' or '}'" } else { "',' or ']'" }));
                    }
                }
            }
        }
        // A value just ended.
        if stack.is_empty() {
            return Ok(true);
        }
        *state = State::CommaOrClose;
        Ok(false)
    }

    /// Walks tokens that lie wholly inside the buffer. Returns true when the
    /// value is complete, false when the next token may be cut by the end of
    /// the buffer (or the buffer is used up). The state lives in locals and
    /// errors are built only on the way out: this loop sees every token of
    /// the plan.
    fn walk_fast(&mut self, state: &mut State) -> Result<bool, ScanError> {
        let Scanner { buf, pos, base, stack, .. } = self;
        let buf = &buf[..];
        let mut i = *pos;
        let mut st = *state;
        let exit = 'run: loop {
            i = skip_whitespace(buf, i);
            let Some(&b) = buf.get(i) else {
                break 'run Exit::More;
            };
            match st {
                State::Value | State::ArrayFirst => match b {
                    b'"' => match string_end(buf, i + 1) {
                        Ok(Some(close)) => i = close + 1,
                        Ok(None) => break 'run Exit::More,
                        Err(bad) => break 'run Exit::BadString(bad),
                    },
                    b'{' | b'[' => {
                        if stack.len() >= MAX_DEPTH {
                            break 'run Exit::TooDeep;
                        }
                        stack.push(b);
                        i += 1;
                        st = if b == b'{' { State::ObjectFirst } else { State::ArrayFirst };
                        continue;
                    }
                    b'-' | b'0'..=b'9' => match number_at(&buf[i..]) {
                        Scalar::Len(len) => i += len,
                        Scalar::More => break 'run Exit::More,
                        Scalar::Bad(len) => break 'run Exit::BadNumber(len),
                    },
                    b't' | b'n' | b'f' => match literal_at(&buf[i..]) {
                        Scalar::Len(len) => i += len,
                        Scalar::More => break 'run Exit::More,
                        Scalar::Bad(len) => break 'run Exit::BadLiteral(len),
                    },
                    b']' if st == State::ArrayFirst => {
                        stack.pop();
                        i += 1;
                    }
                    _ => break 'run Exit::Unexpected("a value"),
                },
                State::ObjectFirst | State::Key => match b {
                    b'"' => match string_end(buf, i + 1) {
                        Ok(Some(close)) => {
                            i = close + 1;
                            st = State::Colon;
                            continue;
                        }
                        Ok(None) => break 'run Exit::More,
                        Err(bad) => break 'run Exit::BadString(bad),
                    },
                    b'}' if st == State::ObjectFirst => {
                        stack.pop();
                        i += 1;
                    }
                    _ => break 'run Exit::Unexpected("a key in double quotes"),
                },
                State::Colon => {
                    if b != b':' {
                        break 'run Exit::Unexpected("':'");
                    }
                    i += 1;
                    st = State::Value;
                    continue;
                }
                State::CommaOrClose => {
                    let top = *stack.last().expect("inside a container");
                    match (b, top) {
                        (b',', b'{') => {
                            i += 1;
                            st = State::Key;
                            continue;
                        }
                        (b',', _) => {
                            i += 1;
                            st = State::Value;
                            continue;
                        }
                        (b'}', b'{') | (b']', b'[') => {
                            stack.pop();
                            i += 1;
                        }
                        _ => {
                            break 'run Exit::Unexpected(if top == b'{' { "',' or '}'" } else { "',' or ']'" });
                        }
                    }
                }
            }
            // A value just ended.
            if stack.is_empty() {
                break 'run Exit::Done;
            }
            st = State::CommaOrClose;
        };
        *pos = i;
        *state = st;
        exit.result(buf, *base, pos)
    }

    /// Walks one token, refilling as needed. Returns true when the value is
    /// complete.
    fn walk_token(&mut self, state: &mut State) -> Result<bool, ScanError> {
        let b = self.need_token()?;
        let start = self.offset();
        self.pos += 1;
        let tok = match b {
            b'"' => {
                self.skip_string_body()?;
                b'"'
            }
            b'-' | b'0'..=b'9' => {
                self.skip_number(b)?;
                b'0'
            }
            b't' => {
                self.skip_literal(b"rue")?;
                b'0'
            }
            b'f' => {
                self.skip_literal(b"alse")?;
                b'0'
            }
            b'n' => {
                self.skip_literal(b"ull")?;
                b'0'
            }
            other => other,
        };
        Self::transition(&mut self.stack, state, tok, start).inspect_err(|_| {
            if !matches!(tok, b'"' | b'0') {
                self.pos -= 1;
            }
        })
    }

    /// Skips a string after its opening quote, through the closing quote.
    fn skip_string_body(&mut self) -> Result<(), ScanError> {
        loop {
            let hay = &self.buf[self.pos..];
            let stop = memchr2(b'"', b'\\', hay);
            let plain = &hay[..stop.unwrap_or(hay.len())];
            // Unescaped control characters are not JSON. `fold` (not `any`)
            // so the check vectorises.
            if plain.iter().fold(false, |acc, &c| acc | (c < 0x20)) {
                let at = plain.iter().position(|&c| c < 0x20).expect("found above");
                self.pos += at;
                return Err(self.unexpected("a character (control characters must be escaped in strings)", plain[at]));
            }
            match stop {
                None => {
                    self.pos = self.buf.len();
                    if !self.refill()? {
                        return Err(ScanError::Truncated { offset: self.offset() });
                    }
                }
                Some(i) => {
                    let quote = hay[i] == b'"';
                    self.pos += i + 1;
                    if quote {
                        return Ok(());
                    }
                    match self.next_byte()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                let h = self.next_byte()?;
                                if !h.is_ascii_hexdigit() {
                                    self.pos -= 1;
                                    return Err(self.unexpected("a hex digit in a \\u escape", h));
                                }
                            }
                        }
                        e => {
                            self.pos -= 1;
                            return Err(self.unexpected("an escape character", e));
                        }
                    }
                }
            }
        }
    }

    /// Skips a number whose first byte is consumed, checking its grammar.
    fn skip_number(&mut self, first: u8) -> Result<(), ScanError> {
        self.number.clear();
        self.number.push(first);
        let start = self.offset() - 1;
        loop {
            if self.pos == self.buf.len() && !self.refill()? {
                break;
            }
            let b = self.buf[self.pos];
            if !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                break;
            }
            self.number.push(b);
            self.pos += 1;
        }
        if valid_number(&self.number) {
            Ok(())
        } else {
            Err(ScanError::Unexpected {
                offset: start,
                expected: "a number",
                found: format!("{:?}", String::from_utf8_lossy(&self.number)),
            })
        }
    }

    fn skip_literal(&mut self, rest: &[u8]) -> Result<(), ScanError> {
        for &want in rest {
            let b = self.next_byte()?;
            if b != want {
                self.pos -= 1;
                return Err(self.unexpected("true, false or null", b));
            }
        }
        Ok(())
    }
}

/// The first byte at or after `i` that is not JSON whitespace (or the end).
/// Indented plans are a third whitespace: the indentation after a line
/// break is measured eight bytes at a time, to its first other byte.
#[inline]
pub(super) fn skip_whitespace(buf: &[u8], mut i: usize) -> usize {
    while let Some(&c) = buf.get(i) {
        match c {
            b' ' | b'\r' | b'\t' => i += 1,
            b'\n' => {
                i += 1;
                while let Some(word) = buf.get(i..i + 8) {
                    // Zero bytes are spaces; the lowest other byte ends the run.
                    let other = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ (ONES * u64::from(b' '));
                    if other != 0 {
                        i += (other.trailing_zeros() / 8) as usize;
                        break;
                    }
                    i += 8;
                }
            }
            _ => break,
        }
    }
    i
}

/// One in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Finds the closing quote of a string whose body starts at `i`, eight
/// bytes at a time. `Ok(None)` when the string (or an escape in it) runs
/// past the end of `buf`; `Err(at)` for a control character or a bad escape.
#[inline]
pub(super) fn string_end(buf: &[u8], i: usize) -> Result<Option<usize>, usize> {
    string_token(buf, i).map(|end| end.map(|(close, _)| close))
}

/// [`string_end`], and whether the string has escapes (so its text can be
/// borrowed as it is when it has none, without looking at it again).
#[inline]
pub(super) fn string_token(buf: &[u8], mut i: usize) -> Result<Option<(usize, bool)>, usize> {
    let mut escaped = false;
    loop {
        while let Some(word) = buf.get(i..i + 8) {
            let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let hits = special_bytes(w);
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        let Some(&c) = buf.get(i) else {
            return Ok(None);
        };
        match c {
            b'"' => return Ok(Some((i, escaped))),
            b'\\' => match buf.get(i + 1) {
                None => return Ok(None),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'u') => match buf.get(i + 2..i + 6) {
                    None => return Ok(None),
                    Some(hex) => match hex.iter().position(|h| !h.is_ascii_hexdigit()) {
                        Some(bad) => return Err(i + 2 + bad),
                        None => {
                            escaped = true;
                            i += 6;
                        }
                    },
                },
                Some(_) => return Err(i + 1),
            },
            c if c < 0x20 => return Err(i),
            _ => i += 1,
        }
    }
}

/// The text of a string's body (the bytes between its quotes) with its
/// two-character escapes (`\"`, `\\`, `\n`...) undone. `None` when the body
/// has a `\u` escape or is not a valid body (a raw quote or control
/// character, an unknown or cut escape, bytes that are not UTF-8): the
/// caller then reads it with serde_json, whose answer (and error) this
/// never replaces, so it returns only what serde_json would. Addresses with
/// string instance keys (`module.m["k"]`) escape their quotes, and most
/// plans have many.
pub(super) fn unescape(body: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    loop {
        // The run up to the next quote, backslash or control character:
        // eight bytes at a time, then the last few one by one.
        let run = i;
        while let Some(word) = body.get(i..i + 8) {
            let hits = special_bytes(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while body.get(i).is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20) {
            i += 1;
        }
        out.extend_from_slice(&body[run..i]);
        match body.get(i) {
            None => break,
            Some(b'\\') => {
                out.push(match body.get(i + 1)? {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    _ => return None,
                });
                i += 2;
            }
            // A quote ends a string and a control character must be escaped.
            Some(_) => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Marks (high bit of each byte) the bytes of `w` that are `"`, `\` or a
/// control character. Bits above the lowest mark may be spurious (borrows);
/// the lowest is exact, and only the lowest is used.
#[inline]
fn special_bytes(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// Marks the bytes of `w` that are `"`, `{`, `}`, `[` or `]` (lowest mark
/// exact, as in [`special_bytes`]). `[`/`{` and `]`/`}` differ only in bit
/// 0x20, so two comparisons on `w | 0x20` find all four brackets.
#[inline]
fn structural_bytes(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let folded = w | (ONES * 0x20);
    zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(folded ^ (ONES * u64::from(b'{')))
        | zero_byte(folded ^ (ONES * u64::from(b'}')))
}

/// JSON number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn valid_number(s: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a top-level object in chunks of `chunk` bytes, to exercise every
    /// chunk boundary; returns (key, captured value) pairs.
    fn read_all(input: &[u8], chunk: usize) -> Result<Vec<(String, String)>, ScanError> {
        let mut s = Scanner::new(Utf8Chunks::with_chunk_size(input, chunk));
        s.begin_document_object()?;
        let mut out = Vec::new();
        let mut first = true;
        while let Some(k) = s.next_key(first)? {
            first = false;
            let raw = s.capture_value()?;
            // As the plan reader does: captured bytes are parsed by serde.
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(raw) {
                return Err(ScanError::Unexpected { offset: 0, expected: "valid JSON (serde)", found: e.to_string() });
            }
            out.push((k, String::from_utf8(raw.to_vec()).unwrap()));
        }
        s.finish()?;
        Ok(out)
    }

    /// Reads a top-level object skipping (validating) every value.
    fn skip_all(input: &[u8], chunk: usize) -> Result<usize, ScanError> {
        let mut s = Scanner::new(Utf8Chunks::with_chunk_size(input, chunk));
        s.begin_document_object()?;
        let mut n = 0;
        while s.next_key(n == 0)?.is_some() {
            s.skip_value()?;
            n += 1;
        }
        s.finish()?;
        Ok(n)
    }

    #[test]
    fn extent_walk_finds_the_end_across_chunks_and_inside_strings() {
        let doc = br#"{"a": {"s": "}]\"{[", "l": [[], {}, "x"]}, "b": 1}"#;
        for chunk in [1, 2, 3, 5, 8, 9, 64] {
            let got = read_all(doc, chunk).unwrap();
            assert_eq!(got[0].1, r#"{"s": "}]\"{[", "l": [[], {}, "x"]}"#, "chunk {chunk}");
            assert_eq!(got[1], ("b".into(), "1".into()));
        }
    }

    #[test]
    fn structural_bytes_marks_brackets_and_quotes_only() {
        let w = u64::from_le_bytes(*b"ab{c]\"[}");
        assert_eq!(structural_bytes(w).trailing_zeros() / 8, 2);
        assert_eq!(structural_bytes(u64::from_le_bytes(*b"abcdefgh")), 0);
        assert_eq!(structural_bytes(u64::from_le_bytes(*b"\x7b\x5b\x5d\x7d\"\x22\x3b\x1b")) & 0x80, 0x80);
        assert_eq!(structural_bytes(u64::from_le_bytes(*b";{;;;;;;")).trailing_zeros() / 8, 1, "';' is not '{{'");
    }

    #[test]
    fn captures_values_exactly_at_every_chunk_size() {
        let doc = " { \"a\" : [1, -2.5e+3, \"x\\\"y\\\\u00e9\", {\"b\": [true, false, null, {}], \"c\": []}] , \"d\\n\": \"caf\\u00e9 \u{e9}\" } ".as_bytes();
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            let got = read_all(doc, chunk).unwrap();
            assert_eq!(got[0].0, "a");
            assert_eq!(got[0].1, r#"[1, -2.5e+3, "x\"y\\u00e9", {"b": [true, false, null, {}], "c": []}]"#);
            assert_eq!(got[1].0, "d\n");
            assert_eq!(got[1].1, "\"caf\\u00e9 \u{e9}\"");
        }
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        let samples = [
            r#"{"a":0}"#,
            r#"{"a":-0.0e-0}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":[[[[]]]]}"#,
            r#"{"a":{"":{}}}"#,
            r#"{}"#,
        ];
        for s in samples {
            assert!(serde_json::from_str::<serde_json::Value>(s).is_ok());
            read_all(s.as_bytes(), 3).unwrap_or_else(|e| panic!("{s}: {e}"));
            skip_all(s.as_bytes(), 3).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        let samples = [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a":1 "b":2}"#,
            r#"{a:1}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
        ];
        for s in samples {
            assert!(serde_json::from_str::<serde_json::Value>(s).is_err(), "{s}");
            for chunk in [1, 2, 3, 64] {
                assert!(read_all(s.as_bytes(), chunk).is_err(), "capture accepted {s}");
                assert!(skip_all(s.as_bytes(), chunk).is_err(), "skip accepted {s}");
            }
        }
    }

    #[test]
    fn truncation_is_reported_as_such() {
        let doc = br#"{"a": [1, 2, {"b": "long string"#;
        for cut in 1..doc.len() {
            match read_all(&doc[..cut], 4) {
                Err(ScanError::Truncated { .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
            match skip_all(&doc[..cut], 4) {
                Err(ScanError::Truncated { .. }) => {}
                other => panic!("skip, cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn empty_and_non_object_inputs() {
        assert!(matches!(read_all(b"", 8), Err(ScanError::Empty)));
        assert!(matches!(read_all(b" \n\t ", 8), Err(ScanError::Empty)));
        let e = read_all(b"[1,2]", 8).unwrap_err().to_string();
        assert!(e.contains("a plan is a JSON object"), "{e}");
        let e = read_all(b"Error: no plan", 8).unwrap_err().to_string();
        assert!(e.contains("found 'E'"), "{e}");
    }

    #[test]
    fn decoding_errors_pass_through() {
        assert!(matches!(
            read_all(b"{\"a\":\"\xff\"}", 1),
            Err(ScanError::Decode(DecodeError::InvalidUtf8 { offset: 6 }))
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(skip_all(deep.as_bytes(), 4096), Err(ScanError::TooDeep { .. })));
        // A captured value is refused by serde's own recursion limit.
        let e = read_all(deep.as_bytes(), 4096).unwrap_err().to_string();
        assert!(e.contains("recursion limit"), "{e}");
    }

    #[test]
    fn string_end_finds_quotes_escapes_and_controls() {
        let f = |s: &str| string_end(s.as_bytes(), 0);
        assert_eq!(f("abc\"rest"), Ok(Some(3)));
        assert_eq!(f("abcdefghijklmnop\"x"), Ok(Some(16)));
        assert_eq!(f("a\\\"bcdefghijklm\"x"), Ok(Some(15)));
        assert_eq!(f("\\u00e9abcdefgh\""), Ok(Some(14)));
        assert_eq!(f("caf\u{e9} \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\""), Ok(Some(16)));
        assert_eq!(f("no end here at all"), Ok(None));
        assert_eq!(f("cut escape \\"), Ok(None));
        assert_eq!(f("cut \\u00"), Ok(None));
        assert_eq!(f("tab\there\""), Err(3));
        assert_eq!(f("bad \\x"), Err(5));
        assert_eq!(f("bad \\u00g0"), Err(8));
    }

    #[test]
    fn string_token_says_whether_the_string_has_escapes() {
        let f = |s: &str| string_token(s.as_bytes(), 0);
        assert_eq!(f("plain words\"x"), Ok(Some((11, false))));
        assert_eq!(f("a\\\"b\""), Ok(Some((4, true))));
        assert_eq!(f("\\u00e9 and more text\""), Ok(Some((20, true))));
        assert_eq!(f("long plain text before an escape \\n here\""), Ok(Some((40, true))));
        assert_eq!(f("long plain text, then a quote\" \\n after it"), Ok(Some((29, false))));
    }

    #[test]
    fn whitespace_ends_at_the_first_other_byte_whatever_the_indentation() {
        for indent in 0..40 {
            for (tail, other) in [("x", 'x'), ("\t\r y", 'y'), ("", ' ')] {
                let text = format!(" \r\n{}{tail}", " ".repeat(indent));
                let end = skip_whitespace(text.as_bytes(), 0);
                match other {
                    ' ' => assert_eq!(end, text.len(), "indent {indent}"),
                    c => assert_eq!(text.as_bytes()[end], c as u8, "indent {indent}, {tail:?}"),
                }
                assert!(text.as_bytes()[..end].iter().all(|b| b" \t\r\n".contains(b)));
            }
        }
    }

    #[test]
    fn string_end_agrees_with_a_byte_by_byte_reading_at_every_offset() {
        // Eight bytes at a time must still find the first special byte
        // wherever it falls: in the first word, in a later one, at the end.
        fn naive(buf: &[u8], from: usize) -> Result<Option<usize>, usize> {
            let mut i = from;
            while let Some(&c) = buf.get(i) {
                match c {
                    b'"' => return Ok(Some(i)),
                    b'\\' => match buf.get(i + 1) {
                        None => return Ok(None),
                        Some(b'n') => i += 2,
                        Some(_) => return Err(i + 1),
                    },
                    c if c < 0x20 => return Err(i),
                    _ => i += 1,
                }
            }
            Ok(None)
        }
        for len in 0..80 {
            for (special, tail) in [(&b"\""[..], &b""[..]), (b"\n", b"\""), (b"\t", b""), (b"\\q", b"")] {
                for from in 0..3 {
                    let mut buf = vec![b'a'; from + len];
                    buf.extend_from_slice(special);
                    buf.extend_from_slice(b"bcdefghijklmnopqrstuvwxyz");
                    buf.extend_from_slice(tail);
                    assert_eq!(string_end(&buf, from), naive(&buf, from), "len {len}, {special:?}, from {from}");
                }
            }
            let plain = vec![b'x'; len];
            assert_eq!(string_end(&plain, 0), Ok(None), "unterminated, len {len}");
        }
    }

    #[test]
    fn unescape_agrees_with_serde_json_or_leaves_the_string_to_it() {
        for body in [
            r#"plain"#,
            r#"module.m[\"k\"].aws_iam_role.r"#,
            r#"\"\\\/\b\f\n\r\t"#,
            "caf\u{e9} \\\"quoted\\\" \\\\",
            r#"ends with \\"#,
            "\u{7f} is allowed, \u{e9}\\n\u{1F600}\\\"\u{e9}",
            r#"\\\""#,
            "",
        ] {
            let quoted = format!("\"{body}\"");
            let serde: String = serde_json::from_str(&quoted).unwrap();
            assert_eq!(unescape(body.as_bytes()).as_deref(), Some(serde.as_str()), "{body}");
        }
        // Left to serde_json: \u escapes (surrogates), and every body that
        // is not valid (a raw quote or control character, a bad or cut escape).
        for body in [r#"\u00e9"#, r#"a\ud83d\ude00"#, r#"\ud800"#, r#"bad \x"#, r#"cut \"#, "a\"b", "a\tb", "a\\n\u{1}"]
        {
            assert_eq!(unescape(body.as_bytes()), None, "{body}");
        }
    }

    #[test]
    fn unescape_finds_every_escape_and_stray_byte_wherever_it_falls_in_a_word() {
        for at in 0..20 {
            let around = |special: &str| format!("{}{special}{}", "m".repeat(at), "x".repeat(at % 7 + 3));
            for escape in [r#"\""#, r#"\\"#, r#"\n"#, r#"\/"#] {
                let body = around(escape);
                let serde: String = serde_json::from_str(&format!("\"{body}\"")).unwrap();
                assert_eq!(unescape(body.as_bytes()).as_deref(), Some(serde.as_str()), "{body}");
            }
            for stray in ["\"", "\t", "\u{1f}", r#"\q"#, r#"\u0041"#] {
                let body = around(stray);
                assert_eq!(unescape(body.as_bytes()), None, "{body:?}");
            }
            let cut = format!("{}\\", "m".repeat(at));
            assert_eq!(unescape(cut.as_bytes()), None, "{cut}");
        }
    }

    #[test]
    fn number_grammar() {
        for ok in ["0", "-0", "12", "1.5", "1e9", "1E+9", "-1.25e-3"] {
            assert!(valid_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".1", "1e", "1e+", "+1", "1-2", "1.2.3"] {
            assert!(!valid_number(bad.as_bytes()), "{bad}");
        }
    }
}
