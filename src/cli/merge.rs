//! `infergate merge`: the shards' results of a sharded run, merged and judged as one run.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::execute::{self, shards};
use crate::gate::{ErrorCause, ScenarioOutcome};
use crate::options::Options;
use crate::report;
use crate::store::Location;
use crate::store::publish::PublishOptions;

use super::exit;

/// Merge the results every shard of a run left at a rendezvous, and judge them as one run.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Reads LOCATION/<run-id>/<scenario>/shard-<I>/shard.json for every shard, refuses a \
                  missing, doubled or foreign shard (another run id or configuration), merges the \
                  histograms bucket by bucket and the counters exactly, and writes the same reports, \
                  JUnit and exit status as a single run. Shard 0 does this itself at the end of a \
                  sharded run; this command is for doing it again, or when shard 0 could not.",
    after_help = "Examples:\n  infergate merge /shared/rendezvous --run-id ci-1234 --out reports/\n  \
                  infergate merge s3://perf/shards --run-id ci-1234 --scenario chat --out reports/"
)]
pub struct MergeArgs {
    /// The rendezvous: a directory or s3://bucket/prefix.
    pub location: String,
    /// The run's id, as its shards were given it.
    #[arg(long, env = "INFERGATE_RUN_ID")]
    pub run_id: String,
    /// Scenarios to merge (default: every one under a directory's LOCATION/<run-id>/).
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Directory for reports (one subdirectory per scenario) and junit.xml.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Compare with the baselines here too (a directory or s3://bucket/prefix), as the run did.
    #[arg(long, env = "INFERGATE_BASELINE", value_name = "LOCATION")]
    pub baseline: Option<String>,
}

fn scenarios(location: &Location, args: &MergeArgs) -> Result<Vec<String>, String> {
    if !args.scenarios.is_empty() {
        return Ok(args.scenarios.clone());
    }
    let Location::Local(dir) = location.join(&args.run_id) else {
        return Err("name the scenarios with --scenario NAME (an S3 prefix is not listed)".into());
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("{}: no scenario has results here", dir.display()));
    }
    Ok(names)
}

pub fn main(args: MergeArgs) -> ExitCode {
    let location = match Location::parse(&args.location, None) {
        Ok(location) => location,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let names = match scenarios(&location, &args) {
        Ok(names) => names,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let runtime = crate::run::load_runtime().expect("runtime starts");
    let options = Options {
        publish: PublishOptions {
            baseline: args.baseline.clone().filter(|b| !b.trim().is_empty()),
            ..PublishOptions::default()
        },
        ..Options::default()
    };
    let mut outcomes = Vec::new();
    for name in &names {
        let judged = runtime.block_on(async {
            let meeting = shards::finished_meeting(&location, &args.run_id, name).await?;
            shards::merge(&meeting, None).await
        });
        let (scenario, outcome) = match judged {
            Ok((scenario, mut run, gate)) => {
                run.scenario = name.clone();
                let run = Box::new(run);
                (Some(scenario), ScenarioOutcome::Judged { run, gate })
            }
            Err(message) => (
                None,
                ScenarioOutcome::Error {
                    scenario: name.clone(),
                    message,
                    cause: ErrorCause::Run,
                },
            ),
        };
        let out_dir = args.out.join(name);
        outcomes.push(execute::finish(
            scenario.as_ref(),
            name,
            &options,
            &out_dir,
            outcome,
        ));
    }
    if let Err(e) = report::write_junit(&args.out.join("junit.xml"), &outcomes) {
        eprintln!("error: {e}");
    }
    ExitCode::from(super::suite::exit_code(&outcomes))
}
