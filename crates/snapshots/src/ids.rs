//! RDS identifiers.
//!
//! DB instance, DB cluster and DB cluster snapshot identifiers are 1–63 characters; DB snapshot
//! identifiers 1–255. All start with a letter, hold only ASCII letters, digits and hyphens,
//! never two hyphens in a row, and never end with a hyphen. RDS stores them lower-cased.

/// What an identifier names; each kind has its own length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `DBInstanceIdentifier`.
    Instance,
    /// `DBClusterIdentifier`.
    Cluster,
    /// `DBSnapshotIdentifier`.
    Snapshot,
    /// `DBClusterSnapshotIdentifier`.
    ClusterSnapshot,
}

impl IdKind {
    /// The longest identifier RDS accepts for this kind.
    pub const fn max_len(self) -> usize {
        match self {
            Self::Snapshot => 255,
            Self::Instance | Self::Cluster | Self::ClusterSnapshot => 63,
        }
    }

    /// The API field name, for errors.
    pub const fn field(self) -> &'static str {
        match self {
            Self::Instance => "DBInstanceIdentifier",
            Self::Cluster => "DBClusterIdentifier",
            Self::Snapshot => "DBSnapshotIdentifier",
            Self::ClusterSnapshot => "DBClusterSnapshotIdentifier",
        }
    }
}

/// Why an identifier is refused; every variant names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty or longer than the kind allows.
    #[error("{field} {id:?} must be 1 to {max} characters (it has {len})")]
    Length {
        /// The API field.
        field: &'static str,
        /// The refused value.
        id: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Does not start with a letter.
    #[error("{field} {id:?} must start with a letter")]
    FirstChar {
        /// The API field.
        field: &'static str,
        /// The refused value.
        id: String,
    },
    /// Holds something other than letters, digits and hyphens.
    #[error("{field} {id:?} may hold only letters, digits and hyphens")]
    Charset {
        /// The API field.
        field: &'static str,
        /// The refused value.
        id: String,
    },
    /// Two hyphens in a row, or a trailing hyphen.
    #[error("{field} {id:?} may not contain two consecutive hyphens or end with a hyphen")]
    Hyphens {
        /// The API field.
        field: &'static str,
        /// The refused value.
        id: String,
    },
}

/// Checks `id` against the rules for `kind`.
pub fn validate(kind: IdKind, id: &str) -> Result<(), IdError> {
    let field = kind.field();
    let owned = || id.to_owned();
    if id.is_empty() || id.len() > kind.max_len() {
        return Err(IdError::Length {
            field,
            id: owned(),
            len: id.len(),
            max: kind.max_len(),
        });
    }
    if !id.as_bytes()[0].is_ascii_alphabetic() {
        return Err(IdError::FirstChar { field, id: owned() });
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(IdError::Charset { field, id: owned() });
    }
    if id.contains("--") || id.ends_with('-') {
        return Err(IdError::Hyphens { field, id: owned() });
    }
    Ok(())
}

/// A UTC time, to the second, as the pieces a snapshot name needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcStamp {
    /// Year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–60.
    pub second: u8,
}

impl UtcStamp {
    /// The UTC time of `epoch_secs` (years outside 0–9999 are clamped into it).
    pub fn from_epoch_secs(epoch_secs: i64) -> Self {
        let (year, month, day) = sluice_time::date_of_ms(epoch_secs.saturating_mul(1_000));
        let secs = epoch_secs.rem_euclid(86_400);
        // Every value is in range by construction.
        Self {
            year: year.clamp(0, 9_999) as u16,
            month: month as u8,
            day: day as u8,
            hour: (secs / 3_600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        }
    }

    /// `yyyymmdd-hhmmss`, the suffix of a snapshot name (15 characters).
    pub fn suffix(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The name of a sanitized snapshot: `<prefix>-<yyyymmdd-hhmmss>` lower-cased, the prefix cut
/// (never the time) so that the whole fits `kind`; refused when the prefix itself is invalid.
pub fn snapshot_name(kind: IdKind, prefix: &str, at: UtcStamp) -> Result<String, IdError> {
    let suffix = at.suffix();
    let room = kind.max_len() - suffix.len() - 1;
    let prefix = prefix.to_ascii_lowercase();
    let mut cut = &prefix[..prefix.len().min(room)];
    // Cutting can leave a trailing hyphen; the joining hyphen would then double it.
    while cut.ends_with('-') {
        cut = &cut[..cut.len() - 1];
    }
    let name = format!("{cut}-{suffix}");
    validate(kind, &name).map_err(|_| {
        // Report the prefix the user configured, which is what needs changing.
        match validate(kind, &prefix) {
            Err(e) => e,
            Ok(()) => IdError::Charset {
                field: kind.field(),
                id: name.clone(),
            },
        }
    })?;
    Ok(name)
}

/// The identifier of a temporary resource of run `run_id`: `<prefix>-<run id>` within 63
/// characters, lower-cased, with anything RDS refuses turned into hyphens.
pub fn temp_name(prefix: &str, run_id: &str) -> Result<String, IdError> {
    let raw = format!("{prefix}-{run_id}").to_ascii_lowercase();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.truncate(IdKind::Instance.max_len());
    while out.ends_with('-') {
        out.pop();
    }
    validate(IdKind::Instance, &out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AT: UtcStamp = UtcStamp {
        year: 2026,
        month: 11,
        day: 22,
        hour: 13,
        minute: 5,
        second: 9,
    };

    #[test]
    fn given_rds_rules_when_validated_then_each_violation_named() {
        assert!(validate(IdKind::Instance, "prod-db-1").is_ok());
        assert!(matches!(
            validate(IdKind::Instance, "1db"),
            Err(IdError::FirstChar { .. })
        ));
        assert!(matches!(
            validate(IdKind::Instance, "db_1"),
            Err(IdError::Charset { .. })
        ));
        assert!(matches!(
            validate(IdKind::Instance, "db--1"),
            Err(IdError::Hyphens { .. })
        ));
        assert!(matches!(
            validate(IdKind::Instance, "db-"),
            Err(IdError::Hyphens { .. })
        ));
        let long = "a".repeat(64);
        let err = validate(IdKind::Cluster, &long).unwrap_err();
        assert!(err.to_string().contains("DBClusterIdentifier"), "{err}");
        assert!(validate(IdKind::Snapshot, &long).is_ok());
        assert!(validate(IdKind::Snapshot, &"a".repeat(256)).is_err());
    }

    #[test]
    fn given_epoch_seconds_then_utc_stamp() {
        // 2026-11-22T13:05:09Z
        assert_eq!(UtcStamp::from_epoch_secs(1_795_352_709), AT);
    }

    #[test]
    fn given_prefix_when_named_then_timestamp_suffix_and_lower_case() {
        assert_eq!(
            snapshot_name(IdKind::Snapshot, "Sanitized-Orders", AT).unwrap(),
            "sanitized-orders-20261122-130509"
        );
    }

    #[test]
    fn given_long_prefix_when_named_for_cluster_then_prefix_cut_not_time() {
        let name = snapshot_name(IdKind::ClusterSnapshot, &"p".repeat(80), AT).unwrap();
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-20261122-130509"));
        // A cut landing on a hyphen never doubles it.
        let name = snapshot_name(
            IdKind::ClusterSnapshot,
            &format!("{}-x", "p".repeat(47)),
            AT,
        )
        .unwrap();
        assert!(!name.contains("--"), "{name}");
    }

    #[test]
    fn given_invalid_prefix_when_named_then_error_names_prefix() {
        let err = snapshot_name(IdKind::Snapshot, "9lives", AT).unwrap_err();
        assert!(matches!(err, IdError::FirstChar { ref id, .. } if id == "9lives"));
        assert!(snapshot_name(IdKind::Snapshot, "a_b", AT).is_err());
    }

    #[test]
    fn given_run_id_when_temp_name_then_valid_instance_id() {
        assert_eq!(
            temp_name("sluice-tmp", "Run_2026.11.22--x").unwrap(),
            "sluice-tmp-run-2026-11-22-x"
        );
    }

    proptest! {
        #[test]
        fn temp_names_are_always_valid_or_refused_clearly(prefix in "[a-z][a-z0-9-]{0,30}", run in "\\PC{0,100}") {
            if let Ok(name) = temp_name(&prefix, &run) {
                prop_assert!(validate(IdKind::Instance, &name).is_ok());
                prop_assert!(validate(IdKind::ClusterSnapshot, &name).is_ok());
            }
        }

        #[test]
        fn snapshot_names_fit_every_kind(prefix in "[a-zA-Z][a-zA-Z0-9-]{0,300}") {
            for kind in [IdKind::Snapshot, IdKind::ClusterSnapshot] {
                if let Ok(name) = snapshot_name(kind, &prefix, AT) {
                    prop_assert!(validate(kind, &name).is_ok());
                    prop_assert!(name.ends_with(&AT.suffix()));
                } else {
                    prop_assert!(prefix.contains("--") || prefix.ends_with('-'));
                }
            }
        }
    }
}
