//! What the stand-ins exchange: a request as every stand-in service reads it,
//! and the response it answers with.

use serde_json::Value;

/// A request, as the stand-ins see it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub(crate) method: String,
    /// Path without the query.
    pub(crate) path: String,
    /// Query parameters, decoded.
    pub(crate) query: Vec<(String, String)>,
    /// Headers, as sent.
    pub(crate) headers: Vec<(String, String)>,
    /// Body.
    pub(crate) body: Vec<u8>,
}

impl Req {
    /// A header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter (decoded).
    pub fn queries(&self, name: &str) -> Vec<&str> {
        self.query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A query parameter (decoded).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status.
    pub(crate) status: u16,
    /// Headers.
    pub(crate) headers: Vec<(String, String)>,
    /// Body.
    pub(crate) body: Vec<u8>,
}

impl Resp {
    /// A JSON response.
    pub fn json(status: u16, v: Value) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }

    /// A response without a body. The official descriptions declare
    /// `application/json` even for these, so the header is sent.
    pub fn empty(status: u16) -> Resp {
        Resp { status, headers: vec![("Content-Type".into(), "application/json".into())], body: Vec::new() }
    }
}
