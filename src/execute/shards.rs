//! One shard of a sharded run (`--shard I/N`), and the merge that judges the whole.
//!
//! Every shard meets the others at the rendezvous before its first stage (`store::rendezvous`),
//! runs its part, and leaves `shard.json` under `LOCATION/<run-id>/<scenario>/shard-<I>/`. A shard
//! other than 0 is judged on its own validity only (its exit status says whether it kept up). Shard 0
//! then waits for every shard's results, refuses a missing, doubled or foreign shard, merges them
//! exactly (`run::merge`) and judges the merged run like any other, adding each shard's broken
//! validity limits under its name; its exit status is the verdict. `infergate merge` does the same
//! from the files alone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gate::{ErrorCause, GateReport, ScenarioOutcome, evaluate};
use crate::options::Sharding;
use crate::plan::shard::Shard;
use crate::report::shard::{FILE_NAME, ShardFile, check_set};
use crate::run::merge::merge_shards;
use crate::run::{Meet, RunResult};
use crate::scenario::Scenario;
use crate::store::Location;
use crate::store::rendezvous::{Meeting, scratch};

/// This shard's place in its run, from the scenario (whose S3 settings a `s3://` rendezvous uses).
pub fn meeting(scenario: &Scenario, name: &str, sharding: &Sharding) -> Result<Meeting, String> {
    let location = Location::parse(&sharding.rendezvous, scenario.storage.s3.as_ref())
        .map_err(|e| format!("--rendezvous: {e}"))?;
    Ok(Meeting::new(
        &location,
        &sharding.run_id,
        name,
        sharding.shard,
        &scenario.config_hash,
        sharding.timeout,
    ))
}

/// The run's meeting, as the runner calls it once the target answers.
pub fn meet(meeting: &Meeting) -> Meet {
    let meeting = meeting.clone();
    Meet(Arc::new(move || {
        let meeting = meeting.clone();
        Box::pin(async move { meeting.meet().await })
    }))
}

fn run_error(scenario: &str, message: String) -> ScenarioOutcome {
    ScenarioOutcome::Error {
        scenario: scenario.to_string(),
        message,
        cause: ErrorCause::Run,
    }
}

/// After a shard's run: leave its results, and on shard 0 merge and judge them all.
pub async fn after_run(scenario: &Scenario, meeting: &Meeting, run: RunResult) -> ScenarioOutcome {
    let name = run.scenario.clone();
    let source = std::fs::read_to_string(&scenario.path).unwrap_or_default();
    let source_name = scenario
        .path
        .file_name()
        .map_or("scenario.yaml".into(), |n| n.to_string_lossy().into_owned());
    let file = ShardFile::of(&run, &meeting.run_id, &source_name, &source);
    let dir = scratch("shard");
    let left = match file.write(&dir) {
        Ok(()) => meeting.publish(&dir).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = left {
        return run_error(
            &name,
            format!("shard {}: cannot leave results: {e}", run.shard),
        );
    }
    let place = meeting.shard_place(meeting.shard.index()).display();
    if meeting.shard.index() != 0 {
        eprintln!(
            "[{name}] shard {}: results in {place}; shard 0 merges them and judges the run",
            run.shard
        );
        let gate = evaluate(&[], &scenario.validity, &run);
        return ScenarioOutcome::Judged {
            run: Box::new(run),
            gate,
        };
    }
    if meeting.shard.count() > 1 {
        eprintln!(
            "[{name}] shard {}: waiting up to {:.0} s for the other shards' results at {}",
            run.shard,
            meeting.timeout.as_secs_f64(),
            meeting.place.display()
        );
    } else {
        eprintln!("[{name}] results left in {place} (infergate merge reads them)");
    }
    match merge(meeting, Some(scenario)).await {
        Ok((_, mut merged, gate)) => {
            merged.scenario = name;
            ScenarioOutcome::Judged {
                run: Box::new(merged),
                gate,
            }
        }
        Err(e) => run_error(&name, e),
    }
}

/// Collects every shard's results at `meeting` and judges the run they make together, with
/// `scenario`'s thresholds (or, without one, those of the text the shards left).
pub async fn merge(
    meeting: &Meeting,
    scenario: Option<&Scenario>,
) -> Result<(Scenario, RunResult, GateReport), String> {
    let dest = scratch("merge");
    let collected = meeting.collect(FILE_NAME, &dest).await;
    let files = collected.and_then(|dirs| {
        dirs.iter()
            .map(|d| ShardFile::read(&d.join(FILE_NAME)))
            .collect::<Result<Vec<_>, _>>()
    });
    let _ = std::fs::remove_dir_all(&dest);
    let mut files = files?;
    check_set(&files, &meeting.run_id)?;
    files.sort_by_key(|f| f.shard().map_or(0, |s| s.index()));
    let scenario = match scenario {
        Some(s) => s.clone(),
        None => Scenario::from_source(Path::new(&files[0].source_name), &files[0].source)
            .map_err(|e| format!("the scenario the shards left: {e}"))?,
    };
    let origin = Instant::now();
    let runs = files
        .iter()
        .map(|f| f.run(origin))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge_shards(&runs);
    let mut gate = evaluate(&scenario.thresholds, &scenario.validity, &merged);
    for run in &runs {
        gate.add_shard_validity(&scenario.validity, run);
    }
    Ok((scenario, merged, gate))
}

/// The meeting `infergate merge` reads: `scenario` of run `run_id` under `location`, with as many
/// shards as shard 0 says there were (and no waiting: what is missing now is missing).
pub async fn finished_meeting(
    location: &Location,
    run_id: &str,
    scenario: &str,
) -> Result<Meeting, String> {
    let mut meeting = Meeting::new(location, run_id, scenario, Shard::WHOLE, "", Duration::ZERO);
    let dir = scratch("shard0");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let got = meeting.shard_place(0).get_dir(&dir).await;
    let file = got
        .map_err(|e| e.to_string())
        .and_then(|_| ShardFile::read(&dir.join(FILE_NAME)));
    let _ = std::fs::remove_dir_all(&dir);
    let file = file.map_err(|e| {
        format!(
            "no results of shard 0 at {}: {e}",
            meeting.shard_place(0).display()
        )
    })?;
    meeting.shard = Shard::new(0, file.shard()?.count()).map_err(|e| e.to_string())?;
    Ok(meeting)
}
