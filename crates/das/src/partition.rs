//! Dynamic-partitioning keys of an `Ok` record: `resource`, `class`, `yyyy`, `mm`, `dd`, used in
//! the delivery stream's prefix as `!{partitionKeyFromLambda:<name>}`.

use sluice_firehose::date_keys;

use crate::record::Routed;

/// Partition-key names, as the template's S3 prefix uses them.
pub const KEY_NAMES: [&str; 5] = ["resource", "class", "yyyy", "mm", "dd"];

/// The `class` value of a record whose kept events differ in class.
pub const MIXED_CLASS: &str = "mixed";

/// The `class` value of a record whose kept events carry no class.
pub const NO_CLASS: &str = "none";

/// A UTC date as zero-padded strings, or `unknown` when no time could be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionDate {
    /// Year, e.g. `2026`.
    pub yyyy: String,
    /// Month, `01`–`12`.
    pub mm: String,
    /// Day, `01`–`31`.
    pub dd: String,
}

impl PartitionDate {
    /// The date of `epoch_ms`.
    pub fn from_ms(epoch_ms: i64) -> Self {
        let (yyyy, mm, dd) = date_keys(epoch_ms);
        Self { yyyy, mm, dd }
    }

    /// `unknown/unknown/unknown`.
    pub fn unknown() -> Self {
        let u = || "unknown".to_owned();
        Self {
            yyyy: u(),
            mm: u(),
            dd: u(),
        }
    }

    /// A record's date: its first kept event with a readable time, else `arrival_ms`, else
    /// unknown. Events of one record that span dates all go under the first one's date.
    pub fn of(routed: &Routed, arrival_ms: Option<i64>) -> Self {
        routed
            .kept
            .iter()
            .find_map(|e| e.epoch_ms)
            .or(arrival_ms)
            .map_or_else(Self::unknown, Self::from_ms)
    }

    /// An event's own date, else `fallback`.
    pub fn of_event(epoch_ms: Option<i64>, fallback: &Self) -> Self {
        epoch_ms.map_or_else(|| fallback.clone(), Self::from_ms)
    }
}

/// A record's partition keys as `(name, value)` pairs in [`KEY_NAMES`] order, from values already
/// made safe for S3 keys ([`sluice_firehose::sanitize_partition_value`]) and its date.
pub fn partition_keys<'a>(
    resource: &'a str,
    class: &'a str,
    date: &'a PartitionDate,
) -> [(&'static str, &'a str); 5] {
    let [r, c, y, m, d] = KEY_NAMES;
    [
        (r, resource),
        (c, class),
        (y, &date.yyyy),
        (m, &date.mm),
        (d, &date.dd),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::KeptEvent;

    fn kept(ms: Option<i64>) -> KeptEvent {
        KeptEvent {
            command: None,
            epoch_ms: ms,
            range: 0..0,
        }
    }

    #[test]
    fn given_events_spanning_dates_then_first_kept_event_date_wins() {
        let day = 86_400_000;
        let routed = Routed {
            kept: vec![kept(None), kept(Some(3 * day)), kept(Some(4 * day))],
            ..Routed::default()
        };
        assert_eq!(
            PartitionDate::of(&routed, Some(0)),
            PartitionDate::from_ms(3 * day)
        );
    }

    #[test]
    fn given_no_event_time_then_arrival_time_else_unknown() {
        let routed = Routed {
            kept: vec![kept(None)],
            ..Routed::default()
        };
        assert_eq!(PartitionDate::of(&routed, Some(0)).yyyy, "1970");
        assert_eq!(PartitionDate::of(&routed, None), PartitionDate::unknown());
    }

    #[test]
    fn given_values_then_keys_are_named_as_the_template_prefix_uses_them() {
        let date = PartitionDate::from_ms(0);
        assert_eq!(
            partition_keys("cluster-ABC", "READ", &date),
            [
                ("resource", "cluster-ABC"),
                ("class", "READ"),
                ("yyyy", "1970"),
                ("mm", "01"),
                ("dd", "01")
            ]
        );
    }
}
