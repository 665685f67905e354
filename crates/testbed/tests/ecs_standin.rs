//! The ECS stand-in, driven through the real `aws_sdk_ecs` client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration, Tag,
    Task, TaskOverride,
};
use sluice_testbed::ecs::{FakeEcs, Launcher, TaskLaunch};

const CLUSTER: &str = "sluice";

/// Runs `sh -c <script>` chosen by the task definition's family, with the overrides' environment.
fn launcher() -> Launcher {
    Arc::new(|launch: &TaskLaunch| {
        let script = match launch.task_definition.split(':').next() {
            Some("greet") => r#"echo "$GREETING"; echo oops >&2; exit 3"#,
            Some("ok") => "echo fine",
            Some("sleep") => "sleep 30",
            _ => return Err(format!("no image for {}", launch.task_definition)),
        };
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(launch.environment.iter().cloned());
        Ok(command)
    })
}

fn client(ecs: &FakeEcs) -> Client {
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sluice_runtime::aws::http_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(ecs.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-0123")
                .security_groups("sg-0123")
                .build()
                .expect("awsvpc configuration"),
        )
        .build()
}

fn env_override(name: &str, value: &str) -> TaskOverride {
    TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name("sanitizer")
                .environment(KeyValuePair::builder().name(name).value(value).build())
                .build(),
        )
        .build()
}

/// Starts one task and returns it as `RunTask` described it.
async fn run(client: &Client, family: &str, started_by: Option<&str>) -> Task {
    let out = client
        .run_task()
        .cluster(CLUSTER)
        .task_definition(format!("{family}:1"))
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .overrides(env_override("GREETING", "hello from the task"))
        .set_started_by(started_by.map(str::to_owned))
        .tags(Tag::builder().key("purpose").value("test").build())
        .send()
        .await
        .expect("RunTask");
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    assert_eq!(out.tasks().len(), 1);
    out.tasks()[0].clone()
}

/// Polls `DescribeTasks` until the task is `STOPPED`.
async fn wait_stopped(client: &Client, arn: &str) -> Task {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = client
            .describe_tasks()
            .cluster(CLUSTER)
            .tasks(arn)
            .send()
            .await
            .expect("DescribeTasks");
        let task = out.tasks()[0].clone();
        if task.last_status() == Some("STOPPED") {
            return task;
        }
        assert!(Instant::now() < deadline, "task {arn} still {task:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_failing_task_reports_its_exit_code_and_output() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let task = run(&client, "greet", Some("exec-1")).await;
    let arn = task.task_arn().expect("task arn").to_owned();
    assert!(
        arn.starts_with("arn:aws:ecs:us-east-1:123456789012:task/sluice/"),
        "{arn}"
    );
    let id = arn.rsplit('/').next().expect("task id");
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(task.launch_type(), Some(&LaunchType::Fargate));
    assert_eq!(task.started_by(), Some("exec-1"));
    assert_eq!(task.tags().len(), 1);

    let stopped = wait_stopped(&client, &arn).await;
    assert_eq!(stopped.containers()[0].exit_code(), Some(3));
    assert_eq!(stopped.containers()[0].name(), Some("sanitizer"));
    assert_eq!(
        stopped.stopped_reason(),
        Some("Essential container in task exited")
    );
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
    let env = &stopped
        .overrides()
        .expect("overrides")
        .container_overrides()[0]
        .environment()[0];
    assert_eq!(env.value(), Some("hello from the task"));

    assert!(ecs.wait_all_stopped(Duration::from_secs(5)));
    let records = ecs.tasks();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].arn, arn);
    assert_eq!(records[0].last_status, "STOPPED");
    assert_eq!(records[0].exit_code, Some(3));
    assert_eq!(records[0].stdout, "hello from the task\n");
    assert_eq!(records[0].stderr, "oops\n");
    assert_eq!(records[0].started_by.as_deref(), Some("exec-1"));

    let requests = ecs.run_task_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["overrides"]["containerOverrides"][0]["environment"][0]["name"],
        "GREETING"
    );
}

#[tokio::test]
async fn a_successful_task_exits_zero() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let task = run(&client, "ok", None).await;
    let arn = task.task_arn().expect("task arn");
    let stopped = wait_stopped(&client, arn).await;
    assert_eq!(stopped.containers()[0].exit_code(), Some(0));
    assert_eq!(stopped.started_by(), None);
    assert_eq!(ecs.tasks()[0].stdout, "fine\n");
    assert_eq!(ecs.tasks()[0].exit_code, Some(0));
}

#[tokio::test]
async fn a_launcher_error_is_a_failure_without_task() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let out = client
        .run_task()
        .cluster(CLUSTER)
        .task_definition("unknown-image:4")
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .send()
        .await
        .expect("RunTask answers failures, not an error");
    assert!(out.tasks().is_empty());
    assert_eq!(out.failures().len(), 1);
    assert_eq!(
        out.failures()[0].reason(),
        Some("no image for unknown-image:4")
    );
    assert!(out.failures()[0].arn().is_some());
    assert!(ecs.tasks().is_empty());
    assert_eq!(ecs.run_task_requests().len(), 1);
}

#[tokio::test]
async fn missing_subnets_are_an_invalid_parameter() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let err = client
        .run_task()
        .cluster(CLUSTER)
        .task_definition("ok:1")
        .launch_type(LaunchType::Fargate)
        .send()
        .await
        .expect_err("no network configuration");
    let service = err.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("InvalidParameterException"));
    assert!(service.is_invalid_parameter_exception());
    assert!(
        service.message().unwrap_or_default().contains("subnets"),
        "{service:?}"
    );

    let err = client
        .run_task()
        .cluster(CLUSTER)
        .task_definition("ok:1")
        .launch_type(LaunchType::Ec2)
        .network_configuration(network())
        .send()
        .await
        .expect_err("not Fargate");
    assert_eq!(
        err.as_service_error().and_then(|e| e.code()),
        Some("InvalidParameterException")
    );
    assert!(ecs.tasks().is_empty());
}

#[tokio::test]
async fn list_tasks_filters_by_started_by_and_status() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let a = run(&client, "sleep", Some("exec-a")).await;
    let b = run(&client, "ok", Some("exec-b")).await;
    let a = a.task_arn().expect("arn").to_owned();
    let b = b.task_arn().expect("arn").to_owned();
    wait_stopped(&client, &b).await;

    let list = |started_by: Option<&str>, status: Option<aws_sdk_ecs::types::DesiredStatus>| {
        let client = client.clone();
        let started_by = started_by.map(str::to_owned);
        async move {
            client
                .list_tasks()
                .cluster(CLUSTER)
                .set_started_by(started_by)
                .set_desired_status(status)
                .send()
                .await
                .expect("ListTasks")
                .task_arns()
                .to_vec()
        }
    };
    use aws_sdk_ecs::types::DesiredStatus;
    assert_eq!(list(Some("exec-a"), None).await, vec![a.clone()]);
    assert!(list(Some("exec-b"), None).await.is_empty());
    assert_eq!(
        list(Some("exec-b"), Some(DesiredStatus::Stopped)).await,
        vec![b.clone()]
    );
    assert_eq!(
        list(None, Some(DesiredStatus::Running)).await,
        vec![a.clone()]
    );
    assert!(list(Some("nobody"), None).await.is_empty());
    let other = client
        .list_tasks()
        .cluster("other")
        .send()
        .await
        .expect("ListTasks");
    assert!(other.task_arns().is_empty());

    client
        .stop_task()
        .cluster(CLUSTER)
        .task(&a)
        .send()
        .await
        .expect("StopTask");
    assert!(list(None, None).await.is_empty());
}

#[tokio::test]
async fn stop_task_kills_a_running_task_promptly() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let task = run(&client, "sleep", Some("exec-s")).await;
    let arn = task.task_arn().expect("arn").to_owned();
    assert_eq!(task.last_status(), Some("RUNNING"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ecs.tasks()[0].last_status, "RUNNING");

    let started = Instant::now();
    let out = client
        .stop_task()
        .cluster(CLUSTER)
        .task(&arn)
        .reason("cancelled by the test")
        .send()
        .await
        .expect("StopTask");
    let stopped = out.task().expect("task");
    assert_eq!(stopped.last_status(), Some("STOPPED"));
    assert_eq!(stopped.desired_status(), Some("STOPPED"));
    assert_eq!(stopped.stopped_reason(), Some("cancelled by the test"));
    assert_eq!(stopped.containers()[0].exit_code(), None);
    assert!(ecs.wait_all_stopped(Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ecs.tasks()[0].exit_code, None);

    // Without a reason, AWS's default.
    let task = run(&client, "sleep", None).await;
    let out = client
        .stop_task()
        .cluster(CLUSTER)
        .task(task.task_arn().expect("arn"))
        .send()
        .await
        .expect("StopTask");
    assert_eq!(
        out.task().and_then(|t| t.stopped_reason()),
        Some("Task stopped by user")
    );
}

#[tokio::test]
async fn describe_tasks_reports_unknown_arns_as_missing() {
    let ecs = FakeEcs::start(launcher());
    let client = client(&ecs);
    let task = run(&client, "ok", None).await;
    let known = task.task_arn().expect("arn").to_owned();
    let unknown = "arn:aws:ecs:us-east-1:123456789012:task/sluice/0123456789abcdef0123456789abcdef";
    let out = client
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&known)
        .tasks(unknown)
        .send()
        .await
        .expect("DescribeTasks");
    assert_eq!(out.tasks().len(), 1);
    assert_eq!(out.tasks()[0].task_arn(), Some(known.as_str()));
    assert_eq!(out.failures().len(), 1);
    assert_eq!(out.failures()[0].arn(), Some(unknown));
    assert_eq!(out.failures()[0].reason(), Some("MISSING"));
    assert!(ecs.wait_all_stopped(Duration::from_secs(5)));
}
