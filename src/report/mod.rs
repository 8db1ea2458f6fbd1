//! Stage 6 of the pipeline, after the gate: what a run writes. Uses the stages below it; never the
//! store.
//!
//! Everything a run writes: lifecycle JSON reports, verdicts, the timeline, the samples a later
//! baseline comparison needs, plots and `report.html`, JUnit XML and the console table; and
//! genai-perf's export for `infergate profile`.

pub mod compare;
pub mod genai_perf;
pub mod html;
pub mod json;
pub mod junit;
pub mod metadata;
pub mod plots;
pub mod prometheus;
pub mod reasoning;
pub mod replay;
pub mod rundir;
pub mod schema;
pub mod shard;
pub mod step_summary;
pub mod table;

use std::path::Path;

use crate::gate::ScenarioOutcome;
use crate::measure::server::StageServer;
use schema::files;

/// Writes one scenario's reports into `dir` (created if needed): lifecycle JSON per stage and for the
/// whole scenario, the timeline, the samples, `verdicts.json`, the plots and `report.html`. Errors name
/// the file.
pub fn write_scenario(dir: &Path, outcome: &ScenarioOutcome) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, value: &dyn erased::Json| {
        let path = dir.join(name);
        std::fs::write(&path, value.pretty())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    match outcome {
        ScenarioOutcome::Judged { run, gate } => {
            let merged = StageServer::merged(run.stages.iter().filter_map(|s| s.server.as_ref()));
            write(
                files::SUMMARY,
                &json::lifecycle(&run.total, None, merged.as_ref(), &run.percentiles),
            )?;
            if let Some(w) = &run.warmup {
                let value = json::lifecycle(
                    &w.recorder,
                    w.stage.requested_rate(),
                    None,
                    &run.percentiles,
                );
                write(files::WARMUP, &value)?;
            }
            for s in &run.stages {
                let value = json::lifecycle(
                    &s.recorder,
                    s.stage.requested_rate(),
                    s.server.as_ref(),
                    &run.percentiles,
                );
                write(&files::stage(s.stage.index), &value)?;
                match &s.server {
                    Some(server) if run.server_reports.per_stage => {
                        let value = prometheus::PrometheusReport::of(server);
                        write(&files::prometheus_stage(s.stage.index), &value)?;
                    }
                    _ => {}
                }
            }
            if let Some(server) = merged.as_ref().filter(|_| run.server_reports.summary) {
                let value = prometheus::PrometheusReport::of(server);
                write(files::PROMETHEUS_SUMMARY, &value)?;
            }
            if let Some(lora) = &run.lora {
                for (i, (name, share)) in lora.adapters.iter().enumerate() {
                    if let Some(r) = run.total.adapters.get(i).filter(|_| lora.per_adapter) {
                        write(
                            &files::adapter(name),
                            &json::lifecycle(r, None, None, &run.percentiles),
                        )?;
                    }
                    for s in run.stages.iter().filter(|_| lora.per_adapter_stage) {
                        if let Some(r) = s.recorder.adapters.get(i) {
                            let rate = s.stage.requested_rate().map(|rate| rate * share);
                            let value = json::lifecycle(r, rate, None, &run.percentiles);
                            write(&files::adapter_stage(name, s.stage.index), &value)?;
                        }
                    }
                }
            }
            if !run.total.replay.is_empty() {
                write(files::SESSION_SUMMARY, &replay::summary(&run.total.replay))?;
                write(files::PER_SESSION, &run.total.replay.sessions)?;
                for s in &run.stages {
                    write(
                        &files::session_stage(s.stage.index),
                        &replay::summary(&s.recorder.replay),
                    )?;
                }
            }
            write(files::TIMELINE, &json::timeline(run))?;
            write(files::SAMPLES, &gate.samples)?;
            write(files::VERDICTS, &json::verdicts(run, gate))?;
            html::render_dir(dir)
        }
        ScenarioOutcome::Error {
            scenario, message, ..
        } => write(
            files::VERDICTS,
            &schema::ErrorVerdicts {
                scenario: scenario.clone(),
                status: "error".to_string(),
                error: message.clone(),
            },
        ),
    }
}

/// Any report type, written as pretty JSON.
mod erased {
    pub trait Json {
        fn pretty(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).expect("reports serialise")
        }
    }
}

/// Writes the JUnit document for all outcomes to `path`.
pub fn write_junit(path: &Path, outcomes: &[ScenarioOutcome]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, junit::render(outcomes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
