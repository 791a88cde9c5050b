//! Version numbers as release tools write them: SemVer (`1.2.3`,
//! `1.2.3-rc.1+build`), with an optional `v`, and the common PEP 440 forms
//! (`1.2`, `1.2.3rc1`, `1.2.3.dev4`). Anything else is not a version, so a
//! bump to it is not verifiable.

use std::cmp::Ordering;

/// A parsed version. `1.2` equals `1.2.0`.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    release: Vec<u64>,
    /// Pre-release identifiers; empty for a release.
    pre: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    // Numeric identifiers sort before alphanumeric ones (SemVer §11).
    Num(u64),
    Text(String),
}

impl Version {
    /// Parses `text`; `None` when it is not a version.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        // Build metadata never orders versions.
        let t = t.split('+').next()?;
        let release_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (release, rest) = t.split_at(release_len);
        let release = release.strip_suffix('.').map_or(release, |r| if rest.is_empty() { "" } else { r });
        let numbers: Vec<u64> = release.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        if numbers.is_empty() || numbers.len() > 4 || release.split('.').any(|p| p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        let pre_text = rest.trim_start_matches(['-', '.', '_']);
        if !rest.is_empty() && pre_text.is_empty() {
            return None;
        }
        let mut pre = Vec::new();
        if !pre_text.is_empty() {
            // `rc1`, `rc.1`, `beta.2`, `dev4`: split letters from digits.
            for part in pre_text.split(['.', '-']) {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                let digits_at = part.find(|c: char| c.is_ascii_digit()).unwrap_or(part.len());
                let (letters, digits) = part.split_at(digits_at);
                if !letters.is_empty() {
                    if letters.eq_ignore_ascii_case("post") {
                        // A post-release orders after its release; not a pre-release.
                        return None;
                    }
                    pre.push(Ident::Text(letters.to_ascii_lowercase()));
                }
                if !digits.is_empty() {
                    pre.push(Ident::Num(digits.parse().ok().filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?));
                }
            }
        }
        Some(Version { release: numbers, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.release.len().max(other.release.len());
        for i in 0..n {
            let (a, b) = (self.release.get(i).copied().unwrap_or(0), other.release.get(i).copied().unwrap_or(0));
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            // A pre-release comes before its release.
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `new` is a version strictly above `old`.
pub(crate) fn is_upward(old: &str, new: &str) -> Result<(), String> {
    let o = Version::parse(old).ok_or_else(|| format!("{old:?} is not a version"))?;
    let n = Version::parse(new).ok_or_else(|| format!("{new:?} is not a version"))?;
    if n > o { Ok(()) } else { Err(format!("{old} -> {new} does not go up")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn semver_order() {
        let order = [
            "0.9.9",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert_eq!(v("1.2.3+build.5"), v("1.2.3"));
        assert_eq!(v("1.2"), v("1.2.0"));
    }

    #[test]
    fn pep440_pre_releases() {
        assert!(v("1.2.3rc1") < v("1.2.3"));
        assert!(v("1.2.3a1") < v("1.2.3b1"));
        assert!(v("1.2.3.dev4") < v("1.2.3"));
    }

    #[test]
    fn not_versions() {
        for s in
            ["", "x", "1..2", "1.2.3-", "01.2.3", "1.2.3.4.5", "1.2.3.post1", "1.2.3 ; rm -rf", "latest", "1.2.3-ä"]
        {
            assert!(Version::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn upward_only() {
        assert!(is_upward("1.2.3", "1.2.4").is_ok());
        assert!(is_upward("1.2.3", "1.2.3").is_err());
        assert!(is_upward("1.2.3", "1.2.2").is_err());
        assert!(is_upward("1.2.3", "1.3.0-rc.1").is_ok());
        assert!(is_upward("1.2.3", "banana").is_err());
    }
}
