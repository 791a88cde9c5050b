//! Writes what setup found or made into a `changegate.toml`, keeping the
//! file's comments and layout: only the keys setup owns are set, and the
//! result must still be a valid configuration before it replaces the file.

use std::collections::BTreeMap;
use std::path::Path;

use toml_edit::{DocumentMut, InlineTable, Item, Table, value};

use crate::config::Config;
use crate::config::jira::{FieldType, TicketField};

/// An error writing the configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{}: not valid TOML, left unchanged: {message}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The result would not be a valid configuration.
    #[error("{}: the updated configuration would not be valid, left unchanged: {message}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

/// What the Jira setup writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JiraIds {
    /// `[jira] project`.
    pub(crate) project: String,
    /// `[jira] issue_type`.
    pub(crate) issue_type: String,
    /// `[jira.fields]`.
    pub(crate) fields: BTreeMap<TicketField, (String, FieldType)>,
    /// `[jira.approvers]` entries to add.
    pub(crate) approvers: BTreeMap<String, u64>,
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "text",
        FieldType::Textarea => "textarea",
        FieldType::Number => "number",
        FieldType::Select => "select",
        FieldType::Url => "url",
    }
}

fn table<'a>(doc: &'a mut Table, key: &str) -> &'a mut Table {
    let item = doc.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("made a table above")
}

/// Updates `text` with `ids`; returns the new text and the keys changed.
pub(crate) fn update(text: &str, ids: &JiraIds) -> Result<(String, Vec<String>), String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let mut changed = Vec::new();
    let jira = table(doc.as_table_mut(), "jira");
    for (key, v) in [("project", &ids.project), ("issue_type", &ids.issue_type)] {
        if jira.get(key).and_then(Item::as_str) != Some(v.as_str()) {
            jira[key] = value(v.as_str());
            changed.push(format!("[jira] {key}"));
        }
    }
    let fields = table(jira, "fields");
    for (field, (id, kind)) in &ids.fields {
        let current = fields.get(field.name());
        let same = match current {
            Some(Item::Value(toml_edit::Value::String(s))) => s.value() == id && *kind == FieldType::Text,
            Some(i) => {
                i.get("id").and_then(Item::as_str) == Some(id.as_str())
                    && i.get("type").and_then(Item::as_str).unwrap_or("text") == type_name(*kind)
            }
            None => false,
        };
        if !same {
            let mut t = InlineTable::new();
            t.insert("id", id.as_str().into());
            t.insert("type", type_name(*kind).into());
            fields[field.name()] = value(t);
            changed.push(format!("[jira.fields] {}", field.name()));
        }
    }
    if !ids.approvers.is_empty() {
        let approvers = table(jira, "approvers");
        for (account, gh) in &ids.approvers {
            if approvers.get(account).and_then(Item::as_integer) != Some(*gh as i64) {
                approvers[account.as_str()] = value(*gh as i64);
                changed.push(format!("[jira.approvers] {account}"));
            }
        }
    }
    Ok((doc.to_string(), changed))
}

/// Writes `ids` into the configuration at `path` (made when missing), after
/// checking the result is a valid configuration. Returns the keys changed.
pub(crate) fn write(path: &Path, ids: &JiraIds) -> Result<Vec<String>, WriteError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "# changegate configuration; the [jira] ids were written by `changegate setup jira`.\n".to_owned()
        }
        Err(source) => return Err(WriteError::Io { path: path.to_owned(), source }),
    };
    let (new, changed) = update(&text, ids).map_err(|message| WriteError::Parse { path: path.to_owned(), message })?;
    if changed.is_empty() {
        return Ok(changed);
    }
    Config::parse(&new, &path.display().to_string(), crate::base::time::Date::today_utc())
        .map_err(|e| WriteError::Invalid { path: path.to_owned(), message: e.to_string() })?;
    // Written beside and renamed, so a reader never sees half a file.
    let tmp = path.with_extension("toml.changegate-tmp");
    std::fs::write(&tmp, new).map_err(|source| WriteError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| WriteError::Io { path: path.to_owned(), source })?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> JiraIds {
        JiraIds {
            project: "PRODCM".into(),
            issue_type: "Change".into(),
            fields: [
                (TicketField::Environment, ("customfield_1".to_owned(), FieldType::Text)),
                (TicketField::ChangeType, ("customfield_2".to_owned(), FieldType::Select)),
            ]
            .into_iter()
            .collect(),
            approvers: BTreeMap::new(),
        }
    }

    #[test]
    fn comments_and_other_keys_survive_and_a_second_write_changes_nothing() {
        let text = "# our gate\n[jira]\nproject = \"PRODCM\" # the change project\nlabels = [\"x\"]\n\n[jira.fields]\nenvironment = \"customfield_1\"\n\n[emergency]\ngroup = \"bg\"\n";
        let (new, changed) = update(text, &ids()).unwrap();
        assert_eq!(changed, ["[jira] issue_type", "[jira.fields] change_type"]);
        assert!(
            new.contains("# our gate") && new.contains("# the change project") && new.contains("[emergency]"),
            "{new}"
        );
        assert!(new.contains("change_type = { id = \"customfield_2\", type = \"select\" }"), "{new}");
        let (again, changed) = update(&new, &ids()).unwrap();
        assert!(changed.is_empty());
        assert_eq!(again, new);
    }

    #[test]
    fn a_file_that_is_not_toml_is_left_alone() {
        assert!(update("[jira\n", &ids()).is_err());
    }
}
