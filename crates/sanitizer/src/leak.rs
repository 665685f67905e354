//! The leak check of the verification gate: proof, beyond the script's own verify queries,
//! that production values are gone.
//!
//! [`prepare`] runs before the script: it reads the catalog and samples up to
//! [`LeakSettings::sample_values`] distinct non-null values of each `-- @sensitive` column.
//! The samples stay in this process's memory: never logged, written or reported. [`check`]
//! runs after the script, in the same session (and transaction, where there is one): it
//! counts the sampled values still in their column (bound parameters, in batches), and runs
//! the detectors ([`crate::detect`]) over a sample of rows of every text column of every user
//! table. Only column names and counts come out, as a [`LeakReport`].

use std::collections::HashSet;
use std::fmt;

use crate::catalog::{self, Column, as_text, quote_ident, table_sql};
use crate::detect::{Detectors, PatternError};
use crate::engine::Family;
use crate::run::{DbError, Session};
use crate::script::{ColumnRef, Plan};
use crate::summary::{DetectorHit, LeakReport, SensitiveReport};

/// Sampled values are looked for in batches of this many bound parameters.
const BATCH: usize = 500;
/// Detectors see at most this many characters of each value (bounds the task's memory).
pub const VALUE_PREFIX_CHARS: u32 = 8192;
/// Rows read per sensitive column to find its distinct values: this many times the sample.
const ROWS_PER_SAMPLED_VALUE: u64 = 10;

/// How much the leak check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakSettings {
    /// Distinct values sampled per sensitive column.
    pub sample_values: u64,
    /// Rows scanned per text column by the detectors.
    pub scan_rows: u64,
    /// Configured detectors: name, regular expression.
    pub patterns: Vec<(String, String)>,
}

impl Default for LeakSettings {
    fn default() -> Self {
        Self {
            sample_values: 1000,
            scan_rows: 10_000,
            patterns: Vec::new(),
        }
    }
}

/// Why the leak check could not run (a check that ran and found leaks is a [`LeakReport`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeakError {
    /// A declared column is not in the database.
    #[error("{directive} column {column} does not exist (looked in schema {schema})")]
    UnknownColumn {
        /// `@sensitive` or `@allow`.
        directive: &'static str,
        /// The column as declared.
        column: String,
        /// The schema it was looked for in.
        schema: String,
    },
    /// A query of the check failed.
    #[error("{what}: {source}")]
    Db {
        /// What was being read (names only).
        what: String,
        /// The engine's error (already free of row values).
        #[source]
        source: DbError,
    },
    /// A configured pattern does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

/// A sensitive column and its sampled values. `Debug` shows the count, never a value.
struct Sampled {
    column: Column,
    values: Vec<String>,
}

/// What [`prepare`] read before the script: the catalog, the samples, the detectors.
pub struct Prepared {
    family: Family,
    settings: LeakSettings,
    detectors: Detectors,
    text_columns: Vec<Column>,
    sensitive: Vec<Sampled>,
    allow: HashSet<Column>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("text_columns", &self.text_columns.len())
            .field(
                "sampled",
                &self
                    .sensitive
                    .iter()
                    .map(|s| (s.column.to_string(), s.values.len()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn db(what: impl Into<String>) -> impl FnOnce(DbError) -> LeakError {
    let what = what.into();
    move |source| LeakError::Db { what, source }
}

/// Before the script: reads the catalog, resolves the declared columns (an unknown one is an
/// error naming it) and samples each sensitive column.
pub async fn prepare<S: Session>(
    session: &mut S,
    plan: &Plan,
    settings: &LeakSettings,
    family: Family,
) -> Result<Prepared, LeakError> {
    prepare_with(session, plan, settings, family, true).await
}

/// For a validation without a script run: the catalog, the allow-list and the detectors only.
/// Sampled values prove something only against a before; a read-only validation has none, so
/// `-- @sensitive` columns are neither sampled nor reported.
pub async fn prepare_detectors<S: Session>(
    session: &mut S,
    plan: &Plan,
    settings: &LeakSettings,
    family: Family,
) -> Result<Prepared, LeakError> {
    prepare_with(session, plan, settings, family, false).await
}

async fn prepare_with<S: Session>(
    session: &mut S,
    plan: &Plan,
    settings: &LeakSettings,
    family: Family,
    sample: bool,
) -> Result<Prepared, LeakError> {
    let detectors = Detectors::new(&settings.patterns)?;
    let columns = catalog::columns(session, family)
        .await
        .map_err(db("reading the catalog"))?;
    let default_schema = catalog::current_schema(session, family)
        .await
        .map_err(db("reading the current schema"))?;
    let find = |r: &ColumnRef, directive| {
        catalog::resolve(&columns, r, &default_schema).ok_or_else(|| LeakError::UnknownColumn {
            directive,
            column: r.to_string(),
            schema: match (&r.schema, default_schema.as_str()) {
                (Some(schema), _) => schema.clone(),
                (None, "") => "(none: the connection has no current schema)".to_owned(),
                (None, schema) => schema.to_owned(),
            },
        })
    };
    let allow = plan
        .allow
        .iter()
        .map(|r| find(r, crate::directive::ALLOW_DIRECTIVE))
        .collect::<Result<HashSet<_>, _>>()?;
    let mut sensitive = Vec::new();
    for r in plan.sensitive.iter().filter(|_| sample) {
        let column = find(r, crate::directive::SENSITIVE_DIRECTIVE)?;
        let rows = settings
            .sample_values
            .saturating_mul(ROWS_PER_SAMPLED_VALUE);
        let sql = format!(
            "SELECT {} FROM {} WHERE {} IS NOT NULL LIMIT {rows}",
            as_text(family, &column),
            table_sql(family, &column),
            quote_ident(family, &column.column)
        );
        let fetched = session
            .query_text(&sql, &[])
            .await
            .map_err(db(format!("sampling {column}")))?;
        let mut seen = HashSet::new();
        let limit = usize::try_from(settings.sample_values).unwrap_or(usize::MAX);
        let values: Vec<String> = fetched
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            // Blank values say nothing about production data; they would only raise alarms.
            .filter(|v| !v.trim().is_empty())
            .filter(|v| seen.insert(v.clone()))
            .take(limit)
            .collect();
        tracing::info!(column = %column, sampled = values.len(), "leak check: sampled a sensitive column");
        sensitive.push(Sampled { column, values });
    }
    let text_columns: Vec<Column> = columns.into_iter().filter(|c| c.text).collect();
    Ok(Prepared {
        family,
        settings: settings.clone(),
        detectors,
        text_columns,
        sensitive,
        allow,
    })
}

fn count(rows: &[Vec<Option<String>>]) -> u64 {
    rows.first()
        .and_then(|r| r.first())
        .and_then(|v| v.as_deref())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// After the script: how many sampled values remain, and where the detectors fire.
pub async fn check<S: Session>(
    session: &mut S,
    prepared: &Prepared,
) -> Result<LeakReport, LeakError> {
    let family = prepared.family;
    let mut report = LeakReport {
        passed: true,
        sample_values: prepared.settings.sample_values,
        scan_rows: prepared.settings.scan_rows,
        value_prefix_chars: VALUE_PREFIX_CHARS,
        detectors: prepared.detectors.names(),
        sensitive: Vec::new(),
        text_columns_scanned: 0,
        hits: Vec::new(),
    };
    for s in &prepared.sensitive {
        let text = as_text(family, &s.column);
        let mut remaining = 0;
        for batch in s.values.chunks(BATCH) {
            let marks: Vec<String> = (1..=batch.len())
                .map(|i| match family {
                    Family::Postgres => format!("${i}"),
                    Family::Mysql => "?".to_owned(),
                })
                .collect();
            let total = match family {
                Family::Postgres => format!("count(DISTINCT {text})::text"),
                Family::Mysql => format!("CAST(COUNT(DISTINCT {text}) AS CHAR)"),
            };
            let sql = format!(
                "SELECT {total} FROM {} WHERE {text} IN ({})",
                table_sql(family, &s.column),
                marks.join(", ")
            );
            let params: Vec<&str> = batch.iter().map(String::as_str).collect();
            let rows = session
                .query_text(&sql, &params)
                .await
                .map_err(db(format!("looking for sampled values in {}", s.column)))?;
            remaining += count(&rows);
        }
        let sampled = u64::try_from(s.values.len()).unwrap_or(u64::MAX);
        if remaining > 0 {
            report.passed = false;
            tracing::error!(column = %s.column, sampled, remaining, "leak check: sampled production values remain");
        }
        report.sensitive.push(SensitiveReport {
            column: s.column.to_string(),
            sampled,
            remaining,
        });
    }
    for c in &prepared.text_columns {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} IS NOT NULL LIMIT {}",
            catalog::prefix(family, c, VALUE_PREFIX_CHARS),
            table_sql(family, c),
            quote_ident(family, &c.column),
            prepared.settings.scan_rows
        );
        let rows = session
            .query_text(&sql, &[])
            .await
            .map_err(db(format!("scanning {c}")))?;
        report.text_columns_scanned += 1;
        let mut fired: Vec<(&str, u64)> = Vec::new();
        for value in rows.iter().filter_map(|r| r.first()).flatten() {
            for name in prepared.detectors.fired(value) {
                match fired.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, n)) => *n += 1,
                    None => fired.push((name, 1)),
                }
            }
        }
        let allowed = prepared.allow.contains(c);
        for (detector, rows) in fired {
            if !allowed {
                report.passed = false;
                tracing::error!(column = %c, detector, rows, "leak check: a detector fired");
            }
            report.hits.push(DetectorHit {
                column: c.to_string(),
                detector: detector.to_owned(),
                rows,
                allowed,
            });
        }
    }
    tracing::info!(
        passed = report.passed,
        sensitive_columns = report.sensitive.len(),
        text_columns_scanned = report.text_columns_scanned,
        detector_hits = report.hits.len(),
        "leak check done"
    );
    Ok(report)
}

/// Why the report fails the gate: column names and counts only.
pub fn failure(report: &LeakReport) -> Option<String> {
    let mut why: Vec<String> = report
        .sensitive
        .iter()
        .filter(|s| s.remaining > 0)
        .map(|s| {
            format!(
                "{}: {} of {} sampled values remain",
                s.column, s.remaining, s.sampled
            )
        })
        .collect();
    why.extend(report.hits.iter().filter(|h| !h.allowed).map(|h| {
        format!(
            "{}: detector {} fired on {} of the rows scanned",
            h.column, h.detector, h.rows
        )
    }));
    (!why.is_empty()).then(|| format!("leak check failed: {}", why.join("; ")))
}
