//! `make demo`: runs each subsystem's scenario locally on the embedded AWS stand-in (moto),
//! the local Lambda host and the ASL engine, then prints what ran, what was written where
//! and which states each execution passed through. Everything it starts stops with it, also
//! on Ctrl-C.

mod backups;
mod cwlogs;
mod das;
mod dashboard;
mod foundation;
mod output;
mod rdslogs;
mod report;
mod snapshots;

use report::Report;
use sluice_testbed::lambda::LambdaHost;
use sluice_testbed::moto::Moto;

/// What every scenario shares: one moto server and one Lambda host.
pub struct Stage {
    /// The AWS stand-in.
    pub moto: Moto,
    /// Runs the real function binaries.
    pub host: LambdaHost,
}

async fn run_all(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    foundation::run(stage, report).await?;
    snapshots::run(report).await?;
    backups::run(report).await?;
    cwlogs::run(stage, report).await?;
    das::run(stage, report).await?;
    rdslogs::run(stage, report).await?;
    dashboard::run(stage, report);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stage = Stage {
        moto: Moto::start(),
        host: LambdaHost::start(),
    };
    let mut report = Report::default();
    let outcome = tokio::select! {
        r = run_all(&stage, &mut report) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "{}", report.render())?;
    drop(stage); // stops moto and every function process
    outcome
}
