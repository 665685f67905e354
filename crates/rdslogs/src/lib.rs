//! RDS log sync: copies RDS log files to S3, only what changed since the last run.
//!
//! The flow, pure steps first:
//! 1. [`naming`]: where a file lands (`<prefix>/<instance>/<yyyy>/<mm>/<dd>/<file>`);
//! 2. [`state`]: the per-instance state object and the listing-vs-state [`state::plan`];
//! 3. [`copy`]: one download streamed into S3 (single put or multipart, optional gzip), parts
//!    uploading at once within the run's memory [`budget`];
//! 4. [`sync`]: a run over instances and files, bounded parallelism, per-instance reports;
//!    [`claim`]: one run at a time per instance, by conditional writes of the state object;
//!    [`reconcile`]: once a day, the recorded copies checked against S3;
//!    [`report`]: what a run did, per instance and file.
//!
//! AWS sits behind the traits in [`ports`]: [`rds`] (DescribeDBInstances, DescribeDBLogFiles
//! and the SigV4-signed `downloadCompleteLogFile` REST call in [`download`]) and [`s3`].

pub mod budget;
pub mod claim;
pub mod copy;
pub mod download;
pub mod error;
pub mod memory;
pub mod naming;
pub mod ports;
pub mod rds;
pub mod reconcile;
pub mod report;
pub mod s3;
pub mod slow_parts;
pub mod state;
pub mod sync;

pub use error::{CopyError, DownloadError, InstanceError, StoreError};
pub use ports::{
    Conditional, KeyPage, ListFilter, LogSource, ObjectStore, Precondition, Selection, Tagged,
};
pub use state::{InstanceState, Lease, LogFile};
pub use sync::{Claim, Conflict, InstanceReport, SyncOptions, sync_all};
