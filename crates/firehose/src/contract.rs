//! Checks a response against Firehose's rules before it leaves the function (tests and a debug
//! assertion in handlers): every `recordId` echoed exactly once, in order, nothing extra, and
//! every `data` valid base64. Firehose fails the whole batch when this is broken.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{FirehoseEvent, FirehoseResponse};

/// How a response breaks the transformation contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// An input record has no answer.
    #[error("record {record_id} (position {position}) is missing from the response")]
    Missing {
        /// The unanswered record.
        record_id: String,
        /// Its position in the event.
        position: usize,
    },
    /// The response answers a record the event did not contain.
    #[error("response position {position} answers unknown record {record_id}")]
    Unexpected {
        /// The unknown id.
        record_id: String,
        /// Where it appears in the response.
        position: usize,
    },
    /// A record is answered twice.
    #[error("record {record_id} is answered again at response position {position}")]
    Duplicate {
        /// The repeated id.
        record_id: String,
        /// Where the repeat appears.
        position: usize,
    },
    /// Records are answered in a different order than they arrived.
    #[error("response position {position} answers {found}, expected {expected}")]
    OutOfOrder {
        /// The position that differs.
        position: usize,
        /// The id the event has there.
        expected: String,
        /// The id the response has there.
        found: String,
    },
    /// A record's `data` is not valid base64.
    #[error("record {record_id}: response data is not valid base64")]
    InvalidData {
        /// The record whose data is broken.
        record_id: String,
    },
}

/// Checks that `response` answers every record of `event` exactly once, in order, with nothing
/// extra, and that all response data is valid base64. Reports the first problem found.
pub fn check_contract(
    event: &FirehoseEvent,
    response: &FirehoseResponse,
) -> Result<(), ContractError> {
    let known: HashSet<&str> = event.records.iter().map(|r| r.record_id.as_str()).collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(response.records.len());
    for (position, answer) in response.records.iter().enumerate() {
        let id = answer.record_id.as_str();
        let expected = event.records.get(position).map(|r| r.record_id.as_str());
        if expected != Some(id) {
            return Err(misplaced(id, expected, position, &known, &seen));
        }
        seen.insert(id);
        if STANDARD.decode(answer.data.as_bytes()).is_err() {
            return Err(ContractError::InvalidData {
                record_id: id.to_owned(),
            });
        }
    }
    if let Some(missing) = event.records.get(response.records.len()) {
        return Err(ContractError::Missing {
            record_id: missing.record_id.clone(),
            position: response.records.len(),
        });
    }
    Ok(())
}

/// Classifies an answer `id` found where the event has `expected` (or nothing).
fn misplaced(
    id: &str,
    expected: Option<&str>,
    position: usize,
    known: &HashSet<&str>,
    seen: &HashSet<&str>,
) -> ContractError {
    let record_id = id.to_owned();
    if !known.contains(id) {
        ContractError::Unexpected {
            record_id,
            position,
        }
    } else if seen.contains(id) {
        ContractError::Duplicate {
            record_id,
            position,
        }
    } else {
        match expected {
            Some(expected) => ContractError::OutOfOrder {
                position,
                expected: expected.to_owned(),
                found: record_id,
            },
            // Past the end of the event yet unseen: only possible if the event repeats an id.
            None => ContractError::Duplicate {
                record_id,
                position,
            },
        }
    }
}
