//! How to run a scenario beyond what its file says: which endpoint (`Target`), quick mode against the
//! simulator, the key, readiness wait, the signal stop, and the abort rule the gate hands in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::measure::recorder::Recorder;
use crate::plan::Quick;
use crate::plan::shard::Shard;
use crate::scenario::Secret;
use crate::sim::SimConfig;

use super::stop::Stop;

/// The API key from `INFERGATE_API_KEY`, when set and not empty.
pub fn api_key_from_env() -> Option<Secret> {
    std::env::var("INFERGATE_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// The request timeout used when `load.request_timeout` is not set, so no run can hang forever.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Which endpoint a run talks to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    /// The embedded simulator, whatever the file says (the harness default: suites copied from a
    /// cluster keep their in-cluster `server.base_url`, which a fresh clone cannot reach).
    #[default]
    Simulator,
    /// The file's `server.base_url`, or the simulator when it has none.
    Scenario,
    /// This URL, overriding `server.base_url`.
    Url(String),
}

/// How to run a scenario, beyond what its file says.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub target: Target,
    /// With no target at all, run against the embedded simulator with these stage limits; `None` runs
    /// the stages in full even then.
    pub quick: Option<Quick>,
    /// Simulator settings for runs without a target.
    pub sim: SimConfig,
    /// Print a line per stage to stderr.
    pub progress: bool,
    /// Stops the run early (signals); the default never fires.
    pub stop: Stop,
    /// Overrides `server.api_key` (`INFERGATE_API_KEY`).
    pub api_key: Option<Secret>,
    /// A tokenizer that overrides the file's `tokenizer` (`INFERGATE_TOKENIZER`).
    pub tokenizer: Option<String>,
    /// A model name that overrides the file's `server.model_name` (`INFERGATE_MODEL`).
    pub model: Option<String>,
    /// Keep retrying the pre-flight check this long while the target is down or starting.
    pub wait_ready: Option<Duration>,
    /// Stops the run when an `abortOnFail` threshold fails mid-run (`gate::abort_rule` makes one).
    pub abort: Option<Abort>,
    /// The part of the load this process sends (`--shard I/N`); all of it by default.
    pub shard: Shard,
    /// Where the shards agree on a start: called once the target answers, it returns the wall-clock
    /// instant every shard starts at (`store::rendezvous` makes one).
    pub meet: Option<Meet>,
    /// Where per-request records go when the scenario asks for them
    /// (`report.request_lifecycle.per_request`); without a path none are written.
    pub records: Option<std::path::PathBuf>,
    /// Run a warm-up when the scenario sets none (`load.warmup` rules when given; see
    /// `plan::default_warmup`): set when the run is compared with saved runs or saved as one, so a
    /// cold engine's first requests do not decide the comparison.
    pub default_warmup: bool,
    /// Time streamed tokens by the kernel's receive stamps (see `client::stamp_with_kernel`).
    pub kernel_stamps: bool,
}

/// Announces this shard and waits for the others; the agreed start, or why there is none.
pub type MeetFn =
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<SystemTime, String>> + Send>> + Send + Sync;

/// A meeting of shards (see `MeetFn`), shared by the runs that use it.
#[derive(Clone)]
pub struct Meet(pub Arc<MeetFn>);

impl fmt::Debug for Meet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Meet(..)")
    }
}

/// Decides, while a stage runs, whether the whole run must stop: given the stage's index, what the
/// earlier stages recorded, what this stage has recorded so far and the time since the run began, the
/// reason to stop, if any. The gate makes it from the `abortOnFail` thresholds; the driver only asks.
pub type AbortCheck = dyn Fn(usize, &Recorder, &Recorder, Duration) -> Option<String> + Send + Sync;

/// An abort rule (see `AbortCheck`), shared by the runs that use it.
#[derive(Clone)]
pub struct Abort(pub Arc<AbortCheck>);

impl Abort {
    pub fn check(
        &self,
        stage: usize,
        earlier: &Recorder,
        current: &Recorder,
        elapsed: Duration,
    ) -> Option<String> {
        (self.0)(stage, earlier, current, elapsed)
    }
}

impl fmt::Debug for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Abort(..)")
    }
}
