//! CloudWatch Logs subscription payloads: size-capped decode and formatting.
//!
//! A subscription filter (or an account-level subscription policy) delivers log events as
//! gzip-compressed JSON ([`Payload`]); inside Firehose each record's data is that gzip (the
//! `sluice-firehose` crate undoes the base64). The CloudWatch processor [`decompress`]es a record
//! and parses a borrowed [`PayloadView`] of it (strings point into the decompressed bytes), skips
//! `CONTROL_MESSAGE`s and writes the events out with [`PayloadView::format_into`]. When the result
//! is too big for one Firehose record, it [`decode`]s the owned [`Payload`] (unknown fields kept)
//! and re-ingests it in runs of events that fit ([`formatted_len_of`], [`encode_events`]);
//! [`format_into`] formats that.
//!
//! Wire format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html>
//! (the "examples" show the decompressed JSON).

mod decode;
mod format;
mod model;
mod split;
mod time;
mod view;

pub use decode::{DecodeError, decode, decode_all, decompress};
pub use format::{Format, format_into, formatted_len, formatted_len_of};
pub use model::{LogEvent, MessageType, Payload};
pub use split::{EncodeError, encode, encode_events, encode_within, split_in_halves};
pub use view::{EventView, PayloadView};
