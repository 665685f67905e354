//! Which sanitized snapshots pruning deletes.
//!
//! Only snapshots Sluice made for this source are candidates: they carry the
//! `sluice:role=sanitized` tag and the source's `sluice:source` tag. An untagged snapshot, or
//! one of another source, is never selected, whatever its name. The newest `keep` survive;
//! the caller lists every page before choosing, so "newest" is over all of them.

/// Tag key marking what Sluice made a resource for.
pub const ROLE_TAG: &str = "sluice:role";
/// [`ROLE_TAG`] value of a sanitized snapshot.
pub const ROLE_SANITIZED: &str = "sanitized";
/// Tag key naming the source database of a sanitized snapshot.
pub const SOURCE_TAG: &str = "sluice:source";

/// One snapshot as listed: id, creation time (epoch seconds; `None` while creating) and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Snapshot identifier.
    pub id: String,
    /// Creation time, epoch seconds.
    pub created: Option<i64>,
    /// Tags as (key, value).
    pub tags: Vec<(String, String)>,
}

impl Listed {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether Sluice made this snapshot as a sanitized copy of `source`.
    pub fn is_sanitized_of(&self, source: &str) -> bool {
        self.tag(ROLE_TAG) == Some(ROLE_SANITIZED) && self.tag(SOURCE_TAG) == Some(source)
    }
}

/// The ids to delete so that only the newest `keep` sanitized snapshots of `source` remain.
/// Snapshots still being created (no creation time) are kept and not counted.
pub fn to_prune(listed: &[Listed], source: &str, keep: usize) -> Vec<String> {
    let mut ours: Vec<(i64, &str)> = listed
        .iter()
        .filter(|s| s.is_sanitized_of(source))
        .filter_map(|s| Some((s.created?, s.id.as_str())))
        .collect();
    // Newest first; equal times ordered by id so the choice is stable.
    ours.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    ours.into_iter()
        .skip(keep)
        .map(|(_, id)| id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn snap(id: &str, created: Option<i64>, source: Option<&str>) -> Listed {
        let mut tags = Vec::new();
        if let Some(src) = source {
            tags.push((ROLE_TAG.to_owned(), ROLE_SANITIZED.to_owned()));
            tags.push((SOURCE_TAG.to_owned(), src.to_owned()));
        }
        Listed {
            id: id.to_owned(),
            created,
            tags,
        }
    }

    #[test]
    fn given_mixed_snapshots_when_pruned_then_only_old_tagged_ones_of_source() {
        let listed = vec![
            snap("s1", Some(100), Some("orders")),
            snap("s2", Some(300), Some("orders")),
            snap("s3", Some(200), Some("orders")),
            snap("untagged-old", Some(1), None),
            snap("other-source", Some(2), Some("billing")),
            snap("in-progress", None, Some("orders")),
        ];
        assert_eq!(to_prune(&listed, "orders", 1), ["s3", "s1"]);
        assert!(to_prune(&listed, "orders", 3).is_empty());
    }

    proptest! {
        #[test]
        fn never_an_untagged_or_foreign_snapshot_and_newest_kept(
            items in prop::collection::vec((0i64..50, 0u8..3), 0..40),
            keep in 0usize..10,
        ) {
            let listed: Vec<Listed> = items.iter().enumerate().map(|(i, (t, kind))| {
                let source = match kind { 0 => Some("db"), 1 => Some("other"), _ => None };
                snap(&format!("s{i}"), Some(*t), source)
            }).collect();
            let pruned = to_prune(&listed, "db", keep);
            let ours: Vec<&Listed> = listed.iter().filter(|s| s.is_sanitized_of("db")).collect();
            prop_assert_eq!(pruned.len(), ours.len().saturating_sub(keep));
            for id in &pruned {
                let s = listed.iter().find(|s| &s.id == id).unwrap();
                prop_assert!(s.is_sanitized_of("db"));
                // Everything kept is at least as new as everything pruned.
                for k in ours.iter().filter(|k| !pruned.contains(&k.id)) {
                    prop_assert!(k.created >= s.created);
                }
            }
        }
    }
}
