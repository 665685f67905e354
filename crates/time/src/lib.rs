//! UTC calendar arithmetic, shared so that every partition key, object key and snapshot name
//! in Sluice reads a timestamp the same way.
//!
//! Howard Hinnant's algorithms (<https://howardhinnant.github.io/date_algorithms.html>) over the
//! proleptic Gregorian calendar: exact for every day count whose year fits in `i64`, negative
//! days being before 1970-01-01.

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// (year, month 1–12, day 1–31) of the date `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are small and in range by construction.
    (year, month as u32, day as u32)
}

/// Days from 1970-01-01 to the date (`month` 1–12, `day` 1–31; not range-checked).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in `month` (1–12) of `year`, leap years included (any other month reads as 31).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// (year, month, day) of the UTC date of `epoch_ms`.
pub fn date_of_ms(epoch_ms: i64) -> (i64, u32, u32) {
    civil_from_days(epoch_ms.div_euclid(MS_PER_DAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn given_known_dates_then_exact() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(date_of_ms(1_795_353_901_000), (2026, 11, 22));
        assert_eq!(days_from_civil(2026, 11, 22), 20_779);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2026, 11), 30);
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -1_000_000_000i64..1_000_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d));
            prop_assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }
}
