//! RDS log sync: copies RDS log files to S3, only what changed since the last run.
//!
//! The flow, pure steps first:
//! 1. [`naming`]: where a file lands (`<prefix>/<instance>/<yyyy>/<mm>/<dd>/<file>`);
//! 2. [`state`]: the per-instance state object and the listing-vs-state [`state::plan`];
//! 3. [`copy`]: one download streamed into S3 (single put or multipart, optional gzip);
//! 4. [`sync`]: a run over instances and files, bounded parallelism, per-instance reports.
//!
//! AWS sits behind the traits in [`ports`]: [`rds`] (DescribeDBInstances, DescribeDBLogFiles
//! and the SigV4-signed `downloadCompleteLogFile` REST call in [`download`]) and [`s3`].

pub mod copy;
pub mod download;
pub mod error;
pub mod memory;
pub mod naming;
pub mod ports;
pub mod rds;
pub mod s3;
pub mod state;
pub mod sync;

pub use error::{CopyError, DownloadError, InstanceError, StoreError};
pub use ports::{ListFilter, LogSource, ObjectStore, Selection};
pub use state::{InstanceState, LogFile};
pub use sync::{InstanceReport, SyncOptions, sync_all};
