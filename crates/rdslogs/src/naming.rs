//! Where a log file lands in S3: `<prefix>/<instance>/<yyyy>/<mm>/<dd>/<file name>`.
//!
//! First step of the flow (pure): the date comes from the file's own name when it carries one
//! (`error/postgresql.log.2026-11-22-13`, `slowquery/mysql-slowquery.log.2026-11-22.13`,
//! `trace/alert_ORCL.log.2026-11-22`, …), else from the file's last-written time (SQL Server
//! `log/ERROR.6`, MySQL hourly `…log.13`, Oracle `…_ora_123.trc`).

use std::fmt;

/// A calendar day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    /// Four-digit year.
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

impl Day {
    /// The UTC day of a Unix time in milliseconds (RDS reports `LastWritten` in ms).
    pub fn from_unix_ms(ms: i64) -> Day {
        let (year, month, day) = sluice_time::date_of_ms(ms);
        // Years of any RDS timestamp fit in i32.
        Day {
            year: year as i32,
            month,
            day,
        }
    }
}

/// Days in `month` of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    sluice_time::days_in_month(i64::from(year), month)
}

/// The date a log file's name carries: the last `YYYY-MM-DD` in its final path segment that
/// stands alone (not inside a longer run of digits) and is a real calendar day.
pub fn date_in_name(file_name: &str) -> Option<Day> {
    let base = file_name.rsplit('/').next().unwrap_or(file_name).as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let num = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u32>().ok();
    (0..base.len().saturating_sub(9)).rev().find_map(|i| {
        let w = &base[i..i + 10];
        let before_ok = i == 0 || !base[i - 1].is_ascii_digit();
        let after_ok = base.get(i + 10).is_none_or(|b| !b.is_ascii_digit());
        if !(before_ok && after_ok && w[4] == b'-' && w[7] == b'-') {
            return None;
        }
        if !(digits(&w[0..4]) && digits(&w[5..7]) && digits(&w[8..10])) {
            return None;
        }
        let year = num(&w[0..4])? as i32;
        let (month, day) = (num(&w[5..7])?, num(&w[8..10])?);
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Day { year, month, day })
    })
}

/// The S3 key of a copy: `<prefix>/<instance>/<yyyy>/<mm>/<dd>/<file name>[.gz]`.
///
/// `prefix` may be empty or carry slashes at either end; they are trimmed. The file name keeps
/// its folders (`error/…`); empty and `.`/`..` segments are dropped so no key escapes its
/// instance's folder.
pub fn object_key(
    prefix: &str,
    instance: &str,
    file_name: &str,
    last_written_ms: i64,
    gzip: bool,
) -> String {
    let day = date_in_name(file_name).unwrap_or_else(|| Day::from_unix_ms(last_written_ms));
    let file: Vec<&str> = file_name
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    let mut key = String::new();
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() {
        key.push_str(prefix);
        key.push('/');
    }
    key.push_str(&format!("{instance}/{day}/{}", file.join("/")));
    if gzip {
        key.push_str(".gz");
    }
    key
}

/// The key prefix of every copy of an instance: `<prefix>/<instance>/` (what a reconciling run
/// lists; the state objects under `<prefix>/_state/` are outside it).
pub fn instance_prefix(prefix: &str, instance: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{instance}/")
    } else {
        format!("{prefix}/{instance}/")
    }
}

/// The S3 key of an instance's state object: `<prefix>/_state/<instance>.json`.
pub fn state_key(prefix: &str, instance: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("_state/{instance}.json")
    } else {
        format!("{prefix}/_state/{instance}.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-20T10:00:00Z, a day before the dates in the names below.
    const WRITTEN: i64 = 1_795_168_800_000;

    fn key(name: &str) -> String {
        object_key("rds-logs", "db1", name, WRITTEN, false)
    }

    #[test]
    fn given_any_file_then_its_key_is_under_the_instance_prefix_and_the_state_is_not() {
        for prefix in ["rds-logs", "/a/b/", ""] {
            let under = instance_prefix(prefix, "db1");
            assert!(object_key(prefix, "db1", "error/x.log", WRITTEN, true).starts_with(&under));
            assert!(!state_key(prefix, "db1").starts_with(&under));
        }
        assert_eq!(instance_prefix("rds-logs/", "db1"), "rds-logs/db1/");
    }

    #[test]
    fn given_last_written_ms_then_day_is_utc_calendar_day() {
        assert_eq!(Day::from_unix_ms(0).to_string(), "1970/01/01");
        assert_eq!(Day::from_unix_ms(WRITTEN).to_string(), "2026/11/20");
        assert_eq!(Day::from_unix_ms(951_782_400_000).to_string(), "2000/02/29");
        assert_eq!(Day::from_unix_ms(-1).to_string(), "1969/12/31");
    }

    #[test]
    fn given_postgresql_hourly_name_then_date_from_name() {
        assert_eq!(
            key("error/postgresql.log.2026-11-22-13"),
            "rds-logs/db1/2026/11/22/error/postgresql.log.2026-11-22-13"
        );
    }

    #[test]
    fn given_aurora_postgresql_name_with_minutes_then_date_from_name() {
        assert_eq!(
            key("error/postgresql.log.2026-11-22-1300"),
            "rds-logs/db1/2026/11/22/error/postgresql.log.2026-11-22-1300"
        );
    }

    #[test]
    fn given_mysql_and_mariadb_dated_names_then_date_from_name() {
        assert_eq!(
            key("slowquery/mysql-slowquery.log.2026-11-22.13"),
            "rds-logs/db1/2026/11/22/slowquery/mysql-slowquery.log.2026-11-22.13"
        );
        assert_eq!(
            key("error/mysql-error-running.log.2026-11-21.07"),
            "rds-logs/db1/2026/11/21/error/mysql-error-running.log.2026-11-21.07"
        );
    }

    #[test]
    fn given_mysql_hourly_name_without_date_then_date_from_last_written() {
        assert_eq!(
            key("slowquery/mysql-slowquery.log.13"),
            "rds-logs/db1/2026/11/20/slowquery/mysql-slowquery.log.13"
        );
        assert_eq!(
            key("error/mysql-error.log"),
            "rds-logs/db1/2026/11/20/error/mysql-error.log"
        );
    }

    #[test]
    fn given_oracle_names_then_alert_log_dated_and_trace_from_last_written() {
        assert_eq!(
            key("trace/alert_ORCL.log.2026-11-22"),
            "rds-logs/db1/2026/11/22/trace/alert_ORCL.log.2026-11-22"
        );
        assert_eq!(
            key("trace/ORCL_ora_4242.trc"),
            "rds-logs/db1/2026/11/20/trace/ORCL_ora_4242.trc"
        );
    }

    #[test]
    fn given_sql_server_names_then_date_from_last_written() {
        assert_eq!(key("log/ERROR.6"), "rds-logs/db1/2026/11/20/log/ERROR.6");
        assert_eq!(
            key("log/SQLAgent.out"),
            "rds-logs/db1/2026/11/20/log/SQLAgent.out"
        );
    }

    #[test]
    fn given_impossible_or_embedded_dates_then_they_are_not_used() {
        assert_eq!(date_in_name("error/postgresql.log.2026-02-30-13"), None);
        assert_eq!(date_in_name("error/x.log.2026-13-01"), None);
        assert_eq!(date_in_name("error/x.log.12026-11-22"), None);
        assert_eq!(
            date_in_name("2026-11-22/x.log"),
            None,
            "only the last segment counts"
        );
    }

    #[test]
    fn given_gzip_and_odd_prefix_then_key_is_clean() {
        assert_eq!(
            object_key("/logs/", "db1", "/error/../postgresql.log", WRITTEN, true),
            "logs/db1/2026/11/20/error/postgresql.log.gz"
        );
        assert_eq!(
            object_key("", "db1", "a.log", WRITTEN, false),
            "db1/2026/11/20/a.log"
        );
        assert_eq!(state_key("rds-logs/", "db1"), "rds-logs/_state/db1.json");
    }

    proptest! {
        #[test]
        fn given_any_name_then_key_stays_under_the_instance_folder(
            name in "[a-zA-Z0-9./_-]{0,40}",
            ms in 0i64..4_102_444_800_000,
        ) {
            let key = object_key("p", "db1", &name, ms, false);
            prop_assert!(key.starts_with("p/db1/"));
            prop_assert!(!key.split('/').any(|s| s == ".." ));
        }

        #[test]
        fn given_any_dated_name_then_that_date_is_found(
            y in 1990i32..2100, m in 1u32..=12, d in 1u32..=28, h in 0u32..24,
        ) {
            let name = format!("error/postgresql.log.{y:04}-{m:02}-{d:02}-{h:02}");
            prop_assert_eq!(date_in_name(&name), Some(Day { year: y, month: m, day: d }));
        }

        #[test]
        fn given_any_ms_then_day_round_trips_through_days_in_month(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            let day = Day::from_unix_ms(ms);
            prop_assert!(day.month >= 1 && day.month <= 12);
            prop_assert!(day.day >= 1 && day.day <= days_in_month(day.year, day.month));
        }
    }
}
