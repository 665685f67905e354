//! A transformation response written as the JSON text Lambda returns, one answer at a time.
//!
//! Building a [`FirehoseResponse`] and letting the runtime serialise it costs a `String` per
//! record (zeroed, then encoded into), and then a second pass in which serde_json checks every
//! byte of every `data` for characters to escape — base64 never has any. [`ResponseWriter`]
//! encodes each answer's data straight into one growing buffer instead, charging the same
//! [`ResponseBudget`] the exact bytes it writes, and hands back the finished JSON text.
//! [`FirehoseResponse`] stays the way to read a response back (tests, tools).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::response::EMPTY_RESPONSE_LEN;
use crate::{FirehoseRecord, RecordResult, ResponseBudget, ResponseRecord};

/// The JSON of a response being answered record by record, within a [`ResponseBudget`].
///
/// Answers must be given in event order, once per record, as the budget's reservations expect.
#[derive(Debug)]
pub struct ResponseWriter {
    json: Vec<u8>,
    budget: ResponseBudget,
}

impl ResponseWriter {
    /// A writer charging `budget`. Its buffer is sized for the whole budget up front: pages are
    /// only touched as they are written, and one large block is reused by the allocator from one
    /// invocation to the next instead of being handed back and faulted in again.
    pub fn new(budget: ResponseBudget) -> Self {
        let mut json = Vec::with_capacity(budget.limit().max(EMPTY_RESPONSE_LEN));
        json.extend_from_slice(br#"{"records":["#);
        Self { json, budget }
    }

    /// The largest answer the next record may have and still fit with every later record's
    /// reserved fallback ([`ResponseBudget::room_for_next`]).
    pub fn room_for_next(&self) -> usize {
        self.budget.room_for_next()
    }

    /// Bytes of the response so far, as [`Self::finish`] would return it now.
    pub fn used(&self) -> usize {
        self.budget.used()
    }

    /// The limit the whole response must stay within.
    pub fn limit(&self) -> usize {
        self.budget.limit()
    }

    /// How many answers have been written.
    pub fn len(&self) -> usize {
        self.budget.len()
    }

    /// Whether no answer has been written yet.
    pub fn is_empty(&self) -> bool {
        self.budget.is_empty()
    }

    /// Answers the next record `Ok` with `data` (base64-encoded here) and, unless empty, the
    /// partition keys `partition_keys` (in that order), if it fits in the budget; returns whether
    /// it was written.
    pub fn try_ok(
        &mut self,
        record_id: &str,
        data: &[u8],
        partition_keys: &[(&str, &str)],
    ) -> bool {
        let len = ResponseRecord::ok_len(record_id, data.len(), partition_keys);
        if !self.budget.try_add_len(len) {
            return false;
        }
        let start = self.separate();
        self.json.extend_from_slice(br#"{"recordId":"#);
        push_json_str(&mut self.json, record_id);
        self.json.extend_from_slice(br#","result":"Ok","data":""#);
        self.push_base64(data);
        self.json.push(b'"');
        if !partition_keys.is_empty() {
            self.json
                .extend_from_slice(br#","metadata":{"partitionKeys":{"#);
            for (n, (key, value)) in partition_keys.iter().enumerate() {
                if n > 0 {
                    self.json.push(b',');
                }
                push_json_str(&mut self.json, key);
                self.json.push(b':');
                push_json_str(&mut self.json, value);
            }
            self.json.extend_from_slice(b"}}");
        }
        self.json.push(b'}');
        debug_assert_eq!(self.json.len() - start, len, "ok answer size");
        true
    }

    /// Appends `data` in standard base64. A few KiB at a time, so that the zeroes the buffer must
    /// be grown with are written to cache lines that the encoder overwrites at once.
    fn push_base64(&mut self, data: &[u8]) {
        // A multiple of 3 input bytes: only the last piece can need padding.
        for piece in data.chunks(3 * 1024) {
            let at = self.json.len();
            self.json.resize(at + piece.len().div_ceil(3) * 4, 0);
            let out = self.json.get_mut(at..).unwrap_or_default();
            let written = STANDARD.encode_slice(piece, out);
            debug_assert_eq!(written.ok(), Some(self.json.len() - at), "base64 size");
        }
    }

    /// Answers the next record `Dropped`, whatever is left of the budget; returns `false` when the
    /// response is now over its limit (only possible when the fallback was not reserved).
    pub fn dropped(&mut self, record_id: &str) -> bool {
        self.fallback(record_id, RecordResult::Dropped, "")
    }

    /// Answers the next record `ProcessingFailed`, echoing its original data so Firehose's error
    /// output keeps it intact; same budget rule as [`Self::dropped`].
    pub fn failed(&mut self, record: &FirehoseRecord) -> bool {
        self.fallback(
            &record.record_id,
            RecordResult::ProcessingFailed,
            &record.data,
        )
    }

    /// Writes a `Dropped` or `ProcessingFailed` answer carrying `data` as it is.
    fn fallback(&mut self, record_id: &str, result: RecordResult, data: &str) -> bool {
        let start = self.separate();
        self.json.extend_from_slice(br#"{"recordId":"#);
        push_json_str(&mut self.json, record_id);
        self.json.extend_from_slice(br#","result":""#);
        self.json.extend_from_slice(result.as_str().as_bytes());
        self.json.extend_from_slice(br#"","data":"#);
        push_json_str(&mut self.json, data);
        self.json.push(b'}');
        let len = self.json.len() - start;
        self.budget.add_len(len)
    }

    /// Writes the comma before every answer but the first; returns where the answer starts.
    fn separate(&mut self) -> usize {
        if !self.json.ends_with(b"[") {
            self.json.push(b',');
        }
        self.json.len()
    }

    /// The finished response: `{"records":[…]}`, exactly as serde_json would write the
    /// [`crate::FirehoseResponse`] of the same answers.
    pub fn finish(mut self) -> Vec<u8> {
        self.json.extend_from_slice(b"]}");
        debug_assert_eq!(self.json.len(), self.budget.used(), "response size");
        self.json
    }
}

/// Appends `s` as a JSON string literal, written by serde_json itself.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let written = serde_json::to_writer(out, s);
    debug_assert!(written.is_ok(), "JSON string into memory");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::FirehoseResponse;
    use crate::response::json_str_len;

    fn record(id: &str, data: &str) -> FirehoseRecord {
        FirehoseRecord {
            record_id: id.into(),
            approximate_arrival_timestamp: None,
            data: data.into(),
            kinesis_record_metadata: None,
        }
    }

    #[test]
    fn given_each_answer_then_text_is_what_serde_writes_for_the_same_records() {
        let mut w = ResponseWriter::new(ResponseBudget::new());
        assert!(w.try_ok("a", b"hello", &[("yyyy", "2026"), ("class", "READ")]));
        assert!(w.dropped("b"));
        assert!(w.failed(&record("c", "AAEC")));
        assert!(w.try_ok("d", b"", &[]));
        assert_eq!(w.len(), 4);
        let expected = FirehoseResponse {
            records: vec![
                ResponseRecord::ok(
                    "a",
                    b"hello",
                    Some(BTreeMap::from([
                        ("class".to_owned(), "READ".to_owned()),
                        ("yyyy".to_owned(), "2026".to_owned()),
                    ])),
                ),
                ResponseRecord::dropped("b"),
                ResponseRecord::failed(&record("c", "AAEC")),
                ResponseRecord::ok("d", b"", None),
            ],
        };
        let text = w.finish();
        let back: FirehoseResponse = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(back, expected);
        assert!(text.starts_with(br#"{"records":[{"recordId":"a","result":"Ok","data":"aGVsbG8=","metadata":{"partitionKeys":{"yyyy":"2026","class":"READ"}}},"#));
    }

    #[test]
    fn given_data_around_the_encoding_piece_size_then_base64_is_exact() {
        for n in [1, 2, 3, 3_071, 3_072, 3_073, 6_144, 6_145, 10_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = ResponseWriter::new(ResponseBudget::new());
            assert!(w.try_ok("r", &data, &[]));
            let expected = FirehoseResponse {
                records: vec![ResponseRecord::ok("r", &data, None)],
            };
            let serde = serde_json::to_vec(&expected).expect("serialises");
            assert_eq!(w.finish(), serde, "{n} bytes");
        }
    }

    #[test]
    fn given_no_answers_then_empty_record_list() {
        let w = ResponseWriter::new(ResponseBudget::new());
        assert!(w.is_empty());
        assert_eq!(w.finish(), br#"{"records":[]}"#);
    }

    #[test]
    fn given_reserved_fallbacks_when_ok_would_crowd_them_out_then_refused_and_echo_fits() {
        let records = [
            record("a", &"QUJD".repeat(50)),
            record("b", &"QUJD".repeat(50)),
        ];
        let event = crate::FirehoseEvent {
            invocation_id: "i".into(),
            delivery_stream_arn: "arn".into(),
            source_kinesis_stream_arn: None,
            region: "r".into(),
            records: records.to_vec(),
        };
        let echoes: usize = records
            .iter()
            .map(|r| ResponseRecord::failed_len(r) + 1)
            .sum();
        let limit = EMPTY_RESPONSE_LEN + echoes + 40;
        let mut w =
            ResponseWriter::new(ResponseBudget::with_limit(limit).reserve_failed_for(&event));
        assert!(!w.try_ok("a", &[7u8; 300], &[]));
        assert!(w.failed(&records[0]));
        let room = w.room_for_next();
        assert!(w.try_ok("b", &[], &[]) == (ResponseRecord::ok_len("b", 0, &[]) <= room));
        let text = w.finish();
        assert!(text.len() <= limit, "{} > {limit}", text.len());
    }

    proptest! {
        /// Whatever the ids, keys and data, the text is exactly what serde_json writes for the
        /// same answers (and, by the assertions inside the writer, what the budget was charged).
        #[test]
        fn given_any_answers_then_text_is_serdes(
            answers in proptest::collection::vec(
                (any::<String>(), proptest::collection::vec(any::<u8>(), 0..40),
                 proptest::collection::btree_map(any::<String>(), any::<String>(), 0..3), 0..3u8),
                0..8,
            ),
        ) {
            let mut w = ResponseWriter::new(ResponseBudget::new());
            let mut expected = Vec::new();
            for (id, bytes, keys, kind) in &answers {
                match kind {
                    0 => {
                        let pairs: Vec<(&str, &str)> =
                            keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        prop_assert!(w.try_ok(id, bytes, &pairs));
                        let keys = (!keys.is_empty()).then(|| keys.clone());
                        expected.push(ResponseRecord::ok(id.clone(), bytes, keys));
                    }
                    1 => {
                        prop_assert!(w.dropped(id));
                        expected.push(ResponseRecord::dropped(id.clone()));
                    }
                    _ => {
                        let r = record(id, &String::from_utf8_lossy(bytes));
                        prop_assert!(w.failed(&r));
                        expected.push(ResponseRecord::failed(&r));
                    }
                }
            }
            let serde = serde_json::to_string(&FirehoseResponse { records: expected });
            prop_assert_eq!(w.finish(), serde.unwrap_or_default().into_bytes());
        }

        /// What is written for a string is what the budget was charged for it.
        #[test]
        fn given_any_string_then_escaped_as_serde_escapes_it(s in any::<String>()) {
            let mut ours = Vec::new();
            push_json_str(&mut ours, &s);
            prop_assert_eq!(&ours, &serde_json::to_vec(&s).unwrap_or_default());
            prop_assert_eq!(ours.len(), json_str_len(&s));
        }
    }
}
