//! ISO-8601 UTC timestamps from epoch milliseconds, written straight into a buffer.
//!
//! Same civil-from-days algorithm as `sluice-firehose`'s `date_keys` (Howard Hinnant's); kept
//! local so this crate stays independent of the Firehose contract.

/// Length of `2026-11-22T13:45:01.123Z` (years 0–9999).
pub(crate) const ISO_LEN: usize = 24;

/// Appends `yyyy-mm-ddThh:mm:ss.mmmZ` for `epoch_ms` (UTC) to `out`.
pub(crate) fn push_iso8601(epoch_ms: i64, out: &mut Vec<u8>) {
    let days = epoch_ms.div_euclid(86_400_000);
    let ms_of_day = epoch_ms.rem_euclid(86_400_000);
    let (year, month, day) = sluice_time::civil_from_days(days);
    if (0..=9999).contains(&year) {
        push_digits(year, 4, out);
    } else {
        out.extend_from_slice(year.to_string().as_bytes());
    }
    out.push(b'-');
    push_digits(i64::from(month), 2, out);
    out.push(b'-');
    push_digits(i64::from(day), 2, out);
    out.push(b'T');
    push_digits(ms_of_day / 3_600_000, 2, out);
    out.push(b':');
    push_digits(ms_of_day / 60_000 % 60, 2, out);
    out.push(b':');
    push_digits(ms_of_day / 1_000 % 60, 2, out);
    out.push(b'.');
    push_digits(ms_of_day % 1_000, 3, out);
    out.push(b'Z');
}

/// Length [`push_iso8601`] writes for `epoch_ms`.
pub(crate) fn iso8601_len(epoch_ms: i64) -> usize {
    let (year, _, _) = sluice_time::civil_from_days(epoch_ms.div_euclid(86_400_000));
    if (0..=9999).contains(&year) {
        ISO_LEN
    } else {
        ISO_LEN - 4 + year.to_string().len()
    }
}

/// Appends the low `width` decimal digits of non-negative `n`, zero-padded.
fn push_digits(n: i64, width: u32, out: &mut Vec<u8>) {
    let mut div = 10_i64.pow(width - 1);
    while div > 0 {
        // n is non-negative here, so each digit is 0..=9.
        out.push(b'0' + (n / div % 10) as u8);
        div /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: i64) -> String {
        let mut out = Vec::new();
        push_iso8601(ms, &mut out);
        assert_eq!(out.len(), iso8601_len(ms));
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn given_known_instants_then_iso8601() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_355_101_123), "2026-11-22T13:45:01.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn given_extreme_instants_then_no_panic_and_length_matches() {
        for ms in [i64::MIN, i64::MAX, -62_167_219_200_001, 253_402_300_800_000] {
            let _ = iso(ms);
        }
    }
}
