//! The export's own account of each table, read once the export task reports `COMPLETE`: RDS
//! says `COMPLETE` although it skipped tables (rows of about 2 GB or more, `/` in the name,
//! some characters in column names, Aurora PostgreSQL temporary and unlogged tables) or failed
//! some (<https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html>),
//! and skips tables its user may not read (`PERMISSIONS_DO_NOT_EXIST`,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.postgres-permissions.html>).
//!
//! Next to the data (`<S3Prefix>/<export id>/<database>/<schema.table>/…`,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.FileNames.html>)
//! the export writes `export_info_<export id>.json` and one or more
//! `export_tables_info_<export id>_from_<n>_to_<m>.json`, each
//! `{"perTableStatus": [{"target": "<db>.<schema>.<table>", "status": "COMPLETE" | "SKIPPED" |
//! "FAILED", "warningMessage": …, …}]}`. AWS documents neither file's fields on a page we found;
//! the names and shape are those real exports write, as tools reading them expect.
//!
//! Fail closed: a missing, unreadable or oversized file, a gap in the `from_<n>_to_<m>` ranges
//! (numbered from 1), an entry without a target, or a status other than `COMPLETE`/`SKIPPED`
//! is never taken as "all exported".

use aws_sdk_s3::operation::get_object::GetObjectError;
use serde::{Deserialize, Serialize};
use sluice_runtime::{ErrorKind, StepError};

use crate::Deps;
use crate::aws::aws_error;
use crate::steps::resource_failed;

/// Largest status file read (RDS splits the table list over several files).
const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Names of exported tables listed in the result, up to this many (else only the count).
const LIST_EXPORTED: usize = 20;
/// Skipped or failed tables listed in the result, up to this many each (all are counted).
const LIST_LEFT_OUT: usize = 50;
/// Skipped or failed tables named in the one-line summary (a failure's cause), each.
const SUMMARY_NAMES: usize = 10;
/// A reason AWS gave, cut to this many characters.
const MAX_REASON: usize = 400;

/// A table the export left out, and AWS's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// `<database>.<schema>.<table>` (`<database>.<table>` for MySQL), as the export names it.
    pub table: String,
    /// The status file's `warningMessage`, or its status when it gave none.
    pub reason: String,
}

/// What the export did with each table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tables {
    /// Tables exported.
    pub exported: usize,
    /// Their names, when there are at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exported_tables: Vec<String>,
    /// Tables skipped.
    pub skipped: usize,
    /// The first 50 of them, with AWS's reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_tables: Vec<LeftOut>,
    /// Tables failed.
    pub failed: usize,
    /// The first 50 of them, with AWS's reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tables: Vec<LeftOut>,
}

impl Tables {
    /// Whether some table is not in the export.
    pub fn incomplete(&self) -> bool {
        self.skipped > 0 || self.failed > 0
    }

    /// What the export left out, in one line naming up to 10 tables of each kind with AWS's
    /// reason (`None` when nothing).
    pub fn summary(&self, task_id: &str) -> Option<String> {
        if !self.incomplete() {
            return None;
        }
        let list = |what: &str, n: usize, tables: &[LeftOut]| {
            if n == 0 {
                return None;
            }
            let mut named: Vec<String> = tables
                .iter()
                .take(SUMMARY_NAMES)
                .map(|t| format!("{} ({})", t.table, t.reason))
                .collect();
            if n > named.len() {
                named.push(format!("and {} more", n - named.len()));
            }
            Some(format!("{what} {n}: {}", named.join(", ")))
        };
        let parts: Vec<String> = [
            list("skipped", self.skipped, &self.skipped_tables),
            list("failed", self.failed, &self.failed_tables),
        ]
        .into_iter()
        .flatten()
        .collect();
        Some(format!(
            "export {task_id} left out {} of {} tables - {}",
            self.skipped + self.failed,
            self.exported + self.skipped + self.failed,
            parts.join("; ")
        ))
    }

    fn add(&mut self, entry: Entry) {
        let reason = |fallback: String| {
            let r = entry.warning_message.clone().unwrap_or(fallback);
            r.chars().take(MAX_REASON).collect::<String>()
        };
        let status = entry.status.as_deref().map(str::to_ascii_uppercase);
        match (status.as_deref(), &entry.warning_message) {
            (Some("COMPLETE"), _) => {
                self.exported += 1;
                self.exported_tables.push(entry.target);
            }
            // An entry with a warning and no status reports tables it did not export.
            (Some("SKIPPED"), _) | (None, Some(_)) => {
                self.skipped += 1;
                if self.skipped_tables.len() < LIST_LEFT_OUT {
                    let reason = reason("SKIPPED, no reason given".into());
                    self.skipped_tables.push(LeftOut {
                        table: entry.target,
                        reason,
                    });
                }
            }
            (other, _) => {
                self.failed += 1;
                if self.failed_tables.len() < LIST_LEFT_OUT {
                    let reason = reason(format!("status {}", other.unwrap_or("missing")));
                    self.failed_tables.push(LeftOut {
                        table: entry.target,
                        reason,
                    });
                }
            }
        }
    }
}

/// One `perTableStatus` entry (other fields, e.g. `tableStatistics`, are not read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    target: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    warning_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TablesInfo {
    #[serde(rename = "perTableStatus")]
    per_table_status: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportInfo {
    export_task_identifier: String,
}

/// The keys of export `task_id`'s status files under `prefix` (the task's `S3Prefix`):
/// `export_info_<id>.json`, and what every `export_tables_info_<id>_from_…` key starts with.
pub fn status_keys(prefix: &str, task_id: &str) -> (String, String) {
    let base = format!("{}/{task_id}", prefix.trim_end_matches('/'));
    (
        format!("{base}/export_info_{task_id}.json"),
        format!("{base}/export_tables_info_{task_id}_from_"),
    )
}

/// The `(n, m)` of a key ending `…_from_<n>_to_<m>.json`.
fn range_of(key: &str, start: &str) -> Option<(u64, u64)> {
    let rest = key.strip_prefix(start)?.strip_suffix(".json")?;
    let (from, to) = rest.split_once("_to_")?;
    let (from, to) = (from.parse().ok()?, to.parse().ok()?);
    (from <= to).then_some((from, to))
}

/// Orders the table files by range, refusing a key that is not one, and a gap before or
/// between ranges (a missing last file cannot be told from here).
pub fn ordered(keys: Vec<String>, start: &str) -> Result<Vec<String>, String> {
    let mut ranged = Vec::with_capacity(keys.len());
    for key in keys {
        let range =
            range_of(&key, start).ok_or_else(|| format!("{key} is not a _from_<n>_to_<m>.json"))?;
        ranged.push((range, key));
    }
    ranged.sort();
    // Real exports number tables from 1 (`…_from_1_to_96.json`).
    let mut next = 1;
    for ((from, to), key) in &ranged {
        if *from != next {
            return Err(format!(
                "{key} starts at table {from}: the files for tables {next} to {} are missing",
                from.saturating_sub(1)
            ));
        }
        next = to + 1;
    }
    Ok(ranged.into_iter().map(|(_, key)| key).collect())
}

/// Reads one tables file into `tables`; the error names what is wrong with it.
pub fn parse_tables_info(bytes: &[u8], tables: &mut Tables) -> Result<(), String> {
    let info: TablesInfo = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an export_tables_info document: {e}"))?;
    for entry in info.per_table_status {
        tables.add(entry);
    }
    Ok(())
}

/// Checks `export_info_<id>.json` is an export summary of export `task_id`.
pub fn parse_export_info(bytes: &[u8], task_id: &str) -> Result<(), String> {
    let info: ExportInfo =
        serde_json::from_slice(bytes).map_err(|e| format!("not an export_info document: {e}"))?;
    let id = info.export_task_identifier;
    if id == task_id {
        Ok(())
    } else {
        Err(format!("it describes export {id}, not {task_id}"))
    }
}

/// Reads export `task_id`'s status files from `bucket` under `prefix` and tells what it did
/// with each table. Any file missing or unreadable is an error naming its key.
pub async fn read(
    deps: &Deps,
    bucket: &str,
    prefix: &str,
    task_id: &str,
) -> Result<Tables, StepError> {
    let (info_key, start) = status_keys(prefix, task_id);
    let bad = |key: &str, why: String| {
        resource_failed(format!(
            "export {task_id}: status file s3://{bucket}/{key} {why}; the recovery point is kept"
        ))
    };
    let info = get(deps, bucket, &info_key, task_id).await?;
    parse_export_info(&info, task_id).map_err(|why| bad(&info_key, why))?;
    // Every page, followed by hand (the paginator would add code to a binary near its limit).
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = deps
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&start)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| aws_error("ListObjectsV2", &format!("s3://{bucket}/{start}"), e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() || page.is_truncated() != Some(true) {
            break;
        }
    }
    if keys.is_empty() {
        return Err(bad(
            &format!("{start}<n>_to_<m>.json"),
            "is missing: the export wrote no per-table status".into(),
        ));
    }
    let keys = ordered(keys, &start).map_err(|why| {
        resource_failed(format!(
            "export {task_id}: per-table status in s3://{bucket}/ is incomplete: {why}; the \
             recovery point is kept"
        ))
    })?;
    let mut tables = Tables::default();
    for key in &keys {
        let bytes = get(deps, bucket, key, task_id).await?;
        parse_tables_info(&bytes, &mut tables).map_err(|why| bad(key, why))?;
    }
    if tables.exported > LIST_EXPORTED {
        tables.exported_tables.clear();
    }
    Ok(tables)
}

/// One status file, at most [`MAX_FILE_BYTES`].
async fn get(deps: &Deps, bucket: &str, key: &str, task_id: &str) -> Result<Vec<u8>, StepError> {
    let missing = || {
        resource_failed(format!(
            "export {task_id}: status file s3://{bucket}/{key} is missing; the recovery point \
             is kept"
        ))
    };
    let out = deps
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) {
                missing()
            } else {
                aws_error("GetObject", &format!("s3://{bucket}/{key}"), e)
            }
        })?;
    if usize::try_from(out.content_length().unwrap_or(0)).unwrap_or(usize::MAX) > MAX_FILE_BYTES {
        return Err(resource_failed(format!(
            "export {task_id}: status file s3://{bucket}/{key} is larger than {MAX_FILE_BYTES} \
             bytes; the recovery point is kept"
        )));
    }
    let bytes = out.body.collect().await.map_err(|e| {
        StepError::new(
            ErrorKind::Aws,
            format!("GetObject s3://{bucket}/{key} failed while reading the body: {e}"),
        )
    })?;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped as real exports write them (fields beyond target/status/warningMessage included,
    // values made up); one entry of each kind the parser tells apart. Layout of the files:
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.FileNames.html
    const TABLES: &[u8] = include_bytes!("fixtures/export_tables_info.json");
    const INFO: &[u8] = include_bytes!("fixtures/export_info.json");
    const TASK: &str = "sluice-export-8e1a9f4c-2b7d-4c1e-9a3b-5d6f7e8a9b0c";

    #[test]
    fn given_aws_shaped_tables_then_each_entry_is_exported_skipped_or_failed_with_its_reason() {
        let mut tables = Tables::default();

        parse_tables_info(TABLES, &mut tables).unwrap();

        assert_eq!(tables.exported, 2);
        assert_eq!(
            tables.exported_tables,
            ["app.public.customers", "app.public.orders"]
        );
        assert_eq!(tables.skipped, 3);
        assert_eq!(
            tables.skipped_tables,
            [
                LeftOut {
                    table: "app.public.raw_events".into(),
                    reason: "Table has a row of about 2 GB or more: skipped".into()
                },
                LeftOut {
                    table: "app.public.unlogged_cache".into(),
                    reason: "SKIPPED, no reason given".into()
                },
                LeftOut {
                    table: "app".into(),
                    reason: "PERMISSIONS_DO_NOT_EXIST: tables in schema audit were skipped".into()
                },
            ]
        );
        assert_eq!(tables.failed, 2);
        assert_eq!(
            tables.failed_tables,
            [
                LeftOut {
                    table: "app.public.documents".into(),
                    reason: "Large object of about 500 MB could not be exported".into()
                },
                // Any status but COMPLETE or SKIPPED is not taken as exported.
                LeftOut {
                    table: "app.public.late".into(),
                    reason: "status IN_PROGRESS".into()
                },
            ]
        );
        assert!(tables.incomplete());
    }

    #[test]
    fn the_summary_names_what_was_left_out_and_why_and_nothing_when_all_exported() {
        let mut tables = Tables::default();
        parse_tables_info(TABLES, &mut tables).unwrap();

        let summary = tables.summary(TASK).unwrap();

        assert!(
            summary.starts_with(&format!("export {TASK} left out 5 of 7 tables")),
            "{summary}"
        );
        assert!(
            summary.contains("skipped 3: app.public.raw_events (Table has a row of about 2 GB")
                && summary.contains(
                    "failed 2: app.public.documents (Large object of about 500 MB could not be \
                     exported)"
                ),
            "{summary}"
        );
        let all = br#"{"perTableStatus":[{"target":"app.public.a","status":"COMPLETE"}]}"#;
        let mut fine = Tables::default();
        parse_tables_info(all, &mut fine).unwrap();
        assert_eq!(fine.summary(TASK), None);
        assert!(!fine.incomplete());
    }

    #[test]
    fn many_tables_left_out_are_all_counted_and_the_lists_stay_bounded() {
        let entries: Vec<String> = (0..120)
            .map(|i| format!(r#"{{"target":"app.public.t{i}","status":"SKIPPED"}}"#))
            .collect();
        let doc = format!(r#"{{"perTableStatus":[{}]}}"#, entries.join(","));
        let mut tables = Tables::default();

        parse_tables_info(doc.as_bytes(), &mut tables).unwrap();

        assert_eq!(tables.skipped, 120);
        assert_eq!(tables.skipped_tables.len(), LIST_LEFT_OUT);
        let summary = tables.summary(TASK).unwrap();
        assert!(summary.contains("and 110 more"), "{summary}");
    }

    #[test]
    fn a_document_that_is_not_a_table_status_list_is_refused_with_the_reason() {
        let mut tables = Tables::default();
        for bad in [
            &b"not json"[..],
            br#"{"tables": []}"#,
            br#"{"perTableStatus": [{"status": "COMPLETE"}]}"#,
        ] {
            let err = parse_tables_info(bad, &mut tables).unwrap_err();
            assert!(err.contains("not an export_tables_info document"), "{err}");
        }
        assert_eq!(tables, Tables::default());
    }

    #[test]
    fn export_info_must_describe_this_export() {
        assert_eq!(parse_export_info(INFO, TASK), Ok(()));
        let other = parse_export_info(INFO, "sluice-export-other").unwrap_err();
        assert!(
            other.contains(TASK) && other.contains("sluice-export-other"),
            "{other}"
        );
        for bad in [&b"[]"[..], b"{}", b"{\"status\": \"COMPLETE\"}"] {
            assert!(parse_export_info(bad, TASK).is_err());
        }
    }

    #[test]
    fn status_keys_sit_in_the_export_folder_under_the_prefix() {
        let (info, tables) = status_keys("backup-exports/v/db/2026/11/22/J/", TASK);
        assert_eq!(
            info,
            format!("backup-exports/v/db/2026/11/22/J/{TASK}/export_info_{TASK}.json")
        );
        assert_eq!(
            tables,
            format!("backup-exports/v/db/2026/11/22/J/{TASK}/export_tables_info_{TASK}_from_")
        );
    }

    #[test]
    fn table_files_are_read_in_range_order_and_a_missing_range_is_refused() {
        let start = "p/x/export_tables_info_x_from_";
        let key = |r: &str| format!("{start}{r}.json");
        let keys = vec![key("97_to_150"), key("1_to_96"), key("151_to_151")];
        assert_eq!(
            ordered(keys, start).unwrap(),
            [key("1_to_96"), key("97_to_150"), key("151_to_151")]
        );
        let gap = ordered(vec![key("1_to_96"), key("120_to_150")], start).unwrap_err();
        assert!(gap.contains("tables 97 to 119 are missing"), "{gap}");
        let first = ordered(vec![key("3_to_4")], start).unwrap_err();
        assert!(first.contains("tables 1 to 2 are missing"), "{first}");
        let odd = ordered(vec![key("1_to_96"), format!("{start}x.json")], start).unwrap_err();
        assert!(odd.contains("x.json"), "{odd}");
    }
}
