//! The contract check: every recordId echoed exactly once, in order, nothing extra.

use sluice_firehose::{
    ContractError, FirehoseEvent, FirehoseRecord, FirehoseResponse, ResponseRecord, check_contract,
};

fn event(ids: &[&str]) -> FirehoseEvent {
    FirehoseEvent {
        invocation_id: "inv".into(),
        delivery_stream_arn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/s".into(),
        source_kinesis_stream_arn: None,
        region: "eu-west-1".into(),
        records: ids
            .iter()
            .map(|id| FirehoseRecord {
                record_id: (*id).into(),
                approximate_arrival_timestamp: Some(0),
                data: "AA==".into(),
                kinesis_record_metadata: None,
            })
            .collect(),
    }
}

fn answers(ids: &[&str]) -> FirehoseResponse {
    FirehoseResponse {
        records: ids.iter().map(|id| ResponseRecord::dropped(*id)).collect(),
    }
}

#[test]
fn given_all_echoed_in_order_then_ok() {
    assert_eq!(
        check_contract(&event(&["a", "b"]), &answers(&["a", "b"])),
        Ok(())
    );
    assert_eq!(check_contract(&event(&[]), &answers(&[])), Ok(()));
}

#[test]
fn given_missing_answer_then_missing_names_record() {
    let err = check_contract(&event(&["a", "b"]), &answers(&["a"]));
    assert_eq!(
        err,
        Err(ContractError::Missing {
            record_id: "b".into(),
            position: 1
        })
    );
}

#[test]
fn given_extra_answer_then_unexpected() {
    let err = check_contract(&event(&["a"]), &answers(&["a", "z"]));
    assert_eq!(
        err,
        Err(ContractError::Unexpected {
            record_id: "z".into(),
            position: 1
        })
    );
}

#[test]
fn given_repeated_answer_then_duplicate() {
    let err = check_contract(&event(&["a", "b"]), &answers(&["a", "a", "b"]));
    assert_eq!(
        err,
        Err(ContractError::Duplicate {
            record_id: "a".into(),
            position: 1
        })
    );
}

#[test]
fn given_swapped_answers_then_out_of_order() {
    let err = check_contract(&event(&["a", "b"]), &answers(&["b", "a"]));
    assert_eq!(
        err,
        Err(ContractError::OutOfOrder {
            position: 0,
            expected: "a".into(),
            found: "b".into()
        })
    );
}

#[test]
fn given_invalid_base64_data_then_invalid_data() {
    let mut response = answers(&["a"]);
    response.records[0].data = "***".into();
    let err = check_contract(&event(&["a"]), &response);
    assert_eq!(
        err,
        Err(ContractError::InvalidData {
            record_id: "a".into()
        })
    );
}

#[test]
fn given_error_then_message_names_record() {
    let err = check_contract(&event(&["a", "b"]), &answers(&["a"])).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "record b (position 1) is missing from the response"
    );
}
