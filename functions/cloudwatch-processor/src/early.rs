//! Putting the tail back early: when a batch holds more log text than one response can carry,
//! the records at its end go back on the stream while the records before them are still being
//! decided, instead of after.
//!
//! Which records will not fit is only known exactly once the response is full, and re-ingest
//! (a `PutRecords` call, tens of milliseconds for a few hundred records) would then be waited for
//! after all the decoding. So once the response is an eighth full ([`PREDICT_AT`]), the handler
//! predicts the rest: each later record's answer is taken to be as large, per byte of its base64
//! data, as the answers so far. Records past the point where the prediction reaches
//! [`MARGIN_PERCENT`] of the limit are put back undecoded at once; the others are decided as
//! usual. A prediction is never a loss: a record put back early that would have fitted is
//! answered `Dropped` like any put-back record and decided by the invocation that reads it again
//! (the response is then less full than it could have been). The first record of a batch is
//! always decided, so every record is eventually delivered.

use sluice_firehose::FirehoseRecord;

/// The response is this fraction full (1/`PREDICT_AT`) when the rest of the batch is predicted.
pub const PREDICT_AT: usize = 8;

/// Records are put back early only past the point where the predicted response reaches this
/// percentage of its limit: batches of one source answer alike per byte, and the margin keeps
/// a misprediction (a response left less full) rare.
pub const MARGIN_PERCENT: u128 = 115;

/// Whether `used` bytes of a response limited to `limit` are enough to predict from.
pub fn ready(used: usize, limit: usize) -> bool {
    used >= limit / PREDICT_AT
}

/// The index in `rest` (the records not yet answered, in order) of the first record predicted
/// not to fit even with the margin, when `used` bytes of response answer `answered` bytes of
/// base64 data; `None` when the batch is predicted to fit.
pub fn tail_start(
    rest: &[FirehoseRecord],
    used: usize,
    answered: usize,
    limit: usize,
) -> Option<usize> {
    if answered == 0 {
        return None;
    }
    let bound = limit as u128 * MARGIN_PERCENT / 100;
    let mut predicted = used as u128;
    rest.iter().position(|record| {
        predicted += record.data.len() as u128 * used as u128 / answered as u128;
        predicted > bound
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lens: &[usize]) -> Vec<FirehoseRecord> {
        lens.iter()
            .enumerate()
            .map(|(i, &len)| FirehoseRecord {
                record_id: format!("r{i}"),
                approximate_arrival_timestamp: None,
                data: "A".repeat(len),
                kinesis_record_metadata: None,
            })
            .collect()
    }

    #[test]
    fn given_answers_twice_their_data_then_tail_starts_past_the_margin() {
        // 1,000 bytes of response for 500 of data so far: each 100-byte record adds 200.
        let rest = records(&[100; 20]);
        // Limit 2,000, margin 2,300: 1,000 + 7 × 200 = 2,400 is the first past it.
        assert_eq!(tail_start(&rest, 1_000, 500, 2_000), Some(6));
    }

    #[test]
    fn given_a_batch_predicted_to_fit_then_no_tail() {
        let rest = records(&[100; 5]);
        assert_eq!(tail_start(&rest, 1_000, 500, 2_000), None);
        assert_eq!(
            tail_start(&rest, 1_000, 0, 2_000),
            None,
            "nothing to predict from"
        );
    }

    #[test]
    fn given_used_bytes_then_ready_from_an_eighth_of_the_limit() {
        assert!(!ready(999, 8_000));
        assert!(ready(1_000, 8_000));
    }
}
