//! CloudWatch Logs subscription payloads: size-capped decode and formatting.
//!
//! A subscription filter (or an account-level subscription policy) delivers log events as
//! gzip-compressed JSON ([`Payload`]); inside Firehose each record's data is that gzip (the
//! `sluice-firehose` crate undoes the base64). The CloudWatch processor [`decode`]s a record,
//! skips `CONTROL_MESSAGE`s, writes the events out with [`format_into`], and when the result is too
//! big for one Firehose record, re-ingests the payload in halves ([`split_in_halves`], [`encode`]).
//!
//! Wire format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html>
//! (the "examples" show the decompressed JSON).

mod decode;
mod format;
mod model;
mod split;
mod time;

pub use decode::{DecodeError, decode, decode_all};
pub use format::{Format, format_into, formatted_len};
pub use model::{LogEvent, MessageType, Payload};
pub use split::{EncodeError, encode, encode_within, split_in_halves};
