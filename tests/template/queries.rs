//! The Athena tables over what the delivery streams write: each table's partition projection
//! must produce exactly the paths its delivery stream's prefix makes from the partition keys the
//! code emits, or Athena silently reads nothing. (`make query-check` runs the named queries.)

use serde_json::Value;
use sluice_testbed::template::load;

fn sub_text(v: &Value) -> &str {
    let sub = &v["Fn::Sub"];
    sub.as_str()
        .or_else(|| sub[0].as_str())
        .unwrap_or_else(|| panic!("not an Fn::Sub: {v}"))
}

/// A delivery stream prefix with `!{partitionKeyFromLambda:k}` written as projection's `${!k}`
/// (the `!` escapes it inside `Fn::Sub`), `k` in lower case as Athena folds column names.
fn as_projection(prefix: &str) -> String {
    const KEY: &str = "!{partitionKeyFromLambda:";
    let mut out = String::new();
    let mut rest = prefix;
    while let Some(start) = rest.find(KEY) {
        let after = &rest[start + KEY.len()..];
        let end = after.find('}').expect("closing brace");
        out.push_str(&rest[..start]);
        out.push_str(&format!("${{!{}}}", after[..end].to_lowercase()));
        rest = &after[end + 1..];
    }
    out + rest
}

#[test]
fn das_table_projection_follows_the_delivery_stream_prefix_and_the_codes_keys() {
    let res = &load()["Resources"];
    let prefix = sub_text(
        &res["DasDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]["Prefix"],
    );
    let input = &res["DasEventsTable"]["Properties"]["TableInput"];
    let params = &input["Parameters"];
    let location = sub_text(&params["storage.location.template"]);
    assert_eq!(
        location,
        format!("s3://${{Bucket}}/{}", as_projection(prefix)),
        "storage.location.template must be the delivery stream's prefix"
    );
    let keys: Vec<&str> = input["PartitionKeys"]
        .as_array()
        .expect("PartitionKeys")
        .iter()
        .map(|k| k["Name"].as_str().expect("Name"))
        .collect();
    assert_eq!(
        keys,
        sluice_das::partition::KEY_NAMES,
        "the table's partition keys, in path order, are the transformer's"
    );
    for k in keys {
        assert!(
            params[format!("projection.{k}.type")].is_string(),
            "partition key {k} has no projection type"
        );
    }
    let static_part = location.split("${!").next().unwrap_or_default();
    assert_eq!(
        sub_text(&input["StorageDescriptor"]["Location"]),
        static_part,
        "the table's Location is the fixed part of the projected paths"
    );
    let columns: Vec<&str> = input["StorageDescriptor"]["Columns"]
        .as_array()
        .expect("Columns")
        .iter()
        .map(|c| c["Name"].as_str().expect("Name"))
        .collect();
    for k in sluice_das::partition::KEY_NAMES {
        assert!(
            !columns.contains(&k),
            "column {k} clashes with the partition key of that name (map it with mapping.<column>)"
        );
    }
}

#[test]
fn das_class_projection_lists_postgres_classes_and_the_transformers_own() {
    let default = load()["Parameters"]["DasQueryClasses"]["Default"]
        .as_str()
        .expect("DasQueryClasses default");
    let listed: Vec<&str> = default.split(',').collect();
    // Aurora PostgreSQL's documented classes, and the two values of the transformer's own.
    let pg = [
        "ALL", "CONNECT", "DDL", "FUNCTION", "MISC", "NONE", "READ", "ROLE", "WRITE",
    ];
    let own = [
        sluice_das::partition::MIXED_CLASS,
        sluice_das::partition::NO_CLASS,
    ];
    for class in pg.into_iter().chain(own) {
        assert!(
            listed.contains(&class),
            "{class} is missing from DasQueryClasses"
        );
    }
}

#[test]
fn cwl_table_projection_follows_the_processors_prefix_and_keys() {
    use cloudwatch_processor::record::{KEY_ACCOUNT, KEY_DAY, KEY_LOG_GROUP, KEY_MONTH, KEY_YEAR};
    let res = &load()["Resources"];
    // The table exists only with the processor (CwlCentralLambda) writing JSON lines.
    let prefix = &res["CwlDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]["Prefix"]
        ["Fn::If"];
    assert_eq!(
        prefix[0], "CwlCentralLambda",
        "the If picks the processor's prefix"
    );
    let prefix = sub_text(&prefix[1]);
    let table = &res["CwlEventsTable"];
    assert_eq!(
        load()["Conditions"]["CwlQueryable"]["Fn::And"][0]["Condition"],
        "CwlCentralLambda"
    );
    assert_eq!(table["Condition"], "CwlQueryable");
    let input = &table["Properties"]["TableInput"];
    let params = &input["Parameters"];
    let location = sub_text(&params["storage.location.template"]);
    // Athena folds column names to lower case: the projection names logGroup `loggroup`.
    assert_eq!(
        location,
        format!("s3://${{Bucket}}/{}", as_projection(prefix).to_lowercase())
            .replace("${cwls3prefix}", "${CwlS3Prefix}"),
        "storage.location.template must be the delivery stream's prefix"
    );
    let keys: Vec<&str> = input["PartitionKeys"]
        .as_array()
        .expect("PartitionKeys")
        .iter()
        .map(|k| k["Name"].as_str().expect("Name"))
        .collect();
    let code = [KEY_ACCOUNT, KEY_LOG_GROUP, KEY_YEAR, KEY_MONTH, KEY_DAY].map(str::to_lowercase);
    assert_eq!(
        keys, code,
        "the table's partition keys are the processor's, in path order"
    );
    for k in &keys {
        assert!(
            params[format!("projection.{k}.type")].is_string(),
            "partition key {k} has no projection type"
        );
    }
    assert_eq!(
        sub_text(&input["StorageDescriptor"]["Location"]),
        location.split("${!").next().unwrap_or_default()
    );
}
