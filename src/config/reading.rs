//! Reading `changegate.toml` into its raw form with every error at once.
//!
//! serde stops at the first unknown key or wrong type. So the file is
//! parsed once into a spanned document (every syntax error is listed, and
//! nothing more is read from a file that does not parse), then deserialized
//! again and again: each error is recorded with its line, the entry it points
//! at (an unknown key, a value of the wrong type) is taken out of the
//! document, and the rest is read again, until it reads cleanly. Unknown
//! keys get the nearest known key as their fix.

use serde::Deserialize;
use toml::de::{DeArray, DeTable, DeValue};

use super::problems::Problems;

/// Most problems listed for one file (a bound on the loop, never a hang).
const MAX_PROBLEMS: usize = 100;

/// One step of the way to an entry of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `jira.fields.commit`, `windows[1].days`.
fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{}]", i + 1)),
        }
    }
    s
}

/// Reads `text` into `T`, recording every problem; `None` when nothing
/// usable could be read (a syntax error, or an error that points nowhere).
/// When problems were found but the rest read cleanly, the rest is
/// returned, so later checks can list theirs too.
pub(super) fn read_all<T: for<'de> Deserialize<'de>>(text: &str, problems: &mut Problems<'_>) -> Option<T> {
    let (mut doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax.iter().take(MAX_PROBLEMS) {
            // What the error points at, when it is short (`duplicate key: `jira``).
            let at = e
                .span()
                .and_then(|s| text.get(s))
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.chars().count() <= 40 && !t.contains('\n'));
            let message = e.message().trim();
            match at {
                Some(t) if !message.contains(t) => problems.error(e.span(), &format!("{message}: `{t}`")),
                _ => problems.error(e.span(), message),
            }
        }
        return None;
    }
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..MAX_PROBLEMS {
        let e = match T::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        let message = e.message().trim().to_owned();
        let Some(span) = e.span() else {
            problems.error(None, &message);
            return None;
        };
        let Some(path) = locate(doc.get_ref(), &span) else {
            problems.error(Some(span), &message);
            return None;
        };
        // A field reported missing only because an entry of the wrong type
        // was taken out is not a second problem.
        let consequence = missing_field(&message).is_some_and(|f| removed.iter().any(|r| r == f));
        if !consequence {
            problems.error(Some(span), &explain(&path, &message));
        }
        if let Some(Seg::Key(k)) = path.last() {
            removed.push(k.clone());
        }
        if !remove(doc.get_mut(), &path) {
            return None;
        }
    }
    problems.error(None, &format!("more than {MAX_PROBLEMS} problems: fix these and run again"));
    None
}

/// The message with where it is and, for an unknown key, the nearest known one.
fn explain(path: &[Seg], message: &str) -> String {
    let at = dotted(path);
    match unknown_field(message) {
        Some((name, known)) => {
            let fix = match nearest(name, &known) {
                Some(k) => format!("did you mean `{k}`?"),
                None => "remove it, or check which section it belongs in".to_owned(),
            };
            format!("{at}: {message}: {fix}")
        }
        None => format!("{at}: {message}"),
    }
}

/// `unknown field `x`, expected one of `a`, `b`` -> (`x`, [`a`, `b`]).
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let known = rest.split('`').skip(1).step_by(2).collect();
    Some((name, known))
}

/// `missing field `x`` -> `x`.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The known key closest to `name`, when it is close enough to be a typo.
fn nearest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let name = name.to_lowercase();
    known
        .iter()
        .map(|k| (distance(&name, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.chars().count().max(name.chars().count()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The deepest entry whose key or value has exactly `span`.
fn locate(table: &DeTable<'_>, span: &std::ops::Range<usize>) -> Option<Vec<Seg>> {
    for (k, v) in table.iter() {
        if let Some(mut inner) = locate_value(v.get_ref(), span) {
            inner.insert(0, Seg::Key(k.get_ref().to_string()));
            return Some(inner);
        }
        if k.span() == *span || v.span() == *span {
            return Some(vec![Seg::Key(k.get_ref().to_string())]);
        }
    }
    None
}

fn locate_value(v: &DeValue<'_>, span: &std::ops::Range<usize>) -> Option<Vec<Seg>> {
    match v {
        DeValue::Table(t) => locate(t, span),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                if let Some(mut inner) = locate_value(item.get_ref(), span) {
                    inner.insert(0, Seg::Index(i));
                    return Some(inner);
                }
                if item.span() == *span {
                    return Some(vec![Seg::Index(i)]);
                }
            }
            None
        }
        _ => None,
    }
}

/// Takes the entry at `path` out of the document; `false` when it is not there.
fn remove<'i>(table: &mut DeTable<'i>, path: &[Seg]) -> bool {
    match path {
        [Seg::Key(k)] => table.remove(k.as_str()).is_some(),
        [Seg::Key(k), rest @ ..] => table.get_mut(k.as_str()).is_some_and(|v| remove_in(v.get_mut(), rest)),
        _ => false,
    }
}

fn remove_in<'i>(v: &mut DeValue<'i>, path: &[Seg]) -> bool {
    match (v, path) {
        (DeValue::Table(t), _) => remove(t, path),
        (DeValue::Array(a), [Seg::Index(i)]) => {
            if *i >= a.len() {
                return false;
            }
            let kept: DeArray<'i> = std::mem::replace(a, DeArray::new())
                .into_iter()
                .enumerate()
                .filter(|(j, _)| j != i)
                .map(|(_, x)| x)
                .collect();
            *a = kept;
            true
        }
        (DeValue::Array(a), [Seg::Index(i), rest @ ..]) => a.get_mut(*i).is_some_and(|x| remove_in(x.get_mut(), rest)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_known_key_is_suggested_only_when_close() {
        assert_eq!(nearest("plann", &["plan", "jira", "scan"]), Some("plan"));
        assert_eq!(nearest("bot_acount_ids", &["bot_account_ids", "approvers"]), Some("bot_account_ids"));
        assert_eq!(nearest("colour", &["plan", "jira"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn serde_messages_are_understood() {
        let m = "unknown field `groupp`, expected one of `group`, `retrospective_within`";
        assert_eq!(unknown_field(m), Some(("groupp", vec!["group", "retrospective_within"])));
        assert_eq!(unknown_field("unknown field `x`, expected `group`"), Some(("x", vec!["group"])));
        assert_eq!(missing_field("missing field `days`"), Some("days"));
        assert_eq!(dotted(&[Seg::Key("windows".into()), Seg::Index(1), Seg::Key("days".into())]), "windows[2].days");
    }
}
