//! Event time → UTC epoch milliseconds, without a date-time dependency.
//!
//! DAS events carry `logTime` / `startTime` as strings such as `2026-11-22 13:45:01.123456+00`
//! (Aurora PostgreSQL), `2026-11-22 13:45:01.123456+00:00`, ISO 8601 with `T` and `Z`, or as epoch
//! numbers (seconds, milliseconds or microseconds; RDS for Oracle / SQL Server). The date partition
//! of an event comes from here, never from the wall clock.

use serde_json::Value;

/// The UTC epoch milliseconds of a DAS time value (string or number), `None` when unparsable.
pub fn epoch_ms(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => parse_str(s),
        Value::Number(n) => n
            .as_i64()
            .map(scale_epoch)
            .or_else(|| from_f64(n.as_f64()?)),
        _ => None,
    }
}

/// [`epoch_ms`] of an integer epoch (seconds, milliseconds or microseconds by magnitude).
pub(crate) fn from_i64(n: i64) -> Option<i64> {
    Some(scale_epoch(n))
}

/// [`epoch_ms`] of a fractional epoch; `None` when not finite.
pub(crate) fn from_f64(f: f64) -> Option<i64> {
    f.is_finite().then(|| scale_epoch(f as i64))
}

/// Interprets an epoch number by magnitude: µs above 10^14, ms above 10^11, else seconds.
fn scale_epoch(n: i64) -> i64 {
    let abs = n.unsigned_abs();
    if abs >= 100_000_000_000_000 {
        n / 1_000
    } else if abs >= 100_000_000_000 {
        n
    } else {
        n.saturating_mul(1_000)
    }
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.frac]]][Z|±HH[[:]MM]]`, or an all-digit epoch string.
pub(crate) fn parse_str(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(scale_epoch);
    }
    let b = s.as_bytes();
    let year = num(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (month, day) = (num(b, 5, 2)?, num(b, 8, 2)?);
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let mut ms = sluice_time::days_from_civil(year, month, day) * 86_400_000;
    let mut i = 10;
    if matches!(b.get(i), Some(b' ' | b'T' | b't')) {
        let (h, m) = (num(b, i + 1, 2)?, num(b, i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || h > 23 || m > 59 {
            return None;
        }
        ms += (h * 3_600 + m * 60) * 1_000;
        i += 6;
        if b.get(i) == Some(&b':') {
            let sec = num(b, i + 1, 2)?;
            if sec > 60 {
                return None;
            }
            ms += sec * 1_000;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                i += 1;
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                // The first three fraction digits are the milliseconds ("5" is 500 ms).
                let digits = &b[start..i];
                ms += (0..3).fold(0, |acc, k| {
                    acc * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'))
                });
            }
        }
    }
    Some(ms - offset_ms(&b[i..])?)
}

/// Days in `month` (already checked to be 1–12) of `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    i64::from(sluice_time::days_in_month(year, month as u32))
}

/// The offset of a zone suffix (`""`, `Z`, `+00`, `-05:30`, `+0530`) in milliseconds.
fn offset_ms(rest: &[u8]) -> Option<i64> {
    match rest {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let h = num(tail, 0, 2)?;
            let m = match tail.len() {
                2 => 0,
                4 => num(tail, 2, 2)?,
                5 if tail[2] == b':' => num(tail, 3, 2)?,
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) * 60_000;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => None,
    }
}

/// The decimal number in `b[at..at + len]`, all digits.
fn num(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let digits = b.get(at..at + len)?;
    digits.iter().try_fold(0i64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date(v: Value) -> Option<(String, String, String)> {
        epoch_ms(&v).map(sluice_firehose::date_keys)
    }

    fn ymd(y: &str, m: &str, d: &str) -> Option<(String, String, String)> {
        Some((y.into(), m.into(), d.into()))
    }

    #[test]
    fn given_postgres_log_time_then_utc_date() {
        assert_eq!(
            date(json!("2021-06-04 02:22:47.218201+00")),
            ymd("2021", "06", "04")
        );
        assert_eq!(epoch_ms(&json!("1970-01-01 00:00:01.5+00")), Some(1_500));
    }

    #[test]
    fn given_offsets_then_date_is_shifted_to_utc() {
        assert_eq!(
            date(json!("2026-11-22 23:30:00-05:00")),
            ymd("2026", "11", "23")
        );
        assert_eq!(
            date(json!("2026-11-22T01:00:00+0530")),
            ymd("2026", "11", "21")
        );
        assert_eq!(date(json!("2026-11-22T01:00:00Z")), ymd("2026", "11", "22"));
        assert_eq!(date(json!("2024-02-29")), ymd("2024", "02", "29"));
    }

    #[test]
    fn given_epoch_numbers_of_any_unit_then_same_date() {
        for v in [
            json!(1_795_000_000),
            json!(1_795_000_000_000i64),
            json!(1_795_000_000_000_000i64),
            json!("1795000000000"),
            json!(1_795_000_000.25),
        ] {
            assert_eq!(date(v.clone()), ymd("2026", "11", "18"), "{v}");
        }
    }

    #[test]
    fn given_garbage_then_none() {
        for v in [
            json!("2023-02-29 00:00:00+00"),
            json!("2026-13-01"),
            json!("yesterday"),
            json!("2026-11-22 25:00:00"),
            json!("2026-11-22 10:00:00+ab"),
            json!(""),
            json!(null),
            json!(true),
        ] {
            assert_eq!(epoch_ms(&v), None, "{v}");
        }
    }
}
