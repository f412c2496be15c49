//! Calendar dates for `expires` and `--today`: `YYYY-MM-DD`, no time zone, no dependency.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// Parse `YYYY-MM-DD`, rejecting impossible dates (`2026-02-30`).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            part.bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let year = i32::try_from(number(0..4)?).ok()?;
        let month = u8::try_from(number(5..7)?).ok()?;
        let day = u8::try_from(number(8..10)?).ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// Today in UTC.
    pub fn today_utc() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self::from_days_since_epoch(i64::try_from(seconds / 86_400).unwrap_or(0))
    }

    /// Days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// Days since 1970-01-01 (`days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` later.
    #[must_use]
    pub fn plus_days(self, days: i64) -> Self {
        Self::from_days_since_epoch(self.days_since_epoch() + days)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        )
    }
}

/// The longest timeout ctx accepts (a week): longer ones are surely mistakes, and a
/// deadline must stay representable.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// humantime's parse, with its messages ("expected number at 0" points at a byte offset)
/// said in words.
fn humantime_words(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|error| match error {
        humantime::DurationError::UnknownUnit { unit, .. } => {
            format!("`{unit}` is not a unit (units such as ms, s, m, h, d)")
        }
        humantime::DurationError::NumberOverflow => String::from("the number is too large"),
        _ => String::from("expected a number with a unit, such as `90s`"),
    })
}

/// A timeout (`90s`, `5m`, `1h 30m`): more than zero and at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime_words(text)?;
    if duration.is_zero() {
        return Err(String::from(
            "a timeout of zero would stop everything at once",
        ));
    }
    if duration > MAX_DURATION {
        return Err(String::from("over the maximum of one week (`7d`)"));
    }
    Ok(duration)
}

/// An age (`90d`, `1y`) for retention: more than zero and at most 100 years.
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime_words(text)?;
    if duration.is_zero() || duration > std::time::Duration::from_secs(100 * 365 * 24 * 3600) {
        return Err(String::from(
            "write an age between a second and 100 years, e.g. `90d`",
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(Date::parse("2027-06-30").unwrap().to_string(), "2027-06-30");
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("2026-1-01").is_none());
        assert!(Date::parse("+026-01-01").is_none());
    }

    #[test]
    fn epoch_is_day_zero() {
        assert_eq!(Date::from_days_since_epoch(0).to_string(), "1970-01-01");
        assert_eq!(
            Date::parse("2026-11-21").unwrap().days_since_epoch(),
            20_778
        );
    }

    proptest! {
        #[test]
        fn day_numbers_round_trip(days in -1_000_000i64..1_000_000) {
            let date = Date::from_days_since_epoch(days);
            prop_assert_eq!(date.days_since_epoch(), days);
            prop_assert_eq!(Date::parse(&date.to_string()).filter(|_| date.year >= 0), (date.year >= 0 && date.year < 10_000).then_some(date));
        }
    }
}
