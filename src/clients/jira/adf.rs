//! Atlassian Document Format: the rich-text JSON of Jira Cloud v3 comments
//! and descriptions. A small builder of the nodes changegate writes; every
//! document it builds is checked against Atlassian's ADF schema in the
//! tests.

use serde_json::{Value, json};

/// Inline content: text with optional marks.
#[derive(Debug, Clone)]
pub enum Inline {
    /// Plain text.
    Text(String),
    /// Bold text.
    Strong(String),
    /// Monospace text.
    Code(String),
    /// A link.
    Link {
        /// Shown text.
        text: String,
        /// Target.
        href: String,
    },
    /// A mention of a user (Jira notifies them), by accountId.
    Mention(String),
}

impl Inline {
    fn to_json(&self) -> Value {
        match self {
            Inline::Text(t) => json!({"type": "text", "text": nonempty(t)}),
            Inline::Strong(t) => json!({"type": "text", "text": nonempty(t), "marks": [{"type": "strong"}]}),
            Inline::Code(t) => json!({"type": "text", "text": nonempty(t), "marks": [{"type": "code"}]}),
            Inline::Link { text, href } => {
                json!({"type": "text", "text": nonempty(text), "marks": [{"type": "link", "attrs": {"href": href}}]})
            }
            Inline::Mention(id) => json!({"type": "mention", "attrs": {"id": id, "text": format!("@{id}")}}),
        }
    }
}

/// ADF text nodes must not be empty.
fn nonempty(t: &str) -> &str {
    if t.is_empty() { " " } else { t }
}

/// A document under construction.
#[derive(Debug, Default, Clone)]
pub struct Doc {
    content: Vec<Value>,
}

impl Doc {
    /// An empty document.
    pub fn new() -> Self {
        Doc::default()
    }

    /// A heading, level 1-6.
    pub fn heading(mut self, level: u8, text: &str) -> Self {
        self.content.push(json!({"type": "heading", "attrs": {"level": level.clamp(1, 6)}, "content": [Inline::Text(text.into()).to_json()]}));
        self
    }

    /// A paragraph of inline content.
    pub fn paragraph(mut self, inlines: Vec<Inline>) -> Self {
        self.content.push(paragraph(&inlines));
        self
    }

    /// A paragraph of plain text.
    pub fn text(self, text: &str) -> Self {
        self.paragraph(vec![Inline::Text(text.into())])
    }

    /// A bullet list, one item per entry.
    pub fn bullets(mut self, items: Vec<Vec<Inline>>) -> Self {
        if items.is_empty() {
            return self;
        }
        let items: Vec<Value> = items.iter().map(|i| json!({"type": "listItem", "content": [paragraph(i)]})).collect();
        self.content.push(json!({"type": "bulletList", "content": items}));
        self
    }

    /// A table with a header row.
    pub fn table(mut self, header: &[&str], rows: Vec<Vec<Vec<Inline>>>) -> Self {
        let head: Vec<Value> = header
            .iter()
            .map(|h| json!({"type": "tableHeader", "content": [paragraph(&[Inline::Strong((*h).to_owned())])]}))
            .collect();
        // A table of names and values has no header: no blank first row.
        let mut all = if header.iter().all(|h| h.is_empty()) {
            Vec::new()
        } else {
            vec![json!({"type": "tableRow", "content": head})]
        };
        for row in rows {
            let cells: Vec<Value> =
                row.iter().map(|c| json!({"type": "tableCell", "content": [paragraph(c)]})).collect();
            all.push(json!({"type": "tableRow", "content": cells}));
        }
        self.content.push(json!({"type": "table", "content": all}));
        self
    }

    /// A code block.
    pub fn code_block(mut self, text: &str) -> Self {
        self.content.push(json!({"type": "codeBlock", "content": [{"type": "text", "text": nonempty(text)}]}));
        self
    }

    /// The ADF JSON.
    pub fn build(self) -> Value {
        let content = if self.content.is_empty() { vec![paragraph(&[])] } else { self.content };
        json!({"type": "doc", "version": 1, "content": content})
    }
}

fn paragraph(inlines: &[Inline]) -> Value {
    let content: Vec<Value> = inlines.iter().map(Inline::to_json).collect();
    json!({"type": "paragraph", "content": content})
}

/// The plain text of an ADF document (for reading comments back: markers).
pub fn plain_text(doc: &Value) -> String {
    let mut out = String::new();
    fn walk(v: &Value, out: &mut String) {
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push_str(t);
        }
        if v.get("type").and_then(Value::as_str) == Some("mention")
            && let Some(t) = v.get("attrs").and_then(|a| a.get("text")).and_then(Value::as_str)
        {
            out.push_str(t);
        }
        if let Some(children) = v.get("content").and_then(Value::as_array) {
            for c in children {
                walk(c, out);
            }
            if matches!(v.get("type").and_then(Value::as_str), Some("paragraph" | "heading" | "listItem" | "tableRow"))
            {
                out.push('\n');
            }
        }
    }
    match doc {
        Value::String(s) => s.clone(),
        other => {
            walk(other, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_document_and_reads_its_text_back() {
        let d = Doc::new()
            .heading(3, "Change request")
            .paragraph(vec![
                Inline::Text("Build ".into()),
                Inline::Link { text: "#42".into(), href: "https://x".into() },
            ])
            .bullets(vec![vec![Inline::Code("justification".into())]])
            .table(
                &["Field", "Value"],
                vec![vec![vec![Inline::Text("branch".into())], vec![Inline::Code("main".into())]]],
            )
            .build();
        assert_eq!(d["type"], "doc");
        assert_eq!(d["version"], 1);
        let text = plain_text(&d);
        assert!(text.contains("Change request\nBuild #42\njustification\n"), "{text}");
        assert!(text.contains("Field"), "{text}");
    }

    #[test]
    fn a_table_of_names_and_values_has_no_blank_header_row() {
        let rows = vec![vec![vec![Inline::Text("Outcome".into())], vec![Inline::Text("success".into())]]];
        let d = Doc::new().table(&["", ""], rows.clone()).build();
        let table = &d["content"][0]["content"];
        assert_eq!(table.as_array().unwrap().len(), 1);
        assert_eq!(table[0]["content"][0]["type"], "tableCell");
        let d = Doc::new().table(&["Commit", "Verdict"], rows).build();
        assert_eq!(d["content"][0]["content"][0]["content"][0]["type"], "tableHeader");
    }

    #[test]
    fn empty_text_is_never_sent() {
        let d = Doc::new().paragraph(vec![Inline::Text(String::new())]).build();
        assert_eq!(d["content"][0]["content"][0]["text"], " ");
        assert_eq!(Doc::new().build()["content"][0]["type"], "paragraph");
    }
}
