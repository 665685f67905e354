//! The decisions of the sanitized-snapshot pipeline that need no AWS call, so every step
//! function (and its tests) shares one reading of RDS's rules:
//!
//! - [`ids`]: identifiers within RDS limits, and the unique name of a sanitized snapshot;
//! - [`status`]: what a resource status means for a waiting step (ready, not yet, never);
//! - [`share`]: the accounts a snapshot may be shared with, and when a copy under a
//!   customer-managed key is required first;
//! - [`retention`]: which sanitized snapshots pruning deletes;
//! - [`restore_testing`]: which AWS Backup restore-testing jobs a validation acts on, and the
//!   result it posts.

pub mod backup;
pub mod ids;
pub mod restore_testing;
pub mod retention;
pub mod share;
pub mod status;
