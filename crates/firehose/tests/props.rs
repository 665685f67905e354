//! Property tests: the JSON size arithmetic is exact, and sanitised partition values are safe.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sluice_firehose::{
    FirehoseResponse, MAX_PARTITION_VALUE_LEN, ResponseBudget, ResponseRecord,
    sanitize_partition_value,
};

fn any_record() -> impl Strategy<Value = ResponseRecord> {
    let keys = proptest::option::of(proptest::collection::btree_map(
        any::<String>(),
        any::<String>(),
        0..4,
    ));
    (
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..64),
        keys,
        0..3u8,
    )
        .prop_map(
            |(id, bytes, keys, kind): (String, Vec<u8>, Option<BTreeMap<String, String>>, u8)| {
                match kind {
                    0 => ResponseRecord::ok(id, &bytes, keys),
                    1 => ResponseRecord::dropped(id),
                    _ => {
                        let mut r = ResponseRecord::dropped(id);
                        r.result = sluice_firehose::RecordResult::ProcessingFailed;
                        // Echoed data is whatever Firehose sent; any string exercises escaping.
                        r.data = String::from_utf8_lossy(&bytes).into_owned();
                        r
                    }
                }
            },
        )
}

proptest! {
    #[test]
    fn encoded_len_equals_serde_json_len(rec in any_record()) {
        let json = serde_json::to_vec(&rec).expect("serialises");
        prop_assert_eq!(rec.encoded_len(), json.len());
    }

    #[test]
    fn budget_used_equals_response_json_len(records in proptest::collection::vec(any_record(), 0..8)) {
        let mut budget = ResponseBudget::new();
        for r in &records {
            prop_assert!(budget.try_add(r));
        }
        let response = FirehoseResponse { records };
        let json = serde_json::to_vec(&response).expect("serialises");
        prop_assert_eq!(budget.used(), json.len());
        prop_assert_eq!(response.encoded_len(), json.len());
    }

    #[test]
    fn budget_never_exceeds_limit(records in proptest::collection::vec(any_record(), 0..16), limit in 14usize..600) {
        let mut budget = ResponseBudget::with_limit(limit);
        let kept: Vec<ResponseRecord> = records.into_iter().filter(|r| budget.try_add(r)).collect();
        let json = serde_json::to_vec(&FirehoseResponse { records: kept }).expect("serialises");
        prop_assert_eq!(budget.used(), json.len());
        prop_assert!(json.len() <= limit);
    }

    #[test]
    fn sanitized_value_is_safe(s in any::<String>()) {
        let v = sanitize_partition_value(&s);
        prop_assert!(!v.is_empty());
        prop_assert!(v.len() <= MAX_PARTITION_VALUE_LEN);
        prop_assert!(v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
        prop_assert!(v != "." && v != "..");
        prop_assert_eq!(sanitize_partition_value(&v), v.clone(), "idempotent");
    }
}
