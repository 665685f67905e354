//! One DAS record, synchronously: outer JSON → base64 fields → (keyring from the caller) →
//! ESDK decrypt → size-capped gunzip → events filtered into NDJSON.
//!
//! Errors name the record and the stage, never plaintext: JSON errors keep only their category
//! and position, because serde's messages may quote the input.

use std::borrow::Cow;
use std::ops::ControlFlow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sluice_esdk::RawAesKeyring;

use crate::event::{Text, push_ndjson_line};
use crate::filter::Filters;
use crate::gunzip::Gunzip;
use crate::kms::KmsError;
use crate::payload::parse_payload;
use crate::redact::{Redaction, redact_event};

/// ESDK provider id of the DAS wrapping key.
pub const PROVIDER_ID: &str = "BC";
/// ESDK key name of the DAS wrapping key.
pub const KEY_NAME: &str = "DataKey";

/// The outer record on the Kinesis stream.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DasRecord<'a> {
    /// `DatabaseActivityMonitoringRecords`.
    #[serde(rename = "type", default, borrow)]
    pub kind: Text<'a>,
    /// Record format version, e.g. `1.1`, `1.2`.
    #[serde(default, borrow)]
    pub version: Text<'a>,
    /// Base64 ESDK message holding the gzipped events.
    #[serde(borrow)]
    pub database_activity_events: Cow<'a, str>,
    /// Base64 KMS ciphertext of the wrapping key.
    #[serde(borrow)]
    pub key: Cow<'a, str>,
}

/// Where a JSON document broke, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFault {
    /// syntax, data (wrong shape), eof or io.
    pub category: &'static str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl From<serde_json::Error> for JsonFault {
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let category = match e.classify() {
            Category::Io => "io",
            Category::Syntax => "syntax",
            Category::Data => "data",
            Category::Eof => "eof",
        };
        Self {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}

impl JsonFault {
    /// The fault of `category` at byte `offset` of `text`.
    pub fn at(category: &'static str, text: &[u8], offset: usize) -> Self {
        let (line, column) = line_column(text, offset);
        Self {
            category,
            line,
            column,
        }
    }

    /// This fault, found in the part of `text` starting at byte `base`, placed in all of `text`.
    pub fn shifted(self, text: &[u8], base: usize) -> Self {
        let (line, column) = line_column(text, base);
        if self.line <= 1 {
            Self {
                line,
                column: column + self.column.saturating_sub(1),
                ..self
            }
        } else {
            Self {
                line: line + self.line - 1,
                ..self
            }
        }
    }
}

/// 1-based line and column of byte `offset` of `text`.
fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    (
        1 + memchr::memchr_iter(b'\n', before).count(),
        1 + before.len() - line_start,
    )
}

impl std::fmt::Display for JsonFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} error at line {} column {}",
            self.category, self.line, self.column
        )
    }
}

/// Why one record is `ProcessingFailed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The Firehose `data`, or a base64 field inside the record, is not valid base64.
    #[error("record {record_id}: {field} is not valid base64")]
    Base64 {
        /// The record.
        record_id: String,
        /// Which field.
        field: &'static str,
    },
    /// The record is not a DAS record's JSON.
    #[error("record {record_id}: not a DAS record ({fault})")]
    RecordJson {
        /// The record.
        record_id: String,
        /// Where the JSON broke.
        fault: JsonFault,
    },
    /// KMS refused the record's key (e.g. encrypted under another context).
    #[error("record {record_id}: {source}")]
    KeyRefused {
        /// The record.
        record_id: String,
        /// What KMS said.
        #[source]
        source: KmsError,
    },
    /// The ESDK message could not be decrypted (bad key, tampering, unknown suite, …).
    #[error("record {record_id}: decryption failed ({kind}): {source}")]
    Decrypt {
        /// The record.
        record_id: String,
        /// [`sluice_esdk::Error::kind`].
        kind: &'static str,
        /// The ESDK error.
        #[source]
        source: sluice_esdk::Error,
    },
    /// The plaintext is not gzip.
    #[error("record {record_id}: gunzip failed: {reason}")]
    Gzip {
        /// The record.
        record_id: String,
        /// The decoder's message.
        reason: String,
    },
    /// The decompressed payload is over the configured cap.
    #[error("record {record_id}: decompressed payload exceeds {cap} bytes")]
    TooLarge {
        /// The record.
        record_id: String,
        /// The cap.
        cap: usize,
    },
    /// The decompressed payload is not the DAS events document.
    #[error("record {record_id}: activity payload is not valid ({fault})")]
    PayloadJson {
        /// The record.
        record_id: String,
        /// Where the JSON broke.
        fault: JsonFault,
    },
    /// The kept events would make a record larger than Firehose accepts.
    #[error("record {record_id}: transformed record exceeds {max} bytes")]
    OutputTooLarge {
        /// The record.
        record_id: String,
        /// [`sluice_firehose::MAX_RECORD_BYTES`].
        max: usize,
    },
    /// The transformed record did not fit in the 6 MB response (see [`crate::transform`]).
    #[error("record {record_id}: response budget exceeded")]
    BudgetExceeded {
        /// The record.
        record_id: String,
    },
}

impl RecordError {
    /// A stable snake_case name of the failure, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Base64 { .. } => "bad_base64",
            Self::RecordJson { .. } => "bad_record_json",
            Self::KeyRefused { .. } => "key_refused",
            Self::Decrypt { .. } => "decrypt_failed",
            Self::Gzip { .. } => "bad_gzip",
            Self::TooLarge { .. } => "over_cap",
            Self::PayloadJson { .. } => "bad_payload_json",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::BudgetExceeded { .. } => "response_budget_exceeded",
        }
    }
}

/// Parses the outer record from the Firehose record's decoded bytes.
pub fn parse_record<'a>(record_id: &str, bytes: &'a [u8]) -> Result<DasRecord<'a>, RecordError> {
    serde_json::from_slice(bytes).map_err(|e| RecordError::RecordJson {
        record_id: record_id.to_owned(),
        fault: e.into(),
    })
}

/// Decodes a base64 field of the record.
pub fn decode_field(
    record_id: &str,
    field: &'static str,
    b64: &str,
) -> Result<Vec<u8>, RecordError> {
    STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| RecordError::Base64 {
            record_id: record_id.to_owned(),
            field,
        })
}

/// Decrypts the ESDK message and gunzips it with `gunzip`, refusing more than `cap`
/// decompressed bytes.
pub fn open_events(
    record_id: &str,
    message: &[u8],
    keyring: &RawAesKeyring,
    gunzip: &mut Gunzip,
    cap: usize,
) -> Result<Vec<u8>, RecordError> {
    let decrypted =
        sluice_esdk::decrypt(message, keyring).map_err(|source| RecordError::Decrypt {
            record_id: record_id.to_owned(),
            kind: source.kind(),
            source,
        })?;
    gunzip.gunzip_capped(record_id, &decrypted.plaintext, cap)
}

/// One kept event's routing facts, pointing into [`Routed::ndjson`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptEvent {
    /// The event's `command`, if it has one, as an index into [`Routed::commands`].
    pub command: Option<usize>,
    /// The event's own time (`logTime`, else `startTime`), UTC epoch ms.
    pub epoch_ms: Option<i64>,
    /// Its line in the NDJSON, newline included.
    pub range: std::ops::Range<usize>,
}

/// The filtered events of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    /// Kept events, one per line, newline-terminated.
    pub ndjson: Vec<u8>,
    /// Facts per kept event, in order.
    pub kept: Vec<KeptEvent>,
    /// The distinct commands of kept events, each once.
    pub commands: Vec<String>,
    /// Events dropped (heartbeats and filtered).
    pub dropped: usize,
    /// The class all kept events share, `mixed` when they differ, `none` when absent.
    pub class: String,
    /// The payload's cluster id (else instance id), if any.
    pub source_id: Option<String>,
}

impl Routed {
    /// The command of a kept event, if it has one.
    pub fn command(&self, event: &KeptEvent) -> Option<&str> {
        event
            .command
            .and_then(|i| self.commands.get(i))
            .map(String::as_str)
    }

    /// The index of `command` in [`Self::commands`], added when new.
    pub(crate) fn intern(&mut self, command: &str) -> usize {
        match self.commands.iter().position(|c| c == command) {
            Some(i) => i,
            None => {
                self.commands.push(command.to_owned());
                self.commands.len() - 1
            }
        }
    }
}

/// How much NDJSON one record may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLimit {
    /// No limit (the operator CLI).
    Unlimited,
    /// As an answer to Firehose: at most [`sluice_firehose::MAX_RECORD_BYTES`], and at most
    /// `response_room` bytes, what is left of the response for it.
    Firehose {
        /// NDJSON bytes whose answer still fits in the response.
        response_room: usize,
    },
}

/// Parses the decompressed payload and keeps the events `filters` allows, redacted as
/// `redaction` says, into NDJSON within `limit`: routing stops at the first kept event past it, and the record fails
/// ([`RecordError::OutputTooLarge`] or [`RecordError::BudgetExceeded`]) without the rest being
/// read.
pub fn route_events(
    record_id: &str,
    plaintext: &[u8],
    filters: &Filters,
    redaction: Redaction,
    limit: OutputLimit,
) -> Result<Routed, RecordError> {
    let (record_max, room) = match limit {
        OutputLimit::Unlimited => (usize::MAX, usize::MAX),
        OutputLimit::Firehose { response_room } => {
            (sluice_firehose::MAX_RECORD_BYTES, response_room)
        }
    };
    let max = record_max.min(room);
    let mut routed = Routed {
        ndjson: Vec::with_capacity(plaintext.len().min(max)),
        ..Routed::default()
    };
    let mut class = Class::Unset;
    let read = parse_payload(plaintext, |raw, view| {
        if !filters.keep(&view) {
            routed.dropped += 1;
            return ControlFlow::Continue(());
        }
        let start = routed.ndjson.len();
        // Redacted here, before the event is written anywhere (response, spill, replay).
        let line = match redaction {
            Redaction::Off => Cow::Borrowed(raw),
            Redaction::Literals => redact_event(raw, &view),
        };
        // The event's line is its text and a newline.
        if start + line.len() + 1 > max {
            return ControlFlow::Break(start + line.len() + 1);
        }
        class.add(view.class.as_deref());
        push_ndjson_line(&mut routed.ndjson, line.as_bytes());
        let command = view.command.as_deref().map(|c| routed.intern(c));
        routed.kept.push(KeptEvent {
            command,
            epoch_ms: view.epoch_ms(),
            range: start..routed.ndjson.len(),
        });
        ControlFlow::Continue(())
    })
    .map_err(|fault| RecordError::PayloadJson {
        record_id: record_id.to_owned(),
        fault,
    })?;
    let ids = match read {
        ControlFlow::Continue(ids) => ids,
        ControlFlow::Break(len) if len > record_max => {
            return Err(RecordError::OutputTooLarge {
                record_id: record_id.to_owned(),
                max: record_max,
            });
        }
        ControlFlow::Break(_) => {
            return Err(RecordError::BudgetExceeded {
                record_id: record_id.to_owned(),
            });
        }
    };
    routed.source_id = ids
        .cluster_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(ids.instance_id.as_deref())
        .map(str::to_owned);
    routed.class = match class {
        Class::One(Some(c)) => c,
        Class::Mixed => crate::partition::MIXED_CLASS.to_owned(),
        Class::Unset | Class::One(None) => crate::partition::NO_CLASS.to_owned(),
    };
    Ok(routed)
}

/// The class kept events share so far (upper-cased), or that they differ.
enum Class {
    Unset,
    One(Option<String>),
    Mixed,
}

impl Class {
    fn add(&mut self, class: Option<&str>) {
        *self = match std::mem::replace(self, Class::Mixed) {
            Class::Unset => Class::One(class.map(str::to_ascii_uppercase)),
            Class::One(Some(c)) if class.is_some_and(|n| n.eq_ignore_ascii_case(&c)) => {
                Class::One(Some(c))
            }
            Class::One(None) if class.is_none() => Class::One(None),
            _ => Class::Mixed,
        };
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
