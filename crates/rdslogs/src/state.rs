//! What was copied last time, and what to copy now (pure).
//!
//! One small JSON object per instance (`<prefix>/_state/<instance>.json`) remembers, per log
//! file, the size and last-written time RDS reported when its copy completed. [`plan`] compares
//! a fresh `DescribeDBLogFiles` listing with it: unchanged files are skipped without touching
//! S3, so a no-change run costs one GET per instance.
//!
//! It also remembers files a run listed but could not copy completely ([`InstanceState::pending`]),
//! so that one RDS rotates away before a later run copied it is counted as lost
//! ([`Plan::lost`]), and when the instance's copies were last checked against S3
//! ([`InstanceState::reconciled_at`], see [`crate::reconcile`]).
//!
//! The object also carries the [`Lease`] of a run that is copying for the instance: runs that
//! overlap (a manual invocation, a retry, a schedule firing while a long run goes on) leave an
//! instance alone while another run's lease on it is live (see [`Lease::blocks`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A log file as `DescribeDBLogFiles` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    /// The file's name, folders included (`error/postgresql.log.2026-11-22-13`).
    pub name: String,
    /// Size in bytes as reported.
    pub size: i64,
    /// Last-written time, Unix milliseconds.
    pub last_written: i64,
}

/// The record of one completed copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Size RDS reported when the copy was planned.
    pub size: i64,
    /// Last-written time RDS reported, Unix ms.
    pub last_written: i64,
    /// Where the copy is.
    pub key: String,
    /// Bytes read from RDS (the object's size unless gzipped).
    pub source_size: u64,
    /// Whether the object is gzip-compressed.
    pub gzip: bool,
}

/// Everything known about one instance's copies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    /// Format version, for future migrations.
    #[serde(default = "version_one")]
    pub version: u32,
    /// Per log file name.
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
    /// Files a run listed but did not copy completely (the copy failed, broke off or the file
    /// grew meanwhile), as last listed: each is copied again while RDS lists it, and counted
    /// as lost ([`Plan::lost`]) when RDS no longer does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Seen>,
    /// When a run last checked that the copies recorded here are in S3, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<i64>,
    /// The run copying for this instance right now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

/// A file as a run listed it, for [`InstanceState::pending`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Size in bytes RDS listed.
    pub size: i64,
    /// Last-written time RDS listed, Unix ms.
    pub last_written: i64,
}

/// A run's claim on an instance, written into the state object (conditionally) before the
/// run copies anything and removed when it records what it copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it: the Lambda request id of the run (for logs and operators).
    pub owner: String,
    /// Unix ms after which the claim lapses: the holder's deadline plus a margin, so a run
    /// that was killed (timeout, crash) blocks the instance no longer than that.
    pub until: i64,
}

/// The longest a lease may still run, from the reader's clock: a Lambda run lasts at most
/// 15 minutes, plus the margin. A lease claiming more (a writer with a broken clock) is
/// ignored rather than blocking the instance for as long as it says.
pub const MAX_LEASE_MS: i64 = 17 * 60 * 1000;

impl Lease {
    /// Whether this lease keeps a run at `now` (Unix ms) away from the instance: it has not
    /// lapsed, and it does not claim more than [`MAX_LEASE_MS`] from `now`.
    pub fn blocks(&self, now: i64) -> bool {
        self.until > now && self.until - now <= MAX_LEASE_MS
    }
}

fn version_one() -> u32 {
    1
}

impl InstanceState {
    /// An empty state (first sync).
    pub fn new() -> Self {
        Self {
            version: 1,
            files: BTreeMap::new(),
            pending: BTreeMap::new(),
            reconciled_at: None,
            lease: None,
        }
    }
}

/// Why a file is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Never copied before.
    New,
    /// Larger than, or rewritten since, the last copy.
    Changed,
    /// Smaller than the last copy: the file was rotated and started over.
    Rotated,
    /// Unchanged, but its copy is gone from S3 (found by a reconciling run).
    Missing,
}

/// What one run should do for one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files to copy, with why.
    pub copy: Vec<(LogFile, Reason)>,
    /// Files whose size and last-written time match the last copy.
    pub unchanged: Vec<String>,
    /// Files in the state that RDS no longer lists (rotated away); their copies stay in S3.
    pub vanished: Vec<String>,
    /// Pending files (listed by an earlier run, never copied completely) that RDS no longer
    /// lists: rotated away before they were copied, their (last) content is lost.
    pub lost: Vec<String>,
}

/// Compares a listing with the last state.
///
/// A file is unchanged only when both its size and last-written time equal the record's.
/// When `only_listed_filter` is set (a name or last-written filter narrowed the listing),
/// unlisted files are not reported as vanished: the listing is not the whole truth.
pub fn plan(listing: &[LogFile], state: &InstanceState, only_listed_filter: bool) -> Plan {
    let mut out = Plan::default();
    for file in listing {
        match state.files.get(&file.name) {
            None => out.copy.push((file.clone(), Reason::New)),
            Some(r) if r.size == file.size && r.last_written == file.last_written => {
                out.unchanged.push(file.name.clone());
            }
            Some(r) if file.size < r.size => out.copy.push((file.clone(), Reason::Rotated)),
            Some(_) => out.copy.push((file.clone(), Reason::Changed)),
        }
    }
    if !only_listed_filter {
        let listed: std::collections::BTreeSet<&str> =
            listing.iter().map(|f| f.name.as_str()).collect();
        out.vanished = state
            .files
            .keys()
            .filter(|k| !listed.contains(k.as_str()))
            .cloned()
            .collect();
        out.lost = state
            .pending
            .keys()
            .filter(|k| !listed.contains(k.as_str()))
            .cloned()
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(name: &str, size: i64, last_written: i64) -> LogFile {
        LogFile {
            name: name.into(),
            size,
            last_written,
        }
    }

    fn state(files: &[LogFile]) -> InstanceState {
        let mut s = InstanceState::new();
        for f in files {
            s.files.insert(
                f.name.clone(),
                FileRecord {
                    size: f.size,
                    last_written: f.last_written,
                    key: format!("k/{}", f.name),
                    source_size: f.size as u64,
                    gzip: false,
                },
            );
        }
        s
    }

    #[test]
    fn given_empty_state_when_planning_then_every_file_is_new() {
        let listing = [file("a", 1, 1), file("b", 2, 2)];
        let p = plan(&listing, &InstanceState::new(), false);
        assert_eq!(p.copy.len(), 2);
        assert!(p.copy.iter().all(|(_, r)| *r == Reason::New));
    }

    #[test]
    fn given_same_size_and_time_then_unchanged() {
        let listing = [file("a", 10, 5)];
        let p = plan(&listing, &state(&listing), false);
        assert!(p.copy.is_empty());
        assert_eq!(p.unchanged, vec!["a".to_owned()]);
    }

    #[test]
    fn given_growth_or_touch_then_changed_and_shrink_then_rotated() {
        let old = [
            file("grew", 10, 5),
            file("touched", 10, 5),
            file("shrank", 10, 5),
        ];
        let new = [
            file("grew", 20, 6),
            file("touched", 10, 7),
            file("shrank", 3, 8),
        ];
        let p = plan(&new, &state(&old), false);
        let reasons: Vec<_> = p.copy.iter().map(|(f, r)| (f.name.as_str(), *r)).collect();
        assert_eq!(
            reasons,
            vec![
                ("grew", Reason::Changed),
                ("touched", Reason::Changed),
                ("shrank", Reason::Rotated)
            ]
        );
    }

    #[test]
    fn given_file_gone_from_listing_then_vanished_unless_listing_was_filtered() {
        let old = [file("gone", 1, 1), file("kept", 1, 1)];
        let new = [file("kept", 1, 1)];
        assert_eq!(
            plan(&new, &state(&old), false).vanished,
            vec!["gone".to_owned()]
        );
        assert!(plan(&new, &state(&old), true).vanished.is_empty());
    }

    #[test]
    fn given_pending_file_gone_from_listing_then_lost_unless_listing_was_filtered() {
        let mut old = state(&[file("copied", 1, 1)]);
        for name in ["cut", "retried"] {
            let seen = Seen {
                size: 9,
                last_written: 2,
            };
            old.pending.insert(name.into(), seen);
        }
        let new = [file("copied", 1, 1), file("retried", 9, 2)];
        let p = plan(&new, &old, false);
        assert_eq!(p.lost, vec!["cut".to_owned()]);
        assert!(p.vanished.is_empty(), "never recorded as copied");
        assert_eq!(
            p.copy.len(),
            1,
            "the pending file still listed is copied again"
        );
        assert!(plan(&new, &old, true).lost.is_empty());
    }

    #[test]
    fn given_lease_then_it_blocks_until_it_lapses_and_never_beyond_the_maximum() {
        let lease = |until| Lease {
            owner: "run-a".into(),
            until,
        };
        assert!(lease(1_000).blocks(999));
        assert!(!lease(1_000).blocks(1_000), "lapsed at `until`");
        assert!(lease(MAX_LEASE_MS).blocks(0));
        assert!(
            !lease(MAX_LEASE_MS + 1).blocks(0),
            "claims too long: ignored"
        );
    }

    #[test]
    fn given_state_without_lease_then_json_has_no_lease_field_and_round_trips() {
        let plain = InstanceState::new();
        let json = serde_json::to_string(&plain).expect("json");
        assert!(!json.contains("lease"), "{json}");
        let leased = InstanceState {
            lease: Some(Lease {
                owner: "r".into(),
                until: 5,
            }),
            ..InstanceState::new()
        };
        let back: InstanceState =
            serde_json::from_slice(&serde_json::to_vec(&leased).expect("json")).expect("parse");
        assert_eq!(back, leased);
    }

    #[test]
    fn given_state_json_without_version_then_it_still_parses() {
        let s: InstanceState = serde_json::from_str(r#"{"files":{}}"#).expect("parse");
        assert_eq!(s, InstanceState::new());
    }

    proptest! {
        #[test]
        fn given_any_listing_then_each_file_is_copied_or_unchanged_exactly_once(
            old in proptest::collection::btree_map("[a-c]{1,2}", (0i64..5, 0i64..5), 0..8),
            new in proptest::collection::btree_map("[a-c]{1,2}", (0i64..5, 0i64..5), 0..8),
        ) {
            let old: Vec<_> = old.into_iter().map(|(n, (s, t))| file(&n, s, t)).collect();
            let new: Vec<_> = new.into_iter().map(|(n, (s, t))| file(&n, s, t)).collect();
            let st = state(&old);
            let p = plan(&new, &st, false);
            prop_assert_eq!(p.copy.len() + p.unchanged.len(), new.len());
            for (f, _) in &p.copy {
                let rec = st.files.get(&f.name);
                prop_assert!(rec.is_none_or(|r| r.size != f.size || r.last_written != f.last_written));
            }
            for name in &p.vanished {
                prop_assert!(!new.iter().any(|f| &f.name == name));
                prop_assert!(st.files.contains_key(name));
            }
            // A run that records every copy makes the next plan copy nothing.
            let mut after = st.clone();
            for f in &new {
                after.files.insert(f.name.clone(), FileRecord {
                    size: f.size, last_written: f.last_written, key: String::new(),
                    source_size: 0, gzip: false,
                });
            }
            prop_assert!(plan(&new, &after, false).copy.is_empty());
        }
    }
}
