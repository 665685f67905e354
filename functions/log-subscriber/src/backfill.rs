//! Backfill: the events a group held before our filter existed, sent once into the Kinesis
//! stream the filter targets, as the filter would have sent them.
//!
//! When the subscriber puts our filter on a group (a scheduled pass or a `CreateLogGroup` event),
//! it reads the group's events from its `creationTime` to the filter's `creationTime`
//! (`FilterLogEvents`, with the filter's pattern; at most [`Backfill::max_window_ms`] back) and
//! puts them as subscription-shaped `DATA_MESSAGE` records, one per log stream per page,
//! gzipped exactly like CloudWatch's (`sluice_cwlogs::encode`), so the processor cannot tell them
//! from live ones. The window is by event time, as `FilterLogEvents` selects.
//!
//! Marker: a tag on the group, [`MARKER_KEY`], `pending` before the filter is put and `done` once
//! every record was accepted. A run that finds `pending` (an earlier run failed half way) sends
//! the window again (at-least-once); `done` means never again, even after a remove and a new
//! subscription. The tag lives and dies with the group (a group deleted and created again under
//! the same name starts without it) and needs no bucket, so it works wherever the subscriber runs.

use std::collections::HashMap;

use sluice_cwlogs::{EncodeError, LogEvent, MessageType, Payload, encode_within};

use crate::config::{Backfill, Config};
use crate::kinesis::{self, PARTITION_KEY_MAX_CHARS, PutFailure, RECORD_MAX_BYTES, Record, Stream};
use crate::logs::{EventQuery, FoundEvent, LogGroup, Logs, LogsError};

/// The tag key of the backfill marker.
pub const MARKER_KEY: &str = "sluice-backfill";
/// Marker value: our filter is (being) put, the backfill has not completed.
pub const PENDING: &str = "pending";
/// Marker value: the backfill completed; never sent again.
pub const DONE: &str = "done";

/// Why a group's backfill did not complete (its marker stays `pending`; the next run retries).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Reading events or writing the marker failed.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// Records were still refused after the last attempt.
    #[error(transparent)]
    Put(#[from] PutFailure),
    /// An event could not be encoded within a Kinesis record.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// What one group's backfill sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Log events sent.
    pub events: u64,
    /// Kinesis records accepted.
    pub records: u64,
    /// Entries put again after a partial failure.
    pub retried: u64,
}

/// The event times to read, `[start, end]`: from the group's creation (or `max_window_ms` before
/// the filter, whichever is later) to the filter's creation.
pub fn window(group_created: Option<i64>, filter_created: i64, max_window_ms: i64) -> (i64, i64) {
    let floor = filter_created.saturating_sub(max_window_ms);
    let start = group_created.map_or(floor, |c| c.max(floor));
    (start.min(filter_created), filter_created)
}

/// The account that owns a group, from its ARN (`arn:aws:logs:<region>:<account>:log-group:…`).
pub fn owner_of(group_arn: &str) -> &str {
    group_arn.split(':').nth(4).unwrap_or_default()
}

/// The page's events as one `DATA_MESSAGE` per log stream (streams in first-seen order, events
/// in page order), as our filter `filter_name` would have delivered them.
pub fn payloads(
    owner: &str,
    group: &str,
    filter_name: &str,
    events: Vec<FoundEvent>,
) -> Vec<Payload> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Payload> = Vec::new();
    for e in events {
        let i = *index.entry(e.log_stream.clone()).or_insert_with(|| {
            out.push(Payload {
                message_type: MessageType::Data,
                owner: owner.to_owned(),
                log_group: group.to_owned(),
                log_stream: e.log_stream.clone(),
                subscription_filters: vec![filter_name.to_owned()],
                log_events: Vec::new(),
                extra: serde_json::Map::new(),
            });
            out.len() - 1
        });
        out[i].log_events.push(LogEvent {
            id: e.id,
            timestamp: e.timestamp,
            message: e.message,
            extra: serde_json::Map::new(),
        });
    }
    out
}

/// Kinesis records of `payloads`: each gzipped, halved until data plus key fit one record.
pub fn records(payloads: &[Payload]) -> Result<Vec<Record>, EncodeError> {
    let mut out = Vec::new();
    for p in payloads {
        let key: String = p.log_stream.chars().take(PARTITION_KEY_MAX_CHARS).collect();
        let key = if key.is_empty() {
            p.log_group.clone()
        } else {
            key
        };
        for data in encode_within(p, RECORD_MAX_BYTES - key.len())? {
            out.push(Record {
                data,
                partition_key: key.clone(),
            });
        }
    }
    Ok(out)
}

/// Sends `group`'s events of the window before `filter_created` into the stream, page by page
/// (memory holds one `FilterLogEvents` page), then marks the group `done`.
pub async fn run(
    group: &LogGroup,
    filter_created: i64,
    config: &Config,
    backfill: &Backfill,
    logs: &dyn Logs,
    stream: &dyn Stream,
) -> Result<Sent, BackfillError> {
    let (start, end) = window(group.creation_time, filter_created, backfill.max_window_ms);
    let query = EventQuery {
        group: &group.name,
        pattern: &config.filter.pattern,
        start,
        end,
    };
    let owner = owner_of(&group.arn);
    let mut sent = Sent::default();
    let mut token = None;
    loop {
        let page = logs.filter_events(query, token.take()).await?;
        sent.events += page.events.len() as u64;
        let batch = records(&payloads(
            owner,
            &group.name,
            &config.filter.name,
            page.events,
        ))?;
        let put = kinesis::put_all(stream, &backfill.stream_name, &batch, config.put_retry).await?;
        sent.records += put.records;
        sent.retried += put.retried;
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    logs.tag(group, MARKER_KEY, DONE).await?;
    tracing::info!(
        group = group.name,
        start,
        end,
        events = sent.events,
        records = sent.records,
        "backfilled the events written before our filter"
    );
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use sluice_cwlogs::decode;

    use super::*;

    fn event(stream: &str, id: u32, message: &str) -> FoundEvent {
        FoundEvent {
            log_stream: stream.into(),
            id: id.to_string(),
            timestamp: 1_000 + i64::from(id),
            message: message.into(),
        }
    }

    #[test]
    fn given_times_then_window_starts_at_creation_but_never_before_the_longest_window() {
        assert_eq!(window(Some(1_000), 5_000, 10_000), (1_000, 5_000));
        assert_eq!(window(Some(1_000), 5_000, 3_000), (2_000, 5_000));
        assert_eq!(window(None, 5_000, 3_000), (2_000, 5_000));
        // A filter older than the group (clock skew): an empty window at the filter's time.
        assert_eq!(window(Some(6_000), 5_000, 3_000), (5_000, 5_000));
    }

    #[test]
    fn given_events_of_two_streams_then_one_data_message_per_stream_in_order() {
        let events = vec![event("a", 1, "x"), event("b", 2, "y"), event("a", 3, "z")];
        let p = payloads("123456789012", "/app/web", "sluice-export", events);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].log_stream.as_str(), p[1].log_stream.as_str()),
            ("a", "b")
        );
        let ids: Vec<&str> = p[0].log_events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["1", "3"]);
        assert_eq!(p[0].subscription_filters, ["sluice-export"]);
        assert_eq!(p[0].message_type, MessageType::Data);
        assert_eq!(p[0].owner, "123456789012");
        assert_eq!(
            owner_of("arn:aws:logs:us-east-1:123456789012:log-group:/app/web"),
            "123456789012"
        );
    }

    #[test]
    fn given_a_stream_over_one_record_then_split_records_each_within_1_mib_and_decodable() {
        // Incompressible text (an LCG's letters), so 12 events of 200 KB cannot share a record.
        let mut x: u64 = 7;
        let mut text = || -> String {
            (0..200_000)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from(b'a' + ((x >> 33) % 26) as u8)
                })
                .collect()
        };
        let events: Vec<FoundEvent> = (0..12).map(|i| event("s", i, &text())).collect();
        let out = records(&payloads("1", "/g", "f", events)).expect("encodes");
        assert!(out.len() >= 2, "{} records", out.len());
        let mut seen = 0;
        for r in &out {
            assert!(r.size() <= RECORD_MAX_BYTES);
            assert_eq!(r.partition_key, "s");
            let p = decode(&r.data, 64 << 20).expect("a subscription payload");
            assert_eq!(p.log_group, "/g");
            seen += p.log_events.len();
        }
        assert_eq!(seen, 12);
    }
}
