//! Partition-key helpers for dynamic partitioning: values safe inside an S3 key, and UTC date
//! parts from an epoch-millisecond timestamp without a date-time dependency.

/// Longest value [`sanitize_partition_value`] returns.
pub const MAX_PARTITION_VALUE_LEN: usize = 512;

/// Makes `s` safe as one S3 key segment / Firehose partition-key value.
///
/// Trims surrounding whitespace, keeps `[A-Za-z0-9._-]`, maps `/` to `.` and every other character
/// to `_`, caps the result at [`MAX_PARTITION_VALUE_LEN`] bytes, and never returns an empty value
/// (`"_"`). A value made only of dots (`.`, `..`), which path-normalising tools would resolve
/// away, has its dots replaced by `_` as well.
pub fn sanitize_partition_value(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            '/' => '.',
            _ => '_',
        })
        .take(MAX_PARTITION_VALUE_LEN)
        .collect();
    if out.bytes().all(|b| b == b'.') {
        out = "_".repeat(out.len().max(1));
    }
    out
}

/// UTC calendar date of `epoch_ms` as zero-padded `(yyyy, mm, dd)` strings.
///
/// Correct for every `i64` input (negative timestamps are before 1970; years before 1 AD come
/// out with a `-` sign).
pub fn date_keys(epoch_ms: i64) -> (String, String, String) {
    let (y, m, d) = sluice_time::date_of_ms(epoch_ms);
    (format!("{y:04}"), format!("{m:02}"), format!("{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ms: i64) -> (String, String, String) {
        date_keys(ms)
    }

    fn t(y: &str, m: &str, d: &str) -> (String, String, String) {
        (y.into(), m.into(), d.into())
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn given_epoch_zero_then_1970_01_01() {
        assert_eq!(keys(0), t("1970", "01", "01"));
        assert_eq!(keys(DAY - 1), t("1970", "01", "01"));
    }

    #[test]
    fn given_one_ms_before_epoch_then_1969_12_31() {
        assert_eq!(keys(-1), t("1969", "12", "31"));
    }

    #[test]
    fn given_leap_days_then_feb_29() {
        // 2000-02-29T00:00:00Z = 951782400 s (divisible-by-400 leap year)
        assert_eq!(keys(951_782_400_000), t("2000", "02", "29"));
        // 2024-02-29T12:00:00Z = 1709208000 s
        assert_eq!(keys(1_709_208_000_000), t("2024", "02", "29"));
        // 2024-03-01T00:00:00Z = 1709251200 s
        assert_eq!(keys(1_709_251_200_000), t("2024", "03", "01"));
    }

    #[test]
    fn given_2100_not_leap_then_feb_28_then_mar_1() {
        // 2100-02-28T00:00:00Z = 4107456000 s; 2100 is not a leap year.
        assert_eq!(keys(4_107_456_000_000), t("2100", "02", "28"));
        assert_eq!(keys(4_107_456_000_000 + DAY), t("2100", "03", "01"));
    }

    #[test]
    fn given_known_dates_then_expected() {
        // 2026-11-22T13:45:01.123Z = 1795355101 s
        assert_eq!(keys(1_795_355_101_123), t("2026", "11", "22"));
        // 1999-12-31T23:59:59.999Z
        assert_eq!(keys(946_684_799_999), t("1999", "12", "31"));
    }

    #[test]
    fn given_every_day_for_600_years_then_dates_are_consecutive() {
        let mut prev = sluice_time::civil_from_days(-1);
        for days in 0..(600 * 366) {
            let cur = sluice_time::civil_from_days(days);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                cur == next_day || cur == next_month || cur == next_year,
                "{prev:?} -> {cur:?}"
            );
            prev = cur;
        }
    }

    #[test]
    fn given_safe_chars_then_kept() {
        assert_eq!(sanitize_partition_value("My-Log_1.2"), "My-Log_1.2");
    }

    #[test]
    fn given_slashes_then_dots() {
        assert_eq!(sanitize_partition_value("/aws/lambda/fn"), ".aws.lambda.fn");
    }

    #[test]
    fn given_other_chars_then_underscores_one_per_char() {
        assert_eq!(sanitize_partition_value("a b:c*é日"), "a_b_c___");
    }

    #[test]
    fn given_surrounding_whitespace_then_trimmed() {
        assert_eq!(sanitize_partition_value("  x y \n"), "x_y");
    }

    #[test]
    fn given_empty_or_blank_then_underscore() {
        assert_eq!(sanitize_partition_value(""), "_");
        assert_eq!(sanitize_partition_value(" \t "), "_");
    }

    #[test]
    fn given_only_dots_then_underscores() {
        assert_eq!(sanitize_partition_value(".."), "__");
        assert_eq!(sanitize_partition_value("/"), "_");
    }

    #[test]
    fn given_long_value_then_capped() {
        let v = sanitize_partition_value(&"é".repeat(2_000));
        assert_eq!(v.len(), MAX_PARTITION_VALUE_LEN);
    }
}
