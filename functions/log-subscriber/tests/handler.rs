//! Handler tests with an in-memory CloudWatch Logs: pagination, selection, the two-filter limit,
//! the Logs Destination branch (no role; moto refuses such targets), remove mode, and backfill
//! (marker states, retries of refused entries only).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use log_subscriber::backfill::{DONE, MARKER_KEY, PENDING};
use log_subscriber::config::FilterSpec;
use log_subscriber::kinesis::{Record, Retry, Stream, StreamError};
use log_subscriber::logs::{
    BoxFuture, EventPage, EventQuery, FoundEvent, GroupPage, LogGroup, Logs, LogsError,
};
use log_subscriber::plan::ExistingFilter;
use log_subscriber::{Aws, Config, Mode, Report, handle};
use serde_json::{Value, json};
use sluice_runtime::config::Env;

const DEST: &str = "arn:aws:logs:us-east-1:111111111111:destination:sluice-cwlogs";

/// Groups (name → filters) served 50 per page, like DescribeLogGroups.
#[derive(Default)]
struct FakeLogs {
    groups: Mutex<BTreeMap<String, Vec<ExistingFilter>>>,
    puts: Mutex<Vec<(String, FilterSpec)>>,
    pages: Mutex<u32>,
    /// Events per group (served two per FilterLogEvents page).
    events: Mutex<HashMap<String, Vec<FoundEvent>>>,
    tags: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Every FilterLogEvents query, as (group, start, end).
    queries: Mutex<Vec<(String, i64, i64)>>,
}

/// Groups are created at time 1,000; filters are put at time 5,000.
const GROUP_CREATED: i64 = 1_000;
const FILTER_PUT: i64 = 5_000;

impl FakeLogs {
    fn with(groups: impl IntoIterator<Item = (String, Vec<ExistingFilter>)>) -> Self {
        Self {
            groups: Mutex::new(groups.into_iter().collect()),
            ..Self::default()
        }
    }
}

impl Logs for FakeLogs {
    fn describe_groups<'a>(
        &'a self,
        prefix: Option<&'a str>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<GroupPage, LogsError>> {
        Box::pin(async move {
            *self.pages.lock().expect("lock") += 1;
            let start: usize = token.map_or(0, |t| t.parse().expect("token"));
            let names: Vec<String> = self
                .groups
                .lock()
                .expect("lock")
                .keys()
                .filter(|n| prefix.is_none_or(|p| n.starts_with(p)))
                .cloned()
                .collect();
            let end = (start + 50).min(names.len());
            Ok(GroupPage {
                groups: names[start..end]
                    .iter()
                    .map(|n| LogGroup {
                        name: n.clone(),
                        arn: format!("arn:aws:logs:us-east-1:111111111111:log-group:{n}"),
                        creation_time: Some(GROUP_CREATED),
                    })
                    .collect(),
                next_token: (end < names.len()).then(|| end.to_string()),
            })
        })
    }

    fn filters<'a>(
        &'a self,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExistingFilter>, LogsError>> {
        Box::pin(async move { Ok(self.groups.lock().expect("lock")[group].clone()) })
    }

    fn tags<'a>(
        &'a self,
        group: &'a LogGroup,
    ) -> BoxFuture<'a, Result<HashMap<String, String>, LogsError>> {
        Box::pin(async move {
            let tags = self.tags.lock().expect("lock");
            Ok(tags.get(&group.name).cloned().unwrap_or_default())
        })
    }

    fn put_filter<'a>(
        &'a self,
        group: &'a str,
        filter: &'a FilterSpec,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.puts
                .lock()
                .expect("lock")
                .push((group.to_owned(), filter.clone()));
            let mut groups = self.groups.lock().expect("lock");
            let filters = groups.get_mut(group).expect("group");
            filters.retain(|f| f.name != filter.name);
            filters.push(ExistingFilter {
                name: filter.name.clone(),
                destination_arn: filter.destination_arn.clone(),
                pattern: filter.pattern.clone(),
                role_arn: filter.role_arn.clone(),
                creation_time: Some(FILTER_PUT),
            });
            Ok(())
        })
    }

    fn delete_filter<'a>(
        &'a self,
        group: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            let mut groups = self.groups.lock().expect("lock");
            groups
                .get_mut(group)
                .expect("group")
                .retain(|f| f.name != name);
            Ok(())
        })
    }

    fn filter_events<'a>(
        &'a self,
        query: EventQuery<'a>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<EventPage, LogsError>> {
        Box::pin(async move {
            self.queries.lock().expect("lock").push((
                query.group.to_owned(),
                query.start,
                query.end,
            ));
            let all: Vec<FoundEvent> = self
                .events
                .lock()
                .expect("lock")
                .get(query.group)
                .into_iter()
                .flatten()
                .filter(|e| (query.start..=query.end).contains(&e.timestamp))
                .cloned()
                .collect();
            let start: usize = token.map_or(0, |t| t.parse().expect("token"));
            let end = (start + 2).min(all.len());
            Ok(EventPage {
                events: all[start..end].to_vec(),
                next_token: (end < all.len()).then(|| end.to_string()),
            })
        })
    }

    fn tag<'a>(
        &'a self,
        group: &'a LogGroup,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            let mut tags = self.tags.lock().expect("lock");
            tags.entry(group.name.clone())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
            Ok(())
        })
    }
}

/// A Kinesis stream that refuses every other entry of its first call (a partial failure).
#[derive(Default)]
struct FakeStream {
    accepted: Mutex<Vec<Record>>,
    calls: Mutex<u32>,
}

impl Stream for FakeStream {
    fn put_records<'a>(
        &'a self,
        stream: &'a str,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StreamError>> {
        Box::pin(async move {
            assert_eq!(stream, "cwlstream");
            let mut calls = self.calls.lock().expect("lock");
            *calls += 1;
            let mut accepted = self.accepted.lock().expect("lock");
            Ok(records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if *calls == 1 && i % 2 == 1 {
                        Some("ProvisionedThroughputExceededException".to_owned())
                    } else {
                        accepted.push(r.clone());
                        None
                    }
                })
                .collect())
        })
    }
}

/// Runs the handler with `fake` and a stream that is never to be used.
async fn run(event: &Value, config: &Config, fake: &FakeLogs) -> Report {
    let unused = FakeStream::default();
    let report = handle(
        event,
        config,
        Aws {
            logs: fake,
            stream: &unused,
        },
    )
    .await
    .expect("ran");
    assert_eq!(
        *unused.calls.lock().expect("lock"),
        0,
        "nothing to backfill"
    );
    report
}

fn foreign(name: &str) -> ExistingFilter {
    ExistingFilter {
        name: name.into(),
        destination_arn: "arn:aws:lambda:us-east-1:1:function:other".into(),
        ..ExistingFilter::default()
    }
}

fn destination_config() -> Config {
    Config::from_env(&Env::from_pairs([
        ("DESTINATION_ARN", DEST),
        ("ROLE_ARN", "arn:aws:iam::1:role/ignored"),
        ("EXCLUDE_REGEX", "-debug$"),
        (
            "OWN_LOG_GROUPS",
            "/aws/lambda/sluice-f0,/aws/lambda/sluice-f1,/aws/lambda/sluice-f2,/aws/lambda/sluice-f3,/aws/lambda/sluice-f4",
        ),
    ]))
    .expect("config")
}

#[tokio::test]
async fn given_121_groups_behind_a_destination_when_subscribed_then_every_page_seen_and_no_role_put()
 {
    let mut groups: Vec<(String, Vec<ExistingFilter>)> = (0..100)
        .map(|i| (format!("/app/svc-{i:03}"), vec![]))
        .collect();
    groups.extend((0..10).map(|i| (format!("/app/two-{i}"), vec![foreign("a"), foreign("b")])));
    groups.extend((0..5).map(|i| (format!("/app/x{i}-debug"), vec![])));
    groups.extend((0..5).map(|i| (format!("/aws/lambda/sluice-f{i}"), vec![])));
    // Shares an own group's name as a prefix: anyone's group, subscribed like the others.
    groups.push(("/aws/lambda/sluice-f0-app".to_owned(), vec![]));
    let fake = FakeLogs::with(groups);
    let config = destination_config();
    let report = run(&json!({"source": "aws.events"}), &config, &fake).await;
    assert_eq!(report.mode, Some(Mode::Subscribe));
    assert_eq!(report.groups, 121);
    assert_eq!(*fake.pages.lock().expect("lock"), 3);
    assert_eq!(report.subscribed, 101);
    assert_eq!(report.skipped_two_filters, 10);
    assert_eq!((report.excluded, report.own), (5, 5));
    let no_role = fake
        .puts
        .lock()
        .expect("lock")
        .iter()
        .all(|(_, f)| f.role_arn.is_none() && f.destination_arn == DEST);
    assert!(no_role);

    // A second run changes nothing.
    let again = run(&json!({}), &config, &fake).await;
    assert_eq!((again.subscribed, again.already), (0, 101));
    let puts = fake.puts.lock().expect("lock");
    assert!(
        puts.iter().all(
            |(g, _)| !g.starts_with("/aws/lambda/sluice-f") || g == "/aws/lambda/sluice-f0-app"
        )
    );
    assert!(puts.iter().any(|(g, _)| g == "/aws/lambda/sluice-f0-app"));
}

#[tokio::test]
async fn given_ours_beside_a_foreign_filter_when_removed_then_only_ours_deleted() {
    let ours = ExistingFilter {
        name: "sluice-export".into(),
        destination_arn: DEST.into(),
        ..ExistingFilter::default()
    };
    let fake = FakeLogs::with([
        ("/a".to_owned(), vec![foreign("keep"), ours.clone()]),
        ("/b".to_owned(), vec![foreign("keep")]),
    ]);
    let report = run(&json!({"mode": "remove"}), &destination_config(), &fake).await;
    assert_eq!(report.removed, 1);
    let groups = fake.groups.lock().expect("lock");
    assert_eq!(groups["/a"], vec![foreign("keep")]);
    assert_eq!(groups["/b"], vec![foreign("keep")]);
}

#[tokio::test]
async fn given_unknown_mode_then_invalid_input() {
    let fake = FakeLogs::default();
    let stream = FakeStream::default();
    let aws = Aws {
        logs: &fake,
        stream: &stream,
    };
    let err = handle(&json!({"mode": "purge"}), &destination_config(), aws)
        .await
        .expect_err("unknown");
    let d: lambda_runtime::Diagnostic = err.into();
    assert_eq!(d.error_type, "InvalidInput");
}

fn kinesis_config() -> Config {
    let mut c = Config::from_env(&Env::from_pairs([
        (
            "DESTINATION_ARN",
            "arn:aws:kinesis:us-east-1:111111111111:stream/cwlstream",
        ),
        ("ROLE_ARN", "arn:aws:iam::111111111111:role/cwl-to-kinesis"),
        ("BACKFILL_MAX_HOURS", "1"),
    ]))
    .expect("config");
    c.put_retry = Retry {
        attempts: 3,
        backoff: std::time::Duration::from_millis(1),
    };
    c
}

/// `n` events of `group` in streams `s0`/`s1`, at times 1,001.. (between creation and filter).
fn events(group: &str, n: i64) -> Vec<FoundEvent> {
    (0..n)
        .map(|i| FoundEvent {
            log_stream: format!("s{}", i % 2),
            id: format!("{group}#{i}"),
            timestamp: GROUP_CREATED + 1 + i,
            message: format!("line {i} of {group}"),
        })
        .collect()
}

/// Every event id in the records the stream accepted, in order.
fn accepted_ids(stream: &FakeStream) -> Vec<String> {
    let mut ids = Vec::new();
    for r in stream.accepted.lock().expect("lock").iter() {
        let p = sluice_cwlogs::decode(&r.data, 1 << 20).expect("a subscription payload");
        assert_eq!(p.subscription_filters, ["sluice-export"]);
        assert_eq!(p.owner, "111111111111");
        assert_eq!(r.partition_key, p.log_stream);
        ids.extend(p.log_events.into_iter().map(|e| e.id));
    }
    ids
}

#[tokio::test]
async fn given_a_new_subscription_when_puts_partly_fail_then_every_earlier_event_sent_once_and_a_second_run_sends_nothing()
 {
    let fake = FakeLogs::with([("/app/web".to_owned(), vec![])]);
    fake.events
        .lock()
        .expect("lock")
        .insert("/app/web".into(), events("/app/web", 7));
    let stream = FakeStream::default();
    let aws = Aws {
        logs: &fake,
        stream: &stream,
    };
    let config = kinesis_config();
    let report = handle(&json!({}), &config, aws).await.expect("ran");
    assert_eq!((report.subscribed, report.backfilled), (1, 1));
    assert_eq!(report.backfill_events, 7);
    // The window: the group's creation to our filter's creation.
    assert_eq!(
        fake.queries.lock().expect("lock")[0],
        ("/app/web".to_owned(), GROUP_CREATED, FILTER_PUT)
    );
    let mut ids = accepted_ids(&stream);
    ids.sort();
    let mut want: Vec<String> = events("/app/web", 7).into_iter().map(|e| e.id).collect();
    want.sort();
    assert_eq!(ids, want, "each event once, refused entries retried alone");
    assert_eq!(
        fake.tags.lock().expect("lock")["/app/web"][MARKER_KEY],
        DONE
    );

    let calls = *stream.calls.lock().expect("lock");
    let again = handle(&json!({}), &config, aws).await.expect("ran");
    assert_eq!(
        (again.already, again.backfilled, again.backfill_events),
        (1, 0, 0)
    );
    assert_eq!(*stream.calls.lock().expect("lock"), calls);
}

#[tokio::test]
async fn given_an_unfinished_backfill_then_the_next_run_sends_it_and_a_done_one_is_never_sent_again()
 {
    let ours = ExistingFilter {
        name: "sluice-export".into(),
        destination_arn: "arn:aws:kinesis:us-east-1:111111111111:stream/cwlstream".into(),
        role_arn: Some("arn:aws:iam::111111111111:role/cwl-to-kinesis".into()),
        creation_time: Some(3_000),
        ..ExistingFilter::default()
    };
    let fake = FakeLogs::with([
        ("/app/pending".to_owned(), vec![ours]),
        ("/app/resubscribed".to_owned(), vec![]),
        ("/app/before-backfill".to_owned(), vec![]),
    ]);
    for g in ["/app/pending", "/app/resubscribed"] {
        fake.events
            .lock()
            .expect("lock")
            .insert(g.into(), events(g, 3));
    }
    {
        let mut tags = fake.tags.lock().expect("lock");
        tags.insert(
            "/app/pending".into(),
            HashMap::from([(MARKER_KEY.into(), PENDING.into())]),
        );
        tags.insert(
            "/app/resubscribed".into(),
            HashMap::from([(MARKER_KEY.into(), DONE.into())]),
        );
    }
    let stream = FakeStream::default();
    let aws = Aws {
        logs: &fake,
        stream: &stream,
    };
    let report = handle(&json!({}), &kinesis_config(), aws)
        .await
        .expect("ran");
    assert_eq!((report.already, report.subscribed), (1, 2));
    // Only the pending group, up to its filter's own creation time.
    assert_eq!(
        report.backfilled, 2,
        "pending + the group without any marker"
    );
    let queries = fake.queries.lock().expect("lock").clone();
    assert!(queries.contains(&("/app/pending".to_owned(), GROUP_CREATED, 3_000)));
    assert!(!queries.iter().any(|(g, ..)| g == "/app/resubscribed"));
    let ids = accepted_ids(&stream);
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.starts_with("/app/pending#")));
}

#[tokio::test]
async fn given_a_logs_destination_target_then_no_backfill_and_no_marker() {
    let fake = FakeLogs::with([("/app/web".to_owned(), vec![])]);
    fake.events
        .lock()
        .expect("lock")
        .insert("/app/web".into(), events("/app/web", 3));
    let report = run(&json!({}), &destination_config(), &fake).await;
    assert_eq!((report.subscribed, report.backfilled), (1, 0));
    assert!(fake.tags.lock().expect("lock").is_empty());
    assert!(fake.queries.lock().expect("lock").is_empty());
}
