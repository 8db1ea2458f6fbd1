//! The `infergate` command line (clap): one `Args` struct per subcommand, each a thin door onto the
//! library. `run` shares its options with the harness (`options::SuiteArgs`); `profile` takes
//! genai-perf's flags and runs them as a scenario the way `run` does.

mod bench;
mod bench_gate;
mod graph;
mod history;
mod merge;
mod profile;
mod saved;
mod sim;
mod suite;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Exit codes, also listed in the README.
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const THRESHOLD_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const RUNNER_INVALID: u8 = 3;
    pub const RUN_ERROR: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "infergate",
    version,
    about = "A performance gate for LLM inference endpoints",
    long_about = "Runs inference-perf style scenario files against an OpenAI-compatible endpoint, checks \
                  k6-style thresholds, and exits non-zero when one fails.\n\n\
                  Exit codes: 0 passed, 1 a threshold failed, 2 bad input, 3 the runner could not keep up \
                  (results invalid), 4 the run could not happen (target unreachable).",
    after_help = "Docs by topic in the repository's docs/: scenarios.md (every key), load.md, data.md, \
                  thresholds.md, gate.md (baselines, A/B, the gate's error rates), metrics.md, reports.md, \
                  running.md (environment variables, exit codes), kubernetes.md, profile.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(suite::RunArgs),
    Ab(suite::AbArgs),
    Validate(suite::ValidateArgs),
    Sim(sim::SimArgs),
    Report(saved::ReportArgs),
    Compare(saved::CompareArgs),
    Bench(bench::BenchArgs),
    Merge(merge::MergeArgs),
    Graph(graph::GraphArgs),
    History(history::HistoryArgs),
    Profile(profile::ProfileArgs),
}

/// Parses the command line and runs the subcommand; returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return refused(&e),
    };
    match cli.command {
        Command::Run(args) => suite::run(args),
        Command::Ab(args) => suite::ab(args),
        Command::Validate(args) => suite::validate(args),
        Command::Sim(args) => sim::main(args),
        Command::Report(args) => saved::report(args),
        Command::Compare(args) => saved::compare(args),
        Command::Bench(args) => bench::main(args),
        Command::Merge(args) => merge::main(args),
        Command::Graph(args) => graph::main(args),
        Command::History(args) => history::main(args),
        Command::Profile(args) => profile::main(args),
    }
}

/// Whether `args` (the words after `infergate`) is a command line `infergate` accepts: the flags and
/// values it would parse, without running anything. The docs' test checks every command they show.
pub fn accepts<I, S>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let words = std::iter::once(std::ffi::OsString::from("infergate"))
        .chain(args.into_iter().map(Into::into));
    match Cli::try_parse_from(words) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp) => Ok(()),
        Err(e) => Err(e.render().to_string()),
    }
}

/// A command line clap refused: a flag `profile` does not take is named with the ones it does
/// (genai-perf users bring flags infergate may not have); anything else as clap says it.
fn refused(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let profiling = std::env::args().nth(1).as_deref() == Some("profile");
    if let (true, ErrorKind::UnknownArgument, Some(ContextValue::String(flag))) =
        (profiling, e.kind(), e.get(ContextKind::InvalidArg))
    {
        eprintln!(
            "error: infergate profile does not take `{flag}`; it takes {}",
            profile::supported_flags().join(", ")
        );
        return ExitCode::from(exit::BAD_INPUT);
    }
    let _ = e.print();
    ExitCode::from(if e.use_stderr() {
        exit::BAD_INPUT
    } else {
        exit::PASSED
    })
}

/// A non-negative, finite number of milliseconds as a duration (anything else is zero).
fn millis(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1e3)
    } else {
        Duration::ZERO
    }
}
