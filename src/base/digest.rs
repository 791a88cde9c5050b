//! SHA-256 digests of the bytes a decision was made on.
//!
//! The plan-check digest proves later that the plan applied is the plan that
//! was reviewed: it is computed over the exact input bytes (before any
//! decoding), while the plan is being read, so the file is read once.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, shown as `sha256:<64 hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// The digest of a whole file, read in chunks.
    pub fn of_file(path: &Path) -> io::Result<Self> {
        let mut digest = StreamDigest::default();
        io::copy(&mut File::open(path)?, &mut digest)?;
        Ok(digest.finish().0)
    }

    /// Lower-case hex without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text was not `sha256:` followed by 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a digest of the form sha256:<64 hex digits>: {0:?}")]
pub struct DigestParseError(pub String);

impl FromStr for Sha256Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DigestParseError(s.chars().take(80).collect());
        let hex = s.strip_prefix("sha256:").ok_or_else(err)?.as_bytes();
        if hex.len() != 64 {
            return Err(err());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0]).ok_or_else(err)? << 4) | nibble(pair[1]).ok_or_else(err)?;
        }
        Ok(Sha256Digest(out))
    }
}

impl serde::Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A SHA-256 computed piece by piece, with the number of bytes it covers:
/// the plan reader hashes each chunk as it reads it.
#[derive(Debug, Default)]
pub(crate) struct StreamDigest {
    hasher: Sha256,
    len: u64,
}

impl StreamDigest {
    /// Adds the next bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// The digest and length of everything added.
    pub(crate) fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.len)
    }
}

impl io::Write for StreamDigest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// JSON with object keys sorted at every level and no whitespace.
pub(crate) fn canonical_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: std::collections::BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_known_value() {
        assert_eq!(
            Sha256Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn stream_digest_equals_one_shot_digest() {
        let data = b"{\"format_version\":\"1.2\"}".repeat(1000);
        let mut r = StreamDigest::default();
        for piece in data.chunks(7) {
            r.update(piece);
        }
        let (d, len) = r.finish();
        assert_eq!(d, Sha256Digest::of(&data));
        assert_eq!(len, data.len() as u64);
    }

    #[test]
    fn digest_round_trips_through_text() {
        let d = Sha256Digest::of(b"plan");
        assert_eq!(d.to_string().parse::<Sha256Digest>().unwrap(), d);
        assert!("sha256:abc".parse::<Sha256Digest>().is_err());
        assert!("md5:".parse::<Sha256Digest>().is_err());
        assert!(format!("sha256:{}", "G".repeat(64)).parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}});
        assert_eq!(super::canonical_json(&v), r#"{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#);
    }
}
