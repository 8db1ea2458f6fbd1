//! `infergate history`: a scenario's saved runs, and what its gate can tell apart: each statistic's
//! centre, run-to-run spread, and the smallest change the next run could be caught with.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::gate::baseline::noise::noise;
use crate::gate::baseline::spread::Scale;
use crate::scenario::{Regression, Scenario};
use crate::store::{Location, baseline};

use super::exit;

/// Show a scenario's saved runs and what the next run could be caught with.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Lists the runs saved for a scenario (--save-baseline) and, for every statistic a \
                  comparison judges, the runs' centre, their run-to-run spread and the smallest \
                  change for the worse the next run could be caught with (its minimum detectable \
                  effect, at the scenario's error budget). Use it to choose run lengths and history \
                  sizes before a pull request depends on them.",
    after_help = "Examples:\n  infergate history s3://perf-baselines/main saturation --file suites/saturation.yaml\n  \
                  infergate history baselines/ smoke"
)]
pub struct HistoryArgs {
    /// Where the runs are saved: a directory or s3://bucket/prefix.
    pub location: String,
    /// The scenario's name (its file's name without .yaml).
    pub scenario: String,
    /// The scenario file, for its `regression` settings and S3 storage (default settings without).
    #[arg(long)]
    pub file: Option<PathBuf>,
}

pub fn main(args: HistoryArgs) -> ExitCode {
    let scenario = match args.file.as_deref().map(Scenario::load).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let storage = scenario.as_ref().and_then(|s| s.storage.s3.as_ref());
    let location = match Location::parse(&args.location, storage) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let scratch = std::env::temp_dir().join(format!("infergate-history-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime starts");
    let loaded = runtime.block_on(baseline::load(&location, &args.scenario, &scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    let history = match loaded {
        Ok(Some(h)) => h,
        Ok(None) => {
            println!(
                "no saved runs for `{}` at {}",
                args.scenario,
                location.display()
            );
            return ExitCode::from(exit::PASSED);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::RUN_ERROR);
        }
    };
    let regression = scenario.map_or_else(Regression::default, |s| s.regression);
    println!(
        "{} saved run(s) of `{}` at {}:",
        history.runs.len(),
        args.scenario,
        location.display()
    );
    for run in &history.runs {
        println!("  {}", run.about);
    }
    for skipped in &history.skipped {
        println!("  {skipped}");
    }
    println!(
        "\n| statistic | runs | centre | run-to-run spread | next run could catch (error budget {:.0} %) |\n|---|---|---|---|---|",
        (1.0 - regression.confidence) * 100.0
    );
    for row in noise(&history, &regression) {
        let value = |v: f64| row.metric.format_value(row.aggregation, v);
        let (spread, mde) = match row.scale {
            Scale::Log => (
                format!("{:.1} %", row.spread * 100.0),
                row.mde.map(|m| format!("≥ {:.0} %", m * 100.0)),
            ),
            Scale::Linear => (
                format!("{:.2} pp", row.spread * 100.0),
                row.mde.map(|m| format!("≥ {:.2} pp", m * 100.0)),
            ),
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            row.statistic,
            row.runs,
            value(row.centre),
            if row.runs < 2 {
                "n/a".to_string()
            } else {
                spread
            },
            mde.unwrap_or_else(|| "n/a (fewer than 3 runs)".to_string())
        );
    }
    ExitCode::from(exit::PASSED)
}
