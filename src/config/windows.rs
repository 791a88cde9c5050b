//! `[[windows]]` and `[[freezes]]`: when deploys may go out, per
//! environment.
//!
//! ```toml
//! [[windows]]                        # recurring; an environment with windows deploys only inside one
//! environments = ["production"]      # default: every controlled environment
//! days = ["mon", "tue", "wed", "thu"]
//! from = "09:00"                     # local time of `timezone`
//! until = "16:00"                    # exclusive; earlier than `from` runs past midnight
//! timezone = "Europe/Berlin"         # any IANA name (the database is compiled in), or a POSIX TZ rule
//!
//! [[freezes]]                        # one-off; no deploy inside, whatever the windows say
//! environments = ["production"]
//! from = 2026-12-21T00:00:00+01:00   # TOML date-times with an offset, or RFC 3339 strings
//! until = 2027-01-04T00:00:00+01:00  # exclusive
//! reason = "Year-end freeze"
//! ```
//!
//! Outside every window or inside a freeze, the analysis asks for a person
//! and `validate` needs one approver more than usual (a second approver
//! overrides); the bot never approves such a deploy on its own.

use serde::Deserialize;
use toml::Spanned;

use super::problems::Problems;
use crate::base::time::Timestamp;
use crate::base::tz::Zone;

/// A recurring window as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    #[serde(default)]
    environments: Vec<String>,
    days: Spanned<Vec<String>>,
    from: Spanned<String>,
    until: Spanned<String>,
    timezone: Spanned<String>,
}

/// A freeze as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFreeze {
    #[serde(default)]
    environments: Vec<String>,
    from: Spanned<toml::Value>,
    until: Spanned<toml::Value>,
    reason: String,
}

/// A recurring window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    /// The environments it governs (empty: every controlled one).
    pub(crate) environments: Vec<String>,
    /// Weekdays, 0 = Monday.
    pub(crate) days: Vec<u8>,
    /// Opens at (seconds after local midnight).
    pub(crate) from: i64,
    /// Closes at (exclusive; less than `from`: the next day).
    pub(crate) until: i64,
    /// The zone of `from` and `until`.
    pub(crate) zone: Zone,
    /// As written, for messages: `mon-thu 09:00-16:00 Europe/Berlin`.
    pub(crate) shown: String,
}

/// A freeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Freeze {
    /// The environments it governs (empty: every controlled one).
    pub(crate) environments: Vec<String>,
    /// From (inclusive).
    pub(crate) from: Timestamp,
    /// Until (exclusive).
    pub(crate) until: Timestamp,
    /// Why.
    pub(crate) reason: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn clock(s: &Spanned<String>, p: &mut Problems<'_>) -> i64 {
    let t = s.get_ref().trim();
    let parsed = t.split_once(':').and_then(|(h, m)| {
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 24 * 60 && m.to_string().len() <= 2)
            .then_some(h * 3600 + m * 60)
    });
    parsed.unwrap_or_else(|| {
        p.at(s.span(), format!("not a time of day: {t:?} (write 09:00)"));
        0
    })
}

fn instant(v: &Spanned<toml::Value>, p: &mut Problems<'_>) -> Timestamp {
    let text = match v.get_ref() {
        toml::Value::Datetime(d) if d.offset.is_some() => Some(d.to_string()),
        toml::Value::String(s) => Some(s.clone()),
        _ => None,
    };
    text.and_then(|t| Timestamp::parse(&t)).unwrap_or_else(|| {
        p.at(v.span(), "not a date-time with an offset (write 2026-12-21T00:00:00+01:00)");
        Timestamp(0)
    })
}

/// A window in its written form (the signed policy carries windows so).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowParts {
    /// Environments it governs (empty: every controlled one).
    pub(crate) environments: Vec<String>,
    /// `mon` ... `sun`.
    pub(crate) days: Vec<String>,
    /// `HH:MM`.
    pub(crate) from: String,
    /// `HH:MM`.
    pub(crate) until: String,
    /// IANA name or POSIX TZ rule.
    pub(crate) timezone: String,
}

fn hhmm(secs: i64) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

impl Window {
    /// The written form.
    pub(crate) fn parts(&self) -> WindowParts {
        WindowParts {
            environments: self.environments.clone(),
            days: self.days.iter().map(|d| DAYS[usize::from(*d) % 7].to_owned()).collect(),
            from: hhmm(self.from),
            until: hhmm(self.until),
            timezone: self.zone.name.clone(),
        }
    }

    /// From the written form, validated as `changegate.toml` is.
    pub(crate) fn from_parts(w: &WindowParts) -> Result<Window, String> {
        let toml_text = format!(
            "[[windows]]\nenvironments = {}\ndays = {}\nfrom = {}\nuntil = {}\ntimezone = {}\n",
            toml_list(&w.environments),
            toml_list(&w.days),
            toml_string(&w.from),
            toml_string(&w.until),
            toml_string(&w.timezone)
        );
        let raw: RawWindows = toml::from_str(&toml_text).map_err(|e| e.message().to_owned())?;
        let mut p = Problems::new(&toml_text);
        let window = raw.windows.into_iter().next().and_then(|r| r.validate(&mut p));
        match (window, p.list.first()) {
            (Some(w), None) => Ok(w),
            (_, Some(problem)) => Err(problem.message.clone()),
            (None, None) => Err("not a window".into()),
        }
    }
}

/// A freeze in its written form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FreezeParts {
    /// Environments it governs (empty: every controlled one).
    pub(crate) environments: Vec<String>,
    /// RFC 3339.
    pub(crate) from: String,
    /// RFC 3339 (exclusive).
    pub(crate) until: String,
    /// Why.
    pub(crate) reason: String,
}

impl Freeze {
    /// The written form.
    pub(crate) fn parts(&self) -> FreezeParts {
        FreezeParts {
            environments: self.environments.clone(),
            from: self.from.to_rfc3339(),
            until: self.until.to_rfc3339(),
            reason: self.reason.clone(),
        }
    }

    /// From the written form.
    pub(crate) fn from_parts(f: &FreezeParts) -> Result<Freeze, String> {
        let from = Timestamp::parse(&f.from).ok_or_else(|| format!("not a date-time: {:?}", f.from))?;
        let until = Timestamp::parse(&f.until).ok_or_else(|| format!("not a date-time: {:?}", f.until))?;
        if until.0 <= from.0 || f.reason.trim().is_empty() {
            return Err("a freeze ends after it starts and has a reason".into());
        }
        Ok(Freeze { environments: f.environments.clone(), from, until, reason: f.reason.clone() })
    }
}

#[derive(Debug, Deserialize)]
struct RawWindows {
    windows: Vec<RawWindow>,
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| toml_string(i)).collect::<Vec<_>>().join(", "))
}

impl RawWindow {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> Option<Window> {
        let mut days = Vec::new();
        for d in self.days.get_ref() {
            match DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim())) {
                Some(i) => days.push(i as u8),
                None => p.at(self.days.span(), format!("not a weekday: {d:?} (write mon, tue, ... sun)")),
            }
        }
        if days.is_empty() {
            p.at(self.days.span(), "a window needs at least one day");
        }
        let from = clock(&self.from, p);
        let until = clock(&self.until, p);
        if from == until {
            p.at(self.until.span(), "a window cannot be empty: `until` equals `from`");
        }
        let zone = match Zone::parse(self.timezone.get_ref()) {
            Ok(z) => z,
            Err(e) => {
                p.at(self.timezone.span(), e);
                return None;
            }
        };
        let shown = format!(
            "{} {}-{} {}",
            days.iter().map(|d| DAYS[*d as usize]).collect::<Vec<_>>().join(","),
            self.from.get_ref().trim(),
            self.until.get_ref().trim(),
            zone.name
        );
        Some(Window { environments: self.environments, days, from, until, zone, shown })
    }
}

impl RawFreeze {
    pub(super) fn validate(self, p: &mut Problems<'_>) -> Freeze {
        let from = instant(&self.from, p);
        let until = instant(&self.until, p);
        if until.0 <= from.0 {
            p.at(self.until.span(), "a freeze must end after it starts");
        }
        if self.reason.trim().is_empty() {
            p.at(self.from.span(), "a freeze needs a reason (it is shown on every ticket it holds)");
        }
        Freeze { environments: self.environments, from, until, reason: self.reason.trim().to_owned() }
    }
}

/// Whether a deploy to an environment may go out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowCheck {
    /// Inside a window (or no windows for it), not frozen.
    Open,
    /// Outside every window of the environment.
    Outside(String),
    /// Inside a freeze.
    Frozen(String),
}

fn governs(list: &[String], env: &str) -> bool {
    let env = super::problems::env_key(env);
    list.is_empty() || list.iter().any(|e| super::problems::env_key(e) == env)
}

/// Checks `env` at `now`. Pure.
pub(crate) fn check(windows: &[Window], freezes: &[Freeze], env: &str, now: Timestamp) -> WindowCheck {
    if let Some(f) = freezes.iter().find(|f| governs(&f.environments, env) && f.from.0 <= now.0 && now.0 < f.until.0) {
        return WindowCheck::Frozen(format!("{} freeze until {}: {}", env, f.until, f.reason));
    }
    let mine: Vec<&Window> = windows.iter().filter(|w| governs(&w.environments, env)).collect();
    if mine.is_empty() {
        return WindowCheck::Open;
    }
    let inside = |w: &Window| {
        let (_, weekday, secs) = w.zone.local(now);
        if w.from < w.until {
            w.days.contains(&weekday) && secs >= w.from && secs < w.until
        } else {
            // Past midnight: the evening of a listed day, or the morning after one.
            (w.days.contains(&weekday) && secs >= w.from) || (w.days.contains(&((weekday + 6) % 7)) && secs < w.until)
        }
    };
    if mine.iter().any(|w| inside(w)) {
        return WindowCheck::Open;
    }
    WindowCheck::Outside(format!(
        "{now} is outside the change windows of {env}: {}",
        mine.iter().map(|w| w.shown.as_str()).collect::<Vec<_>>().join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Date;
    use crate::config::Config;

    fn config(text: &str) -> Config {
        Config::parse(text, "t.toml", Date::new(2026, 11, 27).unwrap()).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    const BERLIN: &str = "[[windows]]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\"]\nfrom = \"09:00\"\nuntil = \"16:00\"\ntimezone = \"Europe/Berlin\"\n";

    #[test]
    fn inside_and_outside_a_weekday_window_in_local_time() {
        let c = config(BERLIN);
        let ck = |t: &str| check(&c.windows, &c.freezes, "production", at(t));
        // Thursday 2026-11-26: 09:00 in Berlin is 08:00 UTC (winter).
        assert!(matches!(ck("2026-11-26T07:59:00Z"), WindowCheck::Outside(_)));
        assert_eq!(ck("2026-11-26T08:00:00Z"), WindowCheck::Open);
        assert_eq!(ck("2026-11-26T14:59:59Z"), WindowCheck::Open);
        assert!(matches!(ck("2026-11-26T15:00:00Z"), WindowCheck::Outside(_)));
        // Summer: 09:00 is 07:00 UTC.
        assert_eq!(ck("2026-06-25T07:00:00Z"), WindowCheck::Open);
        // Friday: no window.
        let WindowCheck::Outside(why) = ck("2026-11-27T10:00:00Z") else { panic!() };
        assert!(
            why.contains("outside the change windows of production: mon,tue,wed,thu 09:00-16:00 Europe/Berlin"),
            "{why}"
        );
        // Windows without environments govern every environment.
        assert!(matches!(
            check(&c.windows, &c.freezes, "staging", at("2026-11-27T10:00:00Z")),
            WindowCheck::Outside(_)
        ));
    }

    #[test]
    fn windows_in_any_iana_zone_follow_its_daylight_saving() {
        // Asia/Manila (UTC+8 all year), which the hand-kept table of earlier
        // versions did not know.
        let c =
            config("[[windows]]\ndays = [\"mon\"]\nfrom = \"09:00\"\nuntil = \"17:00\"\ntimezone = \"Asia/Manila\"\n");
        let ck = |t: &str| check(&c.windows, &c.freezes, "production", at(t));
        // Monday 2026-11-30 09:00 in Manila is 01:00 UTC.
        assert!(matches!(ck("2026-11-30T00:59:59Z"), WindowCheck::Outside(_)));
        assert_eq!(ck("2026-11-30T01:00:00Z"), WindowCheck::Open);
        assert_eq!(ck("2026-11-30T08:59:59Z"), WindowCheck::Open);
        assert!(matches!(ck("2026-11-30T09:00:00Z"), WindowCheck::Outside(_)));

        // New York: a Sunday window opens at 14:00 UTC before daylight
        // saving starts (2026-03-08) and at 13:00 UTC from that day on.
        let c = config(
            "[[windows]]\ndays = [\"sun\"]\nfrom = \"09:00\"\nuntil = \"10:00\"\ntimezone = \"America/New_York\"\n",
        );
        let ck = |t: &str| check(&c.windows, &c.freezes, "production", at(t));
        assert!(matches!(ck("2026-03-01T13:30:00Z"), WindowCheck::Outside(_)));
        assert_eq!(ck("2026-03-01T14:30:00Z"), WindowCheck::Open);
        assert_eq!(ck("2026-03-08T13:30:00Z"), WindowCheck::Open);
        assert!(matches!(ck("2026-03-08T14:30:00Z"), WindowCheck::Outside(_)));
    }

    #[test]
    fn a_window_in_the_skipped_or_repeated_hour_follows_the_wall_clock() {
        // Berlin's clocks jump from 02:00 to 03:00 on 2026-03-29 and run
        // 02:00-03:00 twice on 2026-10-25: a Sunday 02:00-03:00 window never
        // opens on the first day and is open for both hours on the second.
        let c = config(
            "[[windows]]\ndays = [\"sun\"]\nfrom = \"02:00\"\nuntil = \"03:00\"\ntimezone = \"Europe/Berlin\"\n",
        );
        let ck = |t: &str| check(&c.windows, &c.freezes, "production", at(t));
        for t in ["2026-03-29T00:30:00Z", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"] {
            assert!(matches!(ck(t), WindowCheck::Outside(_)), "{t}");
        }
        assert!(matches!(ck("2026-10-24T23:59:59Z"), WindowCheck::Outside(_)));
        assert_eq!(ck("2026-10-25T00:00:00Z"), WindowCheck::Open, "02:00 summer time");
        assert_eq!(ck("2026-10-25T01:59:59Z"), WindowCheck::Open, "02:59:59 winter time");
        assert!(matches!(ck("2026-10-25T02:00:00Z"), WindowCheck::Outside(_)));
        // A normal Sunday: one hour.
        assert_eq!(ck("2026-11-01T01:30:00Z"), WindowCheck::Open);
        assert!(matches!(ck("2026-11-01T02:00:00Z"), WindowCheck::Outside(_)));
    }

    #[test]
    fn a_window_past_midnight_and_one_per_environment() {
        let c = config(
            "[[windows]]\nenvironments = [\"production\"]\ndays = [\"sat\"]\nfrom = \"22:00\"\nuntil = \"02:00\"\ntimezone = \"UTC\"\n",
        );
        let ck = |t: &str| check(&c.windows, &c.freezes, "production", at(t));
        assert_eq!(ck("2026-11-28T23:00:00Z"), WindowCheck::Open, "Saturday night");
        assert_eq!(ck("2026-11-29T01:30:00Z"), WindowCheck::Open, "Sunday morning, the same window");
        assert!(matches!(ck("2026-11-29T22:30:00Z"), WindowCheck::Outside(_)), "Sunday night is not listed");
        // Another environment has no windows.
        assert_eq!(check(&c.windows, &c.freezes, "staging", at("2026-11-29T22:30:00Z")), WindowCheck::Open);
    }

    #[test]
    fn a_freeze_wins_over_the_windows() {
        let c = config(&format!(
            "{BERLIN}[[freezes]]\nfrom = 2026-12-21T00:00:00+01:00\nuntil = \"2027-01-04T00:00:00+01:00\"\nreason = \"Year-end freeze\"\n"
        ));
        let WindowCheck::Frozen(why) = check(&c.windows, &c.freezes, "production", at("2026-12-22T10:00:00Z")) else {
            panic!()
        };
        assert!(why.contains("Year-end freeze") && why.contains("until 2027-01-03T23:00:00.000Z"), "{why}");
        assert_eq!(check(&c.windows, &c.freezes, "production", at("2027-01-04T10:00:00Z")), WindowCheck::Open);
    }

    #[test]
    fn bad_windows_and_freezes_are_named() {
        let e = Config::parse(
            "[[windows]]\ndays = [\"funday\"]\nfrom = \"25:00\"\nuntil = \"16:00\"\ntimezone = \"Mars/Base\"\n[[freezes]]\nfrom = 2026-12-21\nuntil = 2026-12-20T00:00:00Z\nreason = \"\"\n",
            "t.toml",
            Date::new(2026, 11, 27).unwrap(),
        )
        .unwrap_err()
        .to_string();
        for want in [
            "not a weekday: \"funday\"",
            "not a time of day: \"25:00\"",
            "unknown time zone \"Mars/Base\"",
            "not a date-time with an offset",
            "a freeze needs a reason",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
