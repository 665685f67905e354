//! Property: for any batch, response limit, record limit and failure script, every input event is
//! either in an `Ok` record's output or in an accepted re-ingested payload (no loss), exactly once.

mod common;

use std::time::Duration;

use cloudwatch_processor::{Config, handle};
use common::*;
use proptest::prelude::*;
use sluice_cwlogs::{Format, encode};
use sluice_firehose::check_contract;

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        Just(Behaviour::CallError),
        Just(Behaviour::RefuseEven),
        Just(Behaviour::RefuseAll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn given_any_batch_and_limits_when_handled_then_events_are_conserved(
        records in prop::collection::vec(prop::collection::vec(1usize..400, 1..150), 1..8),
        response_limit in 2_000usize..200_000,
        max_record in 3_000usize..60_000,
        script in prop::collection::vec(behaviour(), 0..4),
    ) {
        let datas: Vec<Vec<u8>> = records
            .iter()
            .enumerate()
            .map(|(i, lens)| {
                let msgs: Vec<String> = lens.iter().enumerate()
                    .map(|(j, &n)| format!("r{i}e{j} {}", "m".repeat(n)))
                    .collect();
                encode(&payload("/prop", &msgs))
            })
            .collect();
        let input_events: usize = records.iter().map(Vec::len).sum();
        let ev = event(&datas);
        let config = Config {
            format: Format::JsonLines,
            backoff: Duration::ZERO,
            response_limit,
            max_record,
            ..Config::default()
        };
        let fake = FakeReingest::scripted(script);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("rt");
        let done = rt.block_on(handle(&ev, &config, &fake)).expect("handled");
        let response = done.response().expect("response JSON");
        check_contract(&ev, &response).expect("contract");
        // With a limit below the bare minimum, only Dropped answers are ever added.
        let all_dropped = sluice_firehose::FirehoseResponse {
            records: ev.records.iter().map(|r| sluice_firehose::ResponseRecord::dropped(r.record_id.clone())).collect(),
        };
        let bound = response_limit.max(all_dropped.encoded_len());
        prop_assert!(done.json.len() <= bound);
        for out in ok_outputs(&response) {
            prop_assert!(out.len() <= max_record);
        }
        prop_assert_eq!(ok_lines(&response) + fake.accepted_events(), input_events);
        // Events of records put back undecoded once the response was full are counted by the
        // invocation that decides them, not here.
        prop_assert_eq!(done.stats.events_delivered as usize, ok_lines(&response));
        prop_assert!(done.stats.events_delivered + done.stats.events_reingested <= input_events as u64);
    }
}
