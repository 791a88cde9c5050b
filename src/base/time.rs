//! Dates and instants. [`Date`] is a calendar day in UTC (exemptions
//! expire at the end of theirs); [`Timestamp`] is an instant with
//! millisecond precision, read from the formats the APIs use (RFC 3339,
//! Jira's `2026-11-27T13:29:55.123+0000`, HTTP dates); and the durations
//! the configuration and the command line write (`90m`, `24h`, `7d`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1-12.
    pub month: u8,
    /// Day, 1-31.
    pub day: u8,
}

impl Date {
    /// Days since the Unix epoch.
    pub fn unix_days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// A date, if it exists in the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (day >= 1 && day <= days).then_some(Date { year, month, day })
    }

    /// The date of a day count since 1970-01-01 (H. Hinnant's algorithm).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Today in UTC.
    pub fn today_utc() -> Date {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Date::from_unix_days((secs / 86_400) as i64)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        Timestamp(now_unix_duration().as_millis() as i64)
    }

    /// Parses RFC 3339 (`2026-11-27T13:29:55Z`, `...55.123+01:00`) and
    /// Jira's variant without a colon in the offset (`...55.123+0000`).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
        };
        let date = Date::new(num(0..4)? as i32, num(5..7)? as u8, num(8..10)? as u8)?;
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut rest = &s[19..];
        let mut millis = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let d = &frac[..digits];
            millis = format!("{:0<3}", &d[..d.len().min(3)]).parse::<i64>().ok()?;
            rest = &frac[digits..];
        }
        let offset_min = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let o = rest[1..].replace(':', "");
                if o.len() != 4 || !o.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                sign * (o[..2].parse::<i64>().ok()? * 60 + o[2..].parse::<i64>().ok()?)
            }
        };
        let secs =
            days_from_civil(date.year, date.month, date.day) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
        Some(Timestamp(secs * 1000 + millis))
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-27T13:29:55.123Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let d = Date::from_unix_days(secs.div_euclid(86_400));
        let t = secs.rem_euclid(86_400);
        format!("{d}T{:02}:{:02}:{:02}.{ms:03}Z", t / 3600, t % 3600 / 60, t % 60)
    }

    /// The calendar day (UTC).
    pub fn date(self) -> Date {
        Date::from_unix_days(self.0.div_euclid(86_400_000))
    }

    /// This instant plus a duration.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0 + d.as_millis() as i64)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Time since the Unix epoch.
pub(crate) fn now_unix_duration() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Parses an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`), the form of
/// `Retry-After` dates; returns the time since the Unix epoch.
pub(crate) fn parse_http_date(s: &str) -> Option<Duration> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as u8 + 1;
    let iso = format!("{year}-{month:02}-{day:0>2}T{time}Z");
    let t = Timestamp::parse(&iso)?;
    u64::try_from(t.0).ok().map(Duration::from_millis)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Parses `90m`, `24h`, `7d` (and plain seconds).
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("213503982334601d"), Some(Duration::from_secs(213_503_982_334_601 * 86_400)));
        assert_eq!(parse_duration("213503982334602d"), None, "too long for seconds in a u64");
        assert_eq!(parse_duration("99999999999999999999s"), None);
    }

    #[test]
    fn unix_days_to_dates() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(11_016).to_string(), "2000-02-29");
        assert_eq!(Date::from_unix_days(20_784).to_string(), "2026-11-27");
        assert_eq!(Date::from_unix_days(-1).to_string(), "1969-12-31");
    }

    #[test]
    fn timestamps_in_every_api_format() {
        let t = Timestamp::parse("2026-11-27T13:29:55.123+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T13:29:55.123Z");
        assert_eq!(Timestamp::parse("2026-11-27T14:29:55.123+01:00"), Some(t));
        assert_eq!(Timestamp::parse("2026-11-27T13:29:55.1234567Z").unwrap().0, t.0);
        assert_eq!(Timestamp::parse("2026-11-27T13:29:55Z").unwrap().0, t.0 - 123);
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(Timestamp::parse("2026-11-27T05:29:55-08:00").unwrap().0 / 1000, t.0 / 1000);
        for bad in [
            "",
            "2026-11-27",
            "2026-13-01T00:00:00Z",
            "2026-11-27T25:00:00Z",
            "2026-11-27T00:00:00",
            "2026-11-27T00:00:00+1",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        assert_eq!(t.date().to_string(), "2026-11-27");
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::from_secs(1_445_412_480)));
        assert_eq!(parse_http_date("21 Oct 2015"), None);
    }

    #[test]
    fn parse_and_validate() {
        assert_eq!(Date::parse("2027-02-28"), Date::new(2027, 2, 28));
        assert_eq!(Date::parse("2027-02-29"), None);
        assert_eq!(Date::parse("2028-02-29").unwrap().to_string(), "2028-02-29");
        assert_eq!(Date::parse("2027-2-1"), None);
        assert_eq!(Date::parse("tomorrow"), None);
        assert!(Date::parse("2026-12-31").unwrap() > Date::parse("2026-11-30").unwrap());
    }
}
