//! Issue 23, item 5 (first half): the CloudWatch Logs export stream's capacity mode is a
//! parameter, and its default keeps the stream as it was (provisioned, one shard).

use serde_json::{Value, json};
use sluice_testbed::template::load;

use crate::support::holds;

fn stream() -> &'static Value {
    &load()["Resources"]["CwlStream"]["Properties"]
}

#[test]
fn given_the_defaults_when_deployed_then_the_stream_stays_provisioned_with_cwl_kinesis_shard_count_shards()
 {
    let p = &load()["Parameters"];
    assert_eq!(p["CwlKinesisStreamMode"]["Default"], "PROVISIONED");
    assert_eq!(p["CwlKinesisShardCount"]["Default"], 1);
    assert_eq!(
        stream()["StreamModeDetails"]["StreamMode"],
        json!({"Ref": "CwlKinesisStreamMode"})
    );
    let shards = &stream()["ShardCount"]["Fn::If"];
    let condition = shards[0].as_str().expect("a condition");
    assert!(
        !holds(&json!({"Condition": condition})),
        "on demand by default"
    );
    assert_eq!(shards[2], json!({"Ref": "CwlKinesisShardCount"}));
}

#[test]
fn given_on_demand_when_deployed_then_no_shard_count_is_sent() {
    let shards = &stream()["ShardCount"]["Fn::If"];
    let condition = shards[0].as_str().expect("a condition");
    assert_eq!(
        load()["Conditions"][condition],
        json!({"Fn::Equals": [{"Ref": "CwlKinesisStreamMode"}, "ON_DEMAND"]})
    );
    assert_eq!(shards[1], json!({"Ref": "AWS::NoValue"}));
    let modes = &load()["Parameters"]["CwlKinesisStreamMode"]["AllowedValues"];
    assert_eq!(*modes, json!(["PROVISIONED", "ON_DEMAND"]));
}
