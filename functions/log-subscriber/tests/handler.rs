//! Handler tests with an in-memory CloudWatch Logs: pagination, selection, the two-filter limit,
//! the Logs Destination branch (no role; moto refuses such targets) and remove mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use log_subscriber::config::FilterSpec;
use log_subscriber::logs::{BoxFuture, GroupPage, LogGroup, Logs, LogsError};
use log_subscriber::plan::ExistingFilter;
use log_subscriber::{Config, Mode, handle};
use serde_json::json;
use sluice_runtime::config::Env;

const DEST: &str = "arn:aws:logs:us-east-1:111111111111:destination:sluice-cwlogs";

/// Groups (name → filters) served 50 per page, like DescribeLogGroups.
#[derive(Default)]
struct FakeLogs {
    groups: Mutex<BTreeMap<String, Vec<ExistingFilter>>>,
    puts: Mutex<Vec<(String, FilterSpec)>>,
    pages: Mutex<u32>,
}

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
                        arn: format!("arn:aws:logs:us-east-1:1:log-group:{n}"),
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
        _: &'a LogGroup,
    ) -> BoxFuture<'a, Result<HashMap<String, String>, LogsError>> {
        Box::pin(async move { Ok(HashMap::new()) })
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
        ("OWN_LOG_GROUP_PREFIXES", "/aws/lambda/sluice-"),
    ]))
    .expect("config")
}

#[tokio::test]
async fn given_120_groups_behind_a_destination_when_subscribed_then_every_page_seen_and_no_role_put()
 {
    let mut groups: Vec<(String, Vec<ExistingFilter>)> = (0..100)
        .map(|i| (format!("/app/svc-{i:03}"), vec![]))
        .collect();
    groups.extend((0..10).map(|i| (format!("/app/two-{i}"), vec![foreign("a"), foreign("b")])));
    groups.extend((0..5).map(|i| (format!("/app/x{i}-debug"), vec![])));
    groups.extend((0..5).map(|i| (format!("/aws/lambda/sluice-f{i}"), vec![])));
    let fake = FakeLogs::with(groups);
    let config = destination_config();
    let report = handle(&json!({"source": "aws.events"}), &config, &fake)
        .await
        .expect("ran");
    assert_eq!(report.mode, Some(Mode::Subscribe));
    assert_eq!(report.groups, 120);
    assert_eq!(*fake.pages.lock().expect("lock"), 3);
    assert_eq!(report.subscribed, 100);
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
    let again = handle(&json!({}), &config, &fake).await.expect("ran");
    assert_eq!((again.subscribed, again.already), (0, 100));
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
    let report = handle(&json!({"mode": "remove"}), &destination_config(), &fake)
        .await
        .expect("ran");
    assert_eq!(report.removed, 1);
    let groups = fake.groups.lock().expect("lock");
    assert_eq!(groups["/a"], vec![foreign("keep")]);
    assert_eq!(groups["/b"], vec![foreign("keep")]);
}

#[tokio::test]
async fn given_unknown_mode_then_invalid_input() {
    let err = handle(
        &json!({"mode": "purge"}),
        &destination_config(),
        &FakeLogs::default(),
    )
    .await
    .expect_err("unknown");
    let d: lambda_runtime::Diagnostic = err.into();
    assert_eq!(d.error_type, "InvalidInput");
}
