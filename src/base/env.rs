//! The environment a command runs in, read once. Commands take an [`Env`]
//! instead of reading the process environment themselves, so tests give
//! them exactly the variables they need.

use std::collections::BTreeMap;

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl std::fmt::Debug for Env {
    // Values may be secrets: only the names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Required variables that are not set (or empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing environment variable(s): {}", .0.join(", "))]
pub struct MissingVars(pub Vec<String>);

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Env(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect())
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// A variable, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// Several variables that must all be set; names every missing one.
    pub fn require<const N: usize>(&self, names: [&str; N]) -> Result<[String; N], MissingVars> {
        let missing: Vec<String> = names.iter().filter(|n| self.get(n).is_none()).map(|n| (*n).to_owned()).collect();
        if !missing.is_empty() {
            return Err(MissingVars(missing));
        }
        Ok(names.map(|n| self.get(n).expect("checked").to_owned()))
    }

    /// Sets a variable (tests, and commands that derive values).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_names_every_missing_variable_and_debug_hides_values() {
        let env = Env::from_pairs([("A", "1"), ("B", " "), ("SECRET", "hunter2")]);
        assert_eq!(env.require(["A"]).unwrap(), ["1"]);
        assert_eq!(env.require(["A", "B", "C"]).unwrap_err().to_string(), "missing environment variable(s): B, C");
        assert!(!format!("{env:?}").contains("hunter2"));
    }
}
