//! Who copies for an instance: the [`Claim`] a run makes on an instance's state object, and
//! the [`Conflict`]s that make it leave the instance to another run. Read by [`crate::sync`].

use serde::Serialize;

use crate::error::StoreError;
use crate::ports::{ObjectStore, Precondition};
use crate::state::InstanceState;

/// A lease lasts this long past the run's deadline, for clocks that differ a little.
pub const LEASE_MARGIN_MS: i64 = 60 * 1000;

/// Who this run is and how long its claims last, for [`Lease`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The run's id (the Lambda request id).
    pub owner: String,
    /// The run's clock at its start, Unix ms: leases of other runs are judged against it.
    pub now: i64,
    /// Unix ms when this run's leases lapse: its deadline plus [`LEASE_MARGIN_MS`].
    pub until: i64,
}

impl Claim {
    /// A run `owner` starting at `now` that cannot outlive `deadline` (Unix ms).
    pub fn new(owner: impl Into<String>, now: i64, deadline: i64) -> Self {
        Self {
            owner: owner.into(),
            now,
            until: deadline.saturating_add(LEASE_MARGIN_MS),
        }
    }
}

impl Default for Claim {
    /// A run at time 0 with Lambda's longest timeout (15 minutes): for tests and benches.
    fn default() -> Self {
        Self::new("sluice", 0, 15 * 60 * 1000)
    }
}

/// Why a run left an instance to another run (or to the next one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "conflict", rename_all = "snake_case")]
pub enum Conflict {
    /// The state held another run's live lease: that run is copying for the instance.
    Leased {
        /// The lease's owner.
        owner: String,
        /// When it lapses, Unix ms.
        until: i64,
    },
    /// Another run claimed the instance between this run's read and its claim (S3 refused the
    /// conditional write): nothing was copied.
    ClaimLost,
    /// The state object changed while this run held its lease (written or deleted by someone
    /// else): this run's copies are in S3 but not recorded, and the next run copies them again.
    StateChanged,
}

/// The state object's body.
pub(crate) fn state_body(state: &InstanceState) -> bytes::Bytes {
    serde_json::to_vec(state).unwrap_or_default().into()
}

/// The last state, and the precondition under which this run may replace it. A missing
/// object is a first sync; an unreadable one starts over (with a warning: every file is copied
/// again, which is safe).
pub(crate) async fn load_state(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<(InstanceState, Precondition), StoreError> {
    let Some(object) = store.get(key).await? else {
        return Ok((InstanceState::new(), Precondition::Absent));
    };
    let state = serde_json::from_slice(&object.body).unwrap_or_else(|error| {
        tracing::warn!(key, %error, "state object unreadable: starting over");
        InstanceState::new()
    });
    Ok((state, Precondition::Matches(object.etag)))
}
