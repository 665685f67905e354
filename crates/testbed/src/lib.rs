//! The local AWS test bed. Nothing here reaches AWS: every service is a local stand-in that
//! this crate starts, on loopback, for the test process that asks for it.
//!
//! - [`moto::Moto`]: a moto server (one per test binary, reset between tests where needed);
//! - [`lambda::LambdaHost`]: runs a function's real binary behind a local Lambda runtime API
//!   and serves the Lambda Invoke API, so functions can be invoked by name;
//! - [`asl::run`]: runs an ASL file with aws-local-stepfunctions, tasks served by the host;
//! - [`db`]: private PostgreSQL and MariaDB servers for the sanitizer's tests;
//! - [`ecs::FakeEcs`]: an ECS stand-in (`RunTask`, `DescribeTasks`, `ListTasks`, `StopTask`)
//!   that runs each task as a local process and reports its real exit code;
//! - [`aws_proxy::AwsProxy`]: a forwarder in front of moto that fails or edits chosen actions,
//!   and, with [`iam_gate`], refuses what IAM would refuse.
//! - [`sanitized::Stage`]: the sanitized-snapshot pipeline's stage (tests and `make demo`).
//! - [`backup::FakeBackup`]: an AWS Backup stand-in (`DescribeBackupJob`, `DeleteRecoveryPoint`,
//!   and [`restore_testing`]'s restore jobs and the validation results posted to them, which
//!   moto lacks); [`backup_actions::Stage`]: the backup-actions pipeline's stage (tests and
//!   `make demo`).
//! - [`logs_policies::AccountPolicies`]: CloudWatch Logs account policies, which moto lacks.
//!
//! Tools come from `.tools/` (installed by `scripts/bootstrap.sh`); a missing tool is a panic
//! whose message says to run `make tools`.

pub mod asl;
pub mod aws_proxy;
pub mod backup;
pub mod backup_actions;
pub mod db;
pub mod ec2;
pub mod ecs;
pub mod iam_gate;
pub mod lambda;
pub mod logs_policies;
pub mod moto;
pub mod notifications;
pub mod paths;
pub mod procfs;
pub mod rds_logs;
pub mod restore_testing;
pub mod restore_validation;
pub mod sanitized;
mod serve;
pub mod sfn_runs;
pub mod template;
