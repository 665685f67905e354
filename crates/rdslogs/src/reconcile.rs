//! Reconciliation: once in a while (by default once a day) a run checks that the copies the
//! state records are still in S3, and copies again those that are gone while RDS still has
//! the file. Read by [`crate::sync`] after [`crate::state::plan`].
//!
//! Between reconciliations "unchanged" is decided from the state object alone (one GET per
//! instance). A reconciling run lists `<prefix>/<instance>/` with `ListObjectsV2`: one request
//! per 1,000 objects, only when some file is unchanged (a file that changed is copied anyway).

use std::collections::BTreeSet;

use crate::error::StoreError;
use crate::ports::ObjectStore;
use crate::state::{InstanceState, Plan, Reason};

/// Whether a run at `now` reconciles, the last reconciliation being `last` (Unix ms) and
/// reconciliations `every_ms` apart. Never reconciled, or a time ahead of `now` (a clock
/// that was wrong): due.
pub fn due(last: Option<i64>, now: i64, every_ms: i64) -> bool {
    last.is_none_or(|last| now < last || now - last >= every_ms)
}

/// Every key under `prefix`, page after page.
pub async fn keys_under(
    store: &dyn ObjectStore,
    prefix: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let mut keys = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let page = store.list_page(prefix, token.as_deref()).await?;
        keys.extend(page.keys);
        match page.next {
            Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
            _ => return Ok(keys),
        }
    }
}

/// Moves each unchanged file whose recorded copy is not in `present` to the files to copy,
/// as [`Reason::Missing`]; the names moved.
pub fn restore_missing(
    plan: &mut Plan,
    state: &InstanceState,
    present: &BTreeSet<String>,
) -> Vec<String> {
    let (missing, kept): (Vec<String>, Vec<String>) = std::mem::take(&mut plan.unchanged)
        .into_iter()
        .partition(|name| {
            state
                .files
                .get(name)
                .is_some_and(|r| !present.contains(&r.key))
        });
    plan.unchanged = kept;
    for name in &missing {
        if let Some(r) = state.files.get(name) {
            let file = crate::state::LogFile {
                name: name.clone(),
                size: r.size,
                last_written: r.last_written,
            };
            plan.copy.push((file, Reason::Missing));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{CountingStore, LIST_PAGE_KEYS, MemoryStore};
    use crate::state::{FileRecord, LogFile, plan};

    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn given_last_reconciliation_then_due_once_the_interval_passed() {
        assert!(due(None, 0, DAY), "never reconciled");
        assert!(!due(Some(10), 10 + DAY - 1, DAY));
        assert!(due(Some(10), 10 + DAY, DAY));
        assert!(due(Some(10 + DAY), 10, DAY), "recorded in the future");
        assert!(due(Some(10), 10, 0), "0: every run");
    }

    #[tokio::test]
    async fn given_more_keys_than_a_page_then_all_listed_at_one_request_per_thousand() {
        let store = CountingStore::new(MemoryStore::default());
        let n = 2 * LIST_PAGE_KEYS + 1;
        for i in 0..n {
            store
                .inner()
                .put(&format!("p/db1/{i:05}"), bytes::Bytes::new())
                .await
                .expect("put");
        }
        store
            .inner()
            .put("p/db10/x", bytes::Bytes::new())
            .await
            .expect("put");
        store
            .inner()
            .put("p/_state/db1.json", bytes::Bytes::new())
            .await
            .expect("put");
        let keys = keys_under(&store, "p/db1/").await.expect("list");
        assert_eq!(keys.len(), n);
        assert_eq!(store.requests(), 3);
    }

    #[test]
    fn given_unchanged_files_then_only_those_whose_copy_is_gone_are_copied_again() {
        let listing = [
            LogFile {
                name: "kept".into(),
                size: 1,
                last_written: 1,
            },
            LogFile {
                name: "deleted".into(),
                size: 2,
                last_written: 2,
            },
        ];
        let mut state = InstanceState::new();
        for f in &listing {
            let record = FileRecord {
                size: f.size,
                last_written: f.last_written,
                key: format!("p/db1/{}", f.name),
                source_size: 0,
                gzip: false,
            };
            state.files.insert(f.name.clone(), record);
        }
        let mut p = plan(&listing, &state, false);
        let present = BTreeSet::from(["p/db1/kept".to_owned()]);
        assert_eq!(restore_missing(&mut p, &state, &present), vec!["deleted"]);
        assert_eq!(p.unchanged, vec!["kept".to_owned()]);
        assert_eq!(p.copy, vec![(listing[1].clone(), Reason::Missing)]);
    }
}
