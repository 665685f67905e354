//! The JSON summary the task prints on stdout: what ran, rows affected, the verification gate.

use serde::Serialize;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything ran, verification passed, changes are committed.
    Succeeded,
    /// Dry run: everything ran and passed, then was rolled back.
    DryRunPassed,
    /// Validation mode: the verify queries returned no rows and the leak check passed,
    /// read-only (nothing ran that could write).
    ValidationPassed,
    /// A verification query returned rows (or failed).
    VerificationFailed,
    /// Configuration, connection, script or statement failure.
    Failed,
}

/// One sanitizing statement's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementReport {
    /// 1-based position in the script.
    pub index: usize,
    /// The statement (at most 500 characters).
    pub sql: String,
    /// Rows affected, when it ran.
    pub rows_affected: Option<u64>,
    /// How long it took.
    pub elapsed_ms: u64,
    /// The engine's error, when it failed.
    pub error: Option<String>,
}

/// One verification query's result. Row contents are never reported (they may hold PII).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationReport {
    /// 1-based position among the verification queries.
    pub index: usize,
    /// The query (at most 500 characters).
    pub sql: String,
    /// Rows it returned, when it ran.
    pub rows: Option<u64>,
    /// It ran and returned no rows.
    pub passed: bool,
    /// The engine's error, when it failed.
    pub error: Option<String>,
}

/// A sensitive column of the leak check: how many production values were sampled before the
/// script, and how many of those are still in the column after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensitiveReport {
    /// `schema.table.column`.
    pub column: String,
    /// Distinct non-blank values sampled before the script.
    pub sampled: u64,
    /// How many of them the column still holds after the script (0 to pass).
    pub remaining: u64,
}

/// A detector that fired on a text column after the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetectorHit {
    /// `schema.table.column`.
    pub column: String,
    /// The detector: `email`, `card`, or a configured pattern's name.
    pub detector: String,
    /// Rows (of those scanned) on which it fired.
    pub rows: u64,
    /// The column is declared with `-- @allow`, so the hit does not fail the gate.
    pub allowed: bool,
}

/// The leak check's result: column names and counts, never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakReport {
    /// No sampled value remains and no detector fired outside the allow-list.
    pub passed: bool,
    /// Setting: distinct values sampled per sensitive column, at most.
    pub sample_values: u64,
    /// Setting: rows scanned per text column, at most.
    pub scan_rows: u64,
    /// Characters of each value the detectors see.
    pub value_prefix_chars: u32,
    /// The detectors that ran.
    pub detectors: Vec<String>,
    /// Each `-- @sensitive` column.
    pub sensitive: Vec<SensitiveReport>,
    /// Text columns the detectors scanned.
    pub text_columns_scanned: u64,
    /// Every (column, detector) that fired, allowed or not.
    pub hits: Vec<DetectorHit>,
}

/// The whole run, printed as one JSON object on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How it ended.
    pub outcome: Outcome,
    /// Engine name, when known.
    pub engine: Option<String>,
    /// Database name, when known.
    pub database: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Validation mode: only the verify queries and the leak check ran, in a read-only
    /// transaction; the script's statements did not run.
    pub read_only: bool,
    /// Whether the statements ran in one transaction.
    pub transaction: bool,
    /// Whether the run committed its changes. Outside a transaction (MySQL-family engines,
    /// not a dry run) each statement commits as it runs, so a failed run may still have
    /// changed data: the pipeline then discards the temp database.
    pub committed: bool,
    /// Whether the transaction was rolled back.
    pub rolled_back: bool,
    /// Statements, in order, up to the first failure.
    pub statements: Vec<StatementReport>,
    /// Verification queries.
    pub verification: Vec<VerificationReport>,
    /// The leak check, when it ran to the end.
    pub leak_check: Option<LeakReport>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl Summary {
    /// An empty summary for a run about to start.
    pub fn new(dry_run: bool) -> Self {
        Self {
            outcome: Outcome::Failed,
            engine: None,
            database: None,
            dry_run,
            read_only: false,
            transaction: false,
            committed: false,
            rolled_back: false,
            statements: Vec::new(),
            verification: Vec::new(),
            leak_check: None,
            error: None,
        }
    }

    /// Marks the run failed with `why`.
    pub fn fail(&mut self, why: &str) {
        self.outcome = Outcome::Failed;
        self.error = Some(why.to_owned());
    }

    /// Whether the task should exit 0.
    pub fn ok(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Succeeded | Outcome::DryRunPassed | Outcome::ValidationPassed
        )
    }

    /// Replaces every occurrence of `secret` in the free-text fields (engine messages may
    /// echo what they were given).
    pub fn redact(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let scrub = |s: &mut Option<String>| {
            if let Some(text) = s {
                *text = text.replace(secret, "***");
            }
        };
        scrub(&mut self.error);
        for s in &mut self.statements {
            s.sql = s.sql.replace(secret, "***");
            scrub(&mut s.error);
        }
        for v in &mut self.verification {
            v.sql = v.sql.replace(secret, "***");
            scrub(&mut v.error);
        }
    }
}
