//! Local time in a time zone, without a time-zone database: a POSIX TZ rule
//! (`CET-1CEST,M3.5.0,M10.5.0/3`, the form the tail of every TZif file
//! carries) gives the current offsets and daylight-saving transitions, and
//! common IANA names map to their current rule. Change windows are about
//! now and the near future, so current rules are what matters; the image
//! carries no zoneinfo, and nothing here reads the machine's.

use crate::time::{Date, Timestamp};

/// IANA names and their current POSIX rules (from the zones' TZif footers).
const NAMES: &[(&str, &str)] = &[
    ("UTC", "UTC0"),
    ("Etc/UTC", "UTC0"),
    ("GMT", "GMT0"),
    ("Europe/London", "GMT0BST,M3.5.0/1,M10.5.0"),
    ("Europe/Dublin", "IST-1GMT0,M10.5.0,M3.5.0/1"),
    ("Europe/Lisbon", "WET0WEST,M3.5.0/1,M10.5.0"),
    ("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Paris", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Amsterdam", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Brussels", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Madrid", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Rome", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Vienna", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Zurich", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Stockholm", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Oslo", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Copenhagen", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Warsaw", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Prague", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/Helsinki", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Europe/Athens", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Europe/Kiev", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Europe/Kyiv", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Europe/Istanbul", "<+03>-3"),
    ("Europe/Moscow", "MSK-3"),
    ("America/New_York", "EST5EDT,M3.2.0,M11.1.0"),
    ("America/Toronto", "EST5EDT,M3.2.0,M11.1.0"),
    ("America/Chicago", "CST6CDT,M3.2.0,M11.1.0"),
    ("America/Denver", "MST7MDT,M3.2.0,M11.1.0"),
    ("America/Phoenix", "MST7"),
    ("America/Los_Angeles", "PST8PDT,M3.2.0,M11.1.0"),
    ("America/Vancouver", "PST8PDT,M3.2.0,M11.1.0"),
    ("America/Anchorage", "AKST9AKDT,M3.2.0,M11.1.0"),
    ("Pacific/Honolulu", "HST10"),
    ("America/Sao_Paulo", "<-03>3"),
    ("America/Mexico_City", "CST6"),
    ("Asia/Tokyo", "JST-9"),
    ("Asia/Seoul", "KST-9"),
    ("Asia/Shanghai", "CST-8"),
    ("Asia/Hong_Kong", "HKT-8"),
    ("Asia/Singapore", "<+08>-8"),
    ("Asia/Kolkata", "IST-5:30"),
    ("Asia/Dubai", "<+04>-4"),
    ("Asia/Jerusalem", "IST-2IDT,M3.4.4/26,M10.5.0"),
    ("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
    ("Australia/Melbourne", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
    ("Australia/Brisbane", "AEST-10"),
    ("Australia/Perth", "AWST-8"),
    ("Pacific/Auckland", "NZST-12NZDT,M9.5.0,M4.1.0/3"),
    ("Africa/Johannesburg", "SAST-2"),
];

/// A transition rule: when in the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month(u8, u8, u8),
    /// `Jn`: day 1-365, February 29 never counted.
    Julian1(u16),
    /// `n`: day 0-365, February 29 counted.
    Julian0(u16),
}

/// A transition: a day and a local time (seconds; may be negative or past 24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    day: Day,
    secs: i64,
}

/// A time zone: standard offset and, optionally, daylight saving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// What was written (name or rule), for messages.
    pub name: String,
    /// Seconds to add to UTC for standard time.
    std_offset: i64,
    /// Daylight saving: its offset and when it starts and ends.
    dst: Option<(i64, Rule, Rule)>,
}

impl Zone {
    /// An IANA name from the built-in table, or a POSIX TZ rule.
    pub fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        let rule = NAMES.iter().find(|(n, _)| *n == s).map_or(s, |(_, r)| *r);
        parse_rule(rule).map(|mut z| {
            z.name = s.to_owned();
            z
        }).map_err(|e| {
            format!("unknown time zone {s:?}: {e} (use a name such as Europe/Berlin, or a POSIX TZ rule such as CET-1CEST,M3.5.0,M10.5.0/3)")
        })
    }

    /// Seconds to add to UTC at instant `t`.
    pub fn offset_at(&self, t: Timestamp) -> i64 {
        let Some((dst_offset, start, end)) = self.dst else { return self.std_offset };
        let secs = t.0.div_euclid(1000);
        let year = Date::from_unix_days(secs.div_euclid(86_400)).year;
        // Transitions in UTC: the start is in standard local time, the end
        // in daylight local time.
        let on = |y: i32, r: Rule, offset: i64| day_of(y, r.day) * 86_400 + r.secs - offset;
        let in_dst = |y: i32| {
            let (a, b) = (on(y, start, self.std_offset), on(y, end, dst_offset));
            if a < b { secs >= a && secs < b } else { secs >= a || secs < b }
        };
        if in_dst(year) { dst_offset } else { self.std_offset }
    }

    /// The local wall-clock time at `t`: (date, weekday 0 = Monday, seconds since midnight).
    pub fn local(&self, t: Timestamp) -> (Date, u8, i64) {
        let secs = t.0.div_euclid(1000) + self.offset_at(t);
        let days = secs.div_euclid(86_400);
        // 1970-01-01 was a Thursday (3, counting from Monday = 0).
        let weekday = (days + 3).rem_euclid(7) as u8;
        (Date::from_unix_days(days), weekday, secs.rem_euclid(86_400))
    }
}

/// Days since the epoch of a rule's day in `year`.
fn day_of(year: i32, day: Day) -> i64 {
    let jan1 = Date { year, month: 1, day: 1 }.unix_days();
    let leap = Date::new(year, 2, 29).is_some();
    match day {
        Day::Julian0(n) => jan1 + i64::from(n),
        Day::Julian1(n) => jan1 + i64::from(n) - 1 + i64::from(leap && n >= 60),
        Day::Month(m, w, d) => {
            let first = Date { year, month: m, day: 1 }.unix_days();
            let first_wd = (first + 4).rem_euclid(7); // 0 = Sunday
            let mut day = first + (i64::from(d) - first_wd).rem_euclid(7) + 7 * (i64::from(w) - 1);
            let next_month =
                if m == 12 { Date { year: year + 1, month: 1, day: 1 } } else { Date { year, month: m + 1, day: 1 } };
            while day >= next_month.unix_days() {
                day -= 7;
            }
            day
        }
    }
}

/// Parses `[+-]hh[:mm[:ss]]` (POSIX: positive is west of Greenwich).
fn hms(s: &str) -> Result<(i64, &str), String> {
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    };
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ':')).unwrap_or(rest.len());
    let mut parts = rest[..end].split(':');
    let mut total = 0;
    for (i, unit) in [3600, 60, 1].into_iter().enumerate() {
        match parts.next() {
            Some(p) if !p.is_empty() && p.len() <= 3 => total += p.parse::<i64>().map_err(|e| e.to_string())? * unit,
            None if i > 0 => break,
            _ => return Err(format!("bad time {s:?}")),
        }
    }
    if parts.next().is_some() || total > 167 * 3600 {
        return Err(format!("bad time {s:?}"));
    }
    Ok((sign * total, &rest[end..]))
}

/// A zone abbreviation: letters, or `<...>`.
fn abbreviation(s: &str) -> Result<&str, String> {
    if let Some(rest) = s.strip_prefix('<') {
        let close = rest.find('>').ok_or("an unclosed <")?;
        return Ok(&rest[close + 1..]);
    }
    let n = s.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(s.len());
    if n < 3 {
        return Err("a zone abbreviation needs 3 letters".into());
    }
    Ok(&s[n..])
}

fn parse_day(s: &str) -> Result<(Rule, &str), String> {
    let end = s.find(['/', ',']).unwrap_or(s.len());
    let (spec, mut rest) = s.split_at(end);
    let num = |t: &str| t.parse::<u16>().map_err(|_| format!("bad rule {spec:?}"));
    let day = if let Some(m) = spec.strip_prefix('M') {
        let v: Vec<u16> = m.split('.').map(num).collect::<Result<_, _>>()?;
        match v[..] {
            [m @ 1..=12, w @ 1..=5, d @ 0..=6] => Day::Month(m as u8, w as u8, d as u8),
            _ => return Err(format!("bad rule {spec:?}")),
        }
    } else if let Some(j) = spec.strip_prefix('J') {
        match num(j)? {
            n @ 1..=365 => Day::Julian1(n),
            _ => return Err(format!("bad rule {spec:?}")),
        }
    } else {
        match num(spec)? {
            n @ 0..=365 => Day::Julian0(n),
            _ => return Err(format!("bad rule {spec:?}")),
        }
    };
    let mut secs = 2 * 3600;
    if let Some(t) = rest.strip_prefix('/') {
        let (v, r) = hms(t)?;
        secs = v;
        rest = r;
    }
    Ok((Rule { day, secs }, rest))
}

fn parse_rule(s: &str) -> Result<Zone, String> {
    let rest = abbreviation(s)?;
    let (std, rest) = hms(rest)?;
    let std_offset = -std;
    if rest.is_empty() {
        return Ok(Zone { name: String::new(), std_offset, dst: None });
    }
    let rest = abbreviation(rest)?;
    let (dst_offset, rest) = if rest.starts_with(',') || rest.is_empty() {
        (std_offset + 3600, rest)
    } else {
        let (v, r) = hms(rest)?;
        (-v, r)
    };
    let rest = rest.strip_prefix(',').ok_or("daylight saving needs its start and end rules")?;
    let (start, rest) = parse_day(rest)?;
    let rest = rest.strip_prefix(',').ok_or("daylight saving needs an end rule")?;
    let (end, rest) = parse_day(rest)?;
    if !rest.is_empty() {
        return Err(format!("unexpected {rest:?}"));
    }
    Ok(Zone { name: String::new(), std_offset, dst: Some((dst_offset, start, end)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn offset(zone: &str, t: &str) -> i64 {
        Zone::parse(zone).unwrap().offset_at(at(t)) / 3600
    }

    #[test]
    fn berlin_switches_at_one_utc_on_the_last_sundays_of_march_and_october() {
        assert_eq!(offset("Europe/Berlin", "2026-03-29T00:59:59Z"), 1);
        assert_eq!(offset("Europe/Berlin", "2026-03-29T01:00:00Z"), 2);
        assert_eq!(offset("Europe/Berlin", "2026-10-25T00:59:59Z"), 2);
        assert_eq!(offset("Europe/Berlin", "2026-10-25T01:00:00Z"), 1);
        assert_eq!(offset("Europe/Berlin", "2026-11-27T12:00:00Z"), 1);
    }

    #[test]
    fn new_york_on_the_second_sunday_of_march_and_first_of_november() {
        assert_eq!(offset("America/New_York", "2026-03-08T06:59:59Z"), -5);
        assert_eq!(offset("America/New_York", "2026-03-08T07:00:00Z"), -4);
        assert_eq!(offset("America/New_York", "2026-11-01T05:59:59Z"), -4);
        assert_eq!(offset("America/New_York", "2026-11-01T06:00:00Z"), -5);
    }

    #[test]
    fn the_southern_hemisphere_and_fixed_zones() {
        assert_eq!(offset("Australia/Sydney", "2026-01-15T00:00:00Z"), 11);
        assert_eq!(offset("Australia/Sydney", "2026-07-15T00:00:00Z"), 10);
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.offset_at(at("2026-07-15T00:00:00Z")), 5 * 3600 + 1800);
        assert_eq!(offset("<+03>-3", "2026-07-15T00:00:00Z"), 3);
        assert_eq!(offset("UTC", "2026-07-15T00:00:00Z"), 0);
    }

    #[test]
    fn local_time_and_weekday() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        // Friday 2026-11-27 23:30 UTC is Saturday 00:30 in Berlin.
        let (date, weekday, secs) = z.local(at("2026-11-27T23:30:00Z"));
        assert_eq!((date, weekday, secs), (Date::new(2026, 11, 28).unwrap(), 5, 1800));
    }

    #[test]
    fn no_input_makes_it_panic() {
        // Every prefix and single-byte change of real rules: an error or a
        // zone, never a panic, and a zone answers for any instant.
        let alphabet = b"<>+-:,./MJ0123456789ACDEST ";
        for rule in NAMES.iter().map(|(_, r)| *r) {
            for cut in 0..=rule.len() {
                let mut variants = vec![rule[..cut].to_owned()];
                for c in alphabet {
                    let mut b = rule.as_bytes().to_vec();
                    if cut < b.len() {
                        b[cut] = *c;
                    }
                    variants.push(String::from_utf8(b).unwrap());
                }
                for v in variants {
                    if let Ok(z) = Zone::parse(&v) {
                        for t in [i64::MIN / 4, -1, 0, 1_800_000_000_000, i64::MAX / 4] {
                            let _ = z.local(Timestamp(t));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_zones_are_named() {
        for bad in ["Mars/Olympus", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "X1", "CET-1CEST,M3.5.0"] {
            let e = Zone::parse(bad).unwrap_err();
            assert!(e.contains(&format!("unknown time zone {bad:?}")), "{e}");
        }
    }
}
