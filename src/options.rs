//! One source of options for both doors. `SuiteArgs` is a clap `Args` struct whose every flag also
//! reads an `INFERGATE_*` variable: `infergate run` flattens it into its flags, and the harness (whose
//! command line belongs to libtest) parses it from the environment alone. Both then go through
//! `SuiteArgs::options`, so a variable means the same thing, and a bad value is the same error, in
//! either door. The only difference is the default target: the harness runs against the embedded
//! simulator unless told otherwise; `infergate run` uses each file's `server.base_url`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::plan::Quick;
use crate::plan::shard::Shard;
use crate::run::{RunOptions, Target, api_key_from_env};
use crate::store::publish::{PublishOptions, Upload};

/// Flags (and variables) that shape a run of one or more scenario files.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SuiteArgs {
    /// Endpoint root, e.g. http://localhost:8000 (overrides server.base_url). Without it, `infergate
    /// run` uses each file's server.base_url, or the embedded simulator when a file has none (the
    /// harness uses the simulator unless this is `scenario`).
    #[arg(long, env = "INFERGATE_TARGET", conflicts_with = "sim")]
    pub target: Option<String>,
    /// Run against the embedded simulator even when a file sets server.base_url.
    #[arg(long, env = "INFERGATE_SIM", value_parser = yes_no())]
    pub sim: bool,
    /// Request this model (overrides server.model_name).
    #[arg(long, env = "INFERGATE_MODEL", value_name = "NAME")]
    pub model: Option<String>,
    /// Directory for reports (one subdirectory per scenario) and junit.xml.
    #[arg(long, env = "INFERGATE_OUT")]
    pub out: Option<PathBuf>,
    /// Against the embedded simulator, run stages at full length instead of shortening them.
    #[arg(long, env = "INFERGATE_FULL", value_parser = yes_no())]
    pub full: bool,
    /// Seconds to keep polling a target that is down or still starting before giving up.
    #[arg(long, env = "INFERGATE_WAIT_READY", value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait_ready: Option<Duration>,
    /// Count tokens and build prompts with this tokenizer.json, directory or hub id (overrides the
    /// file's `tokenizer`).
    #[arg(long, env = "INFERGATE_TOKENIZER")]
    pub tokenizer: Option<String>,
    /// Compare each scenario with its baseline under this directory or s3://bucket/prefix
    /// (LOCATION/<scenario>/); a regression beyond the noise fails the scenario.
    #[arg(long, env = "INFERGATE_BASELINE", value_name = "LOCATION")]
    pub baseline: Option<String>,
    /// Save each valid run as its scenario's baseline under this directory or s3://bucket/prefix.
    #[arg(long, env = "INFERGATE_SAVE_BASELINE", value_name = "LOCATION")]
    pub save_baseline: Option<String>,
    /// Time each streamed token by when the kernel received it (Linux, plain http:// targets) rather
    /// than when the load thread read it: exact even when the thread lags, at some CPU for every
    /// packet on the host.
    #[arg(long, env = "INFERGATE_KERNEL_STAMPS", value_parser = yes_no())]
    pub kernel_stamps: bool,
    /// Compare even when the baseline's load-relevant config differs from the scenario's.
    #[arg(long, env = "INFERGATE_FORCE_BASELINE", value_parser = yes_no())]
    pub force_baseline: bool,
    /// Upload reports to the file's storage.simple_storage_service: auto (not for the
    /// simulator), always or never.
    #[arg(long, env = "INFERGATE_UPLOAD", default_value = "auto", value_parser = Upload::parse)]
    pub upload: Upload,
    /// Send shard I of N of the load (every N-th arrival; a share of closed-loop slots and
    /// requests), meeting the other shards at --rendezvous. Shard 0 merges and judges.
    #[arg(long, env = "INFERGATE_SHARD", value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// The number of shards when the shard's index comes from JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job).
    #[arg(long, env = "INFERGATE_SHARDS", value_name = "N")]
    pub shards: Option<u32>,
    /// This shard's index (set by Kubernetes in an Indexed Job's pods).
    #[arg(long, env = "JOB_COMPLETION_INDEX", hide = true)]
    pub shard_index: Option<u32>,
    /// Directory or s3://bucket/prefix where shards meet and leave their results
    /// (LOCATION/<run-id>/<scenario>/shard-<I>/).
    #[arg(long, env = "INFERGATE_RENDEZVOUS", value_name = "LOCATION")]
    pub rendezvous: Option<String>,
    /// The id every shard of one run shares (letters, digits, `.`, `_`, `-`), e.g. the CI job's id.
    #[arg(long, env = "INFERGATE_RUN_ID", value_name = "ID")]
    pub run_id: Option<String>,
    /// Judge --target against this endpoint side by side: each stage runs as short blocks
    /// alternating between the two in ABBA order with the same requests, and the paired differences
    /// decide (`infergate ab`).
    #[arg(long, env = "INFERGATE_BASELINE_TARGET", value_name = "URL")]
    pub baseline_target: Option<String>,
    /// With --baseline-target: pairs of blocks per stage (each side runs the stage's whole length).
    #[arg(long, env = "INFERGATE_AB_PAIRS", value_name = "N", default_value_t = DEFAULT_PAIRS)]
    pub pairs: u32,
    /// Seconds a shard waits for the others, at the start and (shard 0) for their results.
    #[arg(long, env = "INFERGATE_RENDEZVOUS_TIMEOUT", value_name = "SECONDS", value_parser = parse_seconds)]
    pub rendezvous_timeout: Option<Duration>,
}

/// Pairs of blocks per stage in an interleaved A/B run unless told.
pub const DEFAULT_PAIRS: u32 = 6;

/// An interleaved A/B run: the deployment `--target` is judged against.
#[derive(Debug, Clone, PartialEq)]
pub struct Interleave {
    pub baseline_target: String,
    /// Pairs of blocks per stage.
    pub pairs: u32,
}

/// How this process takes part in a sharded run.
#[derive(Debug, Clone, PartialEq)]
pub struct Sharding {
    pub shard: Shard,
    /// Where the shards meet (a directory or `s3://bucket/prefix`).
    pub rendezvous: String,
    pub run_id: String,
    pub timeout: Duration,
}

/// How long shards wait for each other unless told.
pub const DEFAULT_RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(600);

/// What a suite run needs beyond its files: how to run each scenario, and what to do after.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub run: RunOptions,
    pub publish: PublishOptions,
    /// Where reports go, when set (else each door's default).
    pub out: Option<PathBuf>,
    /// Set when this process is one shard of several.
    pub sharding: Option<Sharding>,
    /// Set for an interleaved A/B run (`--baseline-target`).
    pub ab: Option<Interleave>,
}

/// Parses the environment alone, as the harness does.
#[derive(Parser)]
#[command(name = "perf-suites", no_binary_name = true)]
struct FromEnv {
    #[command(flatten)]
    args: SuiteArgs,
}

impl SuiteArgs {
    /// The settings the `INFERGATE_*` variables give; a bad value is an error naming the variable
    /// and what is allowed.
    pub fn from_env() -> Result<SuiteArgs, String> {
        FromEnv::try_parse_from(std::iter::empty::<String>())
            .map(|p| p.args)
            .map_err(|e| env_error(&e))
    }

    /// The shard this process is, if any, and where it meets the others; an error for a shard
    /// without a rendezvous or run id, or an index without a count.
    pub fn sharding(&self) -> Result<Option<Sharding>, String> {
        let shard = match (self.shard, self.shard_index, self.shards) {
            (Some(shard), _, _) => shard,
            (None, Some(i), Some(n)) => Shard::new(i, n)
                .map_err(|e| format!("JOB_COMPLETION_INDEX={i} with INFERGATE_SHARDS={n}: {e}"))?,
            (None, None, Some(n)) if n > 1 => {
                return Err(format!(
                    "INFERGATE_SHARDS={n} needs JOB_COMPLETION_INDEX (set in an Indexed Job's pods) or --shard I/{n}"
                ));
            }
            _ => Shard::WHOLE,
        };
        let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.trim().is_empty());
        let place = (nonempty(&self.rendezvous), nonempty(&self.run_id));
        // One process with a rendezvous and a run id is the only shard of its run: it leaves its
        // results there too, so a one-pod Job's are found the way an Indexed Job's are.
        if shard.count() == 1 && !matches!(place, (Some(_), Some(_))) {
            return Ok(None);
        }
        let (Some(rendezvous), Some(run_id)) = place else {
            return Err(format!(
                "shard {shard} needs --rendezvous LOCATION (INFERGATE_RENDEZVOUS) and --run-id ID \
                 (INFERGATE_RUN_ID), the same for every shard, to meet the others"
            ));
        };
        let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if !run_id.chars().all(ok) || run_id.starts_with('.') {
            return Err(format!(
                "--run-id `{run_id}`: use letters, digits, `.`, `_` and `-` only"
            ));
        }
        Ok(Some(Sharding {
            shard,
            rendezvous,
            run_id,
            timeout: self
                .rendezvous_timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_RENDEZVOUS_TIMEOUT),
        }))
    }

    /// The options, with `default` as the target when neither `--target` nor `--sim` says; an error
    /// when the sharding flags do not fit together.
    pub fn options(&self, default: Target) -> Result<Options, String> {
        let sharding = self.sharding()?;
        let target = match (&self.target, self.sim) {
            (_, true) => Target::Simulator,
            (Some(t), false) if t.is_empty() => default,
            (Some(t), false) if t == "scenario" => Target::Scenario,
            (Some(url), false) => Target::Url(url.clone()),
            (None, false) => default,
        };
        let ab = self.interleave(&target, sharding.is_some())?;
        Ok(Options {
            ab,
            run: RunOptions {
                target,
                quick: (!self.full).then(Quick::default),
                progress: true,
                api_key: api_key_from_env(),
                wait_ready: self.wait_ready.filter(|w| !w.is_zero()),
                tokenizer: self.tokenizer.clone().filter(|t| !t.is_empty()),
                model: self.model.clone().filter(|m| !m.trim().is_empty()),
                shard: sharding.as_ref().map_or(Shard::WHOLE, |s| s.shard),
                kernel_stamps: self.kernel_stamps,
                ..RunOptions::default()
            },
            publish: PublishOptions {
                baseline: self.baseline.clone().filter(|b| !b.trim().is_empty()),
                save_baseline: self.save_baseline.clone().filter(|b| !b.trim().is_empty()),
                force_baseline: self.force_baseline,
                upload: self.upload,
            },
            out: self.out.clone().filter(|o| !o.as_os_str().is_empty()),
            sharding,
        })
    }
}

impl SuiteArgs {
    /// The A/B settings, when `--baseline-target` is given: it needs `--target URL` (the deployment
    /// under test) and an unsharded run.
    fn interleave(&self, target: &Target, sharded: bool) -> Result<Option<Interleave>, String> {
        let Some(baseline) = self
            .baseline_target
            .clone()
            .filter(|b| !b.trim().is_empty())
        else {
            return Ok(None);
        };
        if !matches!(target, Target::Url(_)) {
            return Err(format!(
                "--baseline-target {baseline} (INFERGATE_BASELINE_TARGET) needs --target URL                  (INFERGATE_TARGET): the deployment judged against it"
            ));
        }
        if sharded {
            return Err("an A/B run (--baseline-target) cannot be sharded".to_string());
        }
        if !(2..=100).contains(&self.pairs) {
            return Err(format!(
                "--pairs {} (INFERGATE_AB_PAIRS): give 2 to 100 pairs of blocks per stage",
                self.pairs
            ));
        }
        Ok(Some(Interleave {
            baseline_target: baseline,
            pairs: self.pairs,
        }))
    }
}

/// The error of a bad `INFERGATE_*` value, named by its variable rather than its flag.
fn env_error(e: &clap::Error) -> String {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (Some(flag), Some(value)) = (
        text(ContextKind::InvalidArg),
        text(ContextKind::InvalidValue),
    ) else {
        return e.render().to_string().trim_end().to_string();
    };
    let command = FromEnv::command();
    let variable = command
        .get_arguments()
        .find(|a| {
            a.get_long()
                .is_some_and(|long| flag.split(' ').next() == Some(&format!("--{long}")))
        })
        .and_then(|a| a.get_env())
        .map_or(flag.clone(), |v| v.to_string_lossy().into_owned());
    let why = std::error::Error::source(e).map_or(String::new(), |s| format!(": {s}"));
    format!("{variable}: invalid value `{value}`{why}")
}

/// A yes/no variable: `1`, `true`, `yes`, `on` (and `0`, `false`, `no`, `off`), in any case.
fn yes_no() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

/// `I/N`; empty (a variable set to nothing) is an error clap reports with the variable's name.
fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

/// A positive, finite number of seconds; empty (a variable set to nothing) means not set.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    if text.trim().is_empty() {
        return Ok(Duration::ZERO);
    }
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "`{text}` is not a number of seconds above 0 (e.g. 120)"
        )),
    }
}
