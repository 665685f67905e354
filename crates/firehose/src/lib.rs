//! The Firehose data-transformation contract: per-record results, partition keys, the 6 MB budget.
//!
//! Firehose invokes a transformation Lambda synchronously with a [`FirehoseEvent`]; the function
//! must answer with a [`FirehoseResponse`] that echoes every `recordId` exactly once, in order, each
//! with a [`RecordResult`] of `Ok`, `Dropped` or `ProcessingFailed`, optionally carrying partition
//! keys for dynamic partitioning. The whole response must fit in Lambda's 6 MB synchronous response
//! limit; [`ResponseBudget`] tracks its exact JSON size while the handler builds it, and
//! [`ResponseWriter`] writes it, answer by answer, as the JSON text the function returns.
//!
//! Wire contract: <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>.
//! We use our own serde types rather than `aws_lambda_events`, whose result constants are wrong.

mod budget;
mod contract;
mod event;
mod partition;
mod response;
mod writer;

pub use budget::{DEFAULT_SAFETY_MARGIN, ResponseBudget};
pub use contract::{ContractError, check_contract};
pub use event::{DecodeError, FirehoseEvent, FirehoseRecord};
pub use partition::{MAX_PARTITION_VALUE_LEN, date_keys, sanitize_partition_value};
pub use response::{FirehoseResponse, Metadata, RecordResult, ResponseRecord};
pub use writer::ResponseWriter;

/// Lambda's synchronous response payload limit; a Firehose transformation response must fit in it.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// Largest record Firehose accepts (before base64), including transformed records.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// Most records one `PutRecordBatch` call may carry (used when re-ingesting).
pub const PUT_RECORD_BATCH_MAX_RECORDS: usize = 500;

/// Most bytes (sum of record data) one `PutRecordBatch` call may carry (used when re-ingesting).
pub const PUT_RECORD_BATCH_MAX_BYTES: usize = 4 * 1024 * 1024;
