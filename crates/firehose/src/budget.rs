//! Keeps a transformation response under Lambda's 6 MB synchronous response limit.
//!
//! The handler asks [`ResponseBudget::try_add`] before keeping a record's transformed data; when it
//! does not fit, the handler answers that record some cheaper way (typically `Dropped` after
//! re-ingesting the original with `PutRecordBatch`). Because *every* record must be answered, a
//! budget made with [`ResponseBudget::reserve_for`] sets aside the cost of a `Dropped` answer for
//! each record up front, so that fallback always fits; [`ResponseBudget::reserve_failed_for`] sets
//! aside a `ProcessingFailed` answer echoing the original data, for handlers whose fallback is to
//! fail the record back to Firehose.

use crate::response::EMPTY_RESPONSE_LEN;
use crate::{FirehoseEvent, MAX_RESPONSE_BYTES, ResponseRecord};

/// Headroom kept below [`MAX_RESPONSE_BYTES`] by [`ResponseBudget::new`], for anything the runtime
/// adds around our JSON.
pub const DEFAULT_SAFETY_MARGIN: usize = 64 * 1024;

/// The running, exact JSON size of a [`crate::FirehoseResponse`] being built, against a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBudget {
    limit: usize,
    used: usize,
    reserved: usize,
    /// Per record, in event order: what its fallback answer was reserved at.
    reservations: Vec<usize>,
    count: usize,
}

impl Default for ResponseBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseBudget {
    /// A budget of [`MAX_RESPONSE_BYTES`] minus [`DEFAULT_SAFETY_MARGIN`].
    pub fn new() -> Self {
        Self::with_limit(MAX_RESPONSE_BYTES - DEFAULT_SAFETY_MARGIN)
    }

    /// A budget whose whole response (`{"records":[…]}`) must stay within `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            used: EMPTY_RESPONSE_LEN,
            reserved: 0,
            reservations: Vec::new(),
            count: 0,
        }
    }

    /// Sets aside the cost of a `Dropped` answer for every record of `event`. Records must then be
    /// added in event order, once each: adding one releases its own reservation.
    pub fn reserve_for(self, event: &FirehoseEvent) -> Self {
        self.reserve(
            event
                .records
                .iter()
                .map(|r| ResponseRecord::dropped_len(&r.record_id) + 1),
        )
    }

    /// Sets aside, for every record of `event`, a `ProcessingFailed` answer echoing its original
    /// data ([`ResponseRecord::failed`]), so a record whose output no longer fits can always be
    /// failed back to Firehose. Same ordering rule as [`Self::reserve_for`].
    pub fn reserve_failed_for(self, event: &FirehoseEvent) -> Self {
        self.reserve(
            event
                .records
                .iter()
                .map(|r| ResponseRecord::failed_len(r) + 1),
        )
    }

    fn reserve(mut self, reservations: impl Iterator<Item = usize>) -> Self {
        self.reservations = reservations.collect();
        self.reserved = self.reservations.iter().sum();
        self
    }

    /// Adds `rec` if the response (with what is still reserved) stays within the limit; returns
    /// whether it was added. Nothing changes when it does not fit.
    pub fn try_add(&mut self, rec: &ResponseRecord) -> bool {
        self.try_add_len(rec.encoded_len())
    }

    /// [`Self::try_add`] for the next answer, whose JSON is `len` bytes (without its comma).
    pub fn try_add_len(&mut self, len: usize) -> bool {
        let (comma, reserved) = self.cost_parts();
        let cost = len + comma;
        if self.used + cost + reserved > self.limit {
            return false;
        }
        self.commit(cost, reserved);
        true
    }

    /// Adds `rec` whether or not it fits (the fallback answer for a record that must be echoed);
    /// returns whether the response is still within the limit.
    pub fn add(&mut self, rec: &ResponseRecord) -> bool {
        self.add_len(rec.encoded_len())
    }

    /// [`Self::add`] for the next answer, whose JSON is `len` bytes (without its comma).
    pub fn add_len(&mut self, len: usize) -> bool {
        let (comma, reserved) = self.cost_parts();
        self.commit(len + comma, reserved);
        !self.is_over()
    }

    /// Exact JSON size of the response made of the records added so far.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes still set aside for `Dropped` answers to records not yet added.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// The limit this budget enforces.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes left for record data beyond what is used and reserved.
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.used + self.reserved)
    }

    /// The largest [`ResponseRecord::encoded_len`] the next record's answer may have and still
    /// fit (after its separating comma), its own reservation counted as available.
    pub fn room_for_next(&self) -> usize {
        let (comma, reserved) = self.cost_parts();
        self.limit
            .saturating_sub(self.used + reserved)
            .saturating_sub(comma)
    }

    /// Whether used plus reserved bytes exceed the limit.
    pub fn is_over(&self) -> bool {
        self.used + self.reserved > self.limit
    }

    /// How many records were added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no record was added yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// (bytes `rec` adds, reservation left after it is added).
    fn cost_parts(&self) -> (usize, usize) {
        let comma = usize::from(self.count > 0);
        let own = self.reservations.get(self.count).copied().unwrap_or(0);
        (comma, self.reserved.saturating_sub(own))
    }

    fn commit(&mut self, cost: usize, reserved: usize) {
        self.used += cost;
        self.reserved = reserved;
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FirehoseRecord, FirehoseResponse};

    fn event(ids: &[&str]) -> FirehoseEvent {
        FirehoseEvent {
            invocation_id: "i".into(),
            delivery_stream_arn: "arn".into(),
            source_kinesis_stream_arn: None,
            region: "eu-west-1".into(),
            records: ids
                .iter()
                .map(|id| FirehoseRecord {
                    record_id: (*id).into(),
                    approximate_arrival_timestamp: None,
                    data: String::new(),
                    kinesis_record_metadata: None,
                })
                .collect(),
        }
    }

    #[test]
    fn given_records_added_when_serialised_then_used_is_exact() {
        let mut budget = ResponseBudget::new();
        let records = vec![
            ResponseRecord::ok("a", b"hello", None),
            ResponseRecord::dropped("b"),
        ];
        for r in &records {
            assert!(budget.try_add(r));
        }
        let json = serde_json::to_vec(&FirehoseResponse { records }).expect("serialises");
        assert_eq!(budget.used(), json.len());
        assert_eq!(budget.len(), 2);
    }

    #[test]
    fn given_record_exactly_filling_limit_when_added_then_accepted_and_next_refused() {
        let rec = ResponseRecord::ok("a", b"12345", None);
        let limit = EMPTY_RESPONSE_LEN + rec.encoded_len();
        let mut budget = ResponseBudget::with_limit(limit);
        assert!(budget.try_add(&rec));
        assert_eq!(budget.remaining(), 0);
        assert!(!budget.try_add(&ResponseRecord::dropped("b")));
        assert_eq!(budget.len(), 1);
    }

    #[test]
    fn given_reservation_when_big_record_refused_then_dropped_fallback_fits() {
        let ev = event(&["a", "b", "c"]);
        let limit = EMPTY_RESPONSE_LEN + 3 * (ResponseRecord::dropped_len("a") + 1) + 10;
        let mut budget = ResponseBudget::with_limit(limit).reserve_for(&ev);
        let big = ResponseRecord::ok("a", &[0u8; 64], None);
        assert!(!budget.try_add(&big));
        assert!(budget.try_add(&ResponseRecord::dropped("a")));
        assert!(budget.add(&ResponseRecord::dropped("b")));
        assert!(budget.add(&ResponseRecord::dropped("c")));
        assert_eq!(budget.reserved(), 0);
        assert!(!budget.is_over());
    }

    #[test]
    fn given_failed_reservation_when_outputs_fill_budget_then_failed_echo_still_fits() {
        let mut ev = event(&["a", "b", "c"]);
        for r in &mut ev.records {
            r.data = "QUJD".repeat(100);
        }
        let failed_cost: usize = ev
            .records
            .iter()
            .map(|r| ResponseRecord::failed(r).encoded_len() + 1)
            .sum();
        let limit = EMPTY_RESPONSE_LEN + failed_cost + 50;
        let mut budget = ResponseBudget::with_limit(limit).reserve_failed_for(&ev);
        assert_eq!(budget.reserved(), failed_cost);
        assert!(!budget.try_add(&ResponseRecord::ok("a", &[7u8; 600], None)));
        for r in &ev.records {
            assert!(budget.add(&ResponseRecord::failed(r)), "{}", r.record_id);
        }
        assert!(!budget.is_over());
        let json = serde_json::to_vec(&FirehoseResponse {
            records: ev.records.iter().map(ResponseRecord::failed).collect(),
        })
        .expect("serialises");
        assert!(json.len() <= limit);
    }

    #[test]
    fn given_room_for_next_then_an_answer_of_that_size_fits_and_one_byte_more_does_not() {
        let ev = event(&["a", "b"]);
        let limit = EMPTY_RESPONSE_LEN + 2 * (ResponseRecord::dropped_len("a") + 1) + 100;
        let mut budget = ResponseBudget::with_limit(limit).reserve_for(&ev);
        for n in 0..2 {
            let room = budget.room_for_next();
            let base = ResponseRecord::dropped("").encoded_len();
            let exact = ResponseRecord::dropped("x".repeat(room - base));
            let over = ResponseRecord::dropped("x".repeat(room - base + 1));
            assert!(!budget.clone().try_add(&over), "record {n}");
            assert!(budget.try_add(&exact), "record {n}");
        }
        assert!(!budget.is_over());
    }

    #[test]
    fn given_add_past_limit_when_checked_then_reports_over() {
        let mut budget = ResponseBudget::with_limit(EMPTY_RESPONSE_LEN);
        assert!(!budget.add(&ResponseRecord::dropped("a")));
        assert!(budget.is_over());
    }
}
