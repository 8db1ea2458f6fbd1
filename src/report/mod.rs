//! Everything a run writes: lifecycle JSON reports, verdicts, the timeline, the samples a later
//! baseline comparison needs, plots and `report.html`, JUnit XML and the console table.

pub mod compare;
pub mod html;
pub mod json;
pub mod junit;
pub mod metadata;
pub mod plots;
pub mod step_summary;
pub mod table;

use std::path::Path;

use crate::gate::ScenarioOutcome;

/// Writes one scenario's reports into `dir` (created if needed): lifecycle JSON per stage and for the
/// whole scenario, and `verdicts.json`. Errors name the file.
pub fn write_scenario(dir: &Path, outcome: &ScenarioOutcome) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, value: &serde_json::Value| {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).expect("reports serialise");
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    match outcome {
        ScenarioOutcome::Judged { run, gate } => {
            write(
                "summary_lifecycle_metrics.json",
                &json::lifecycle(
                    &run.total,
                    None,
                    crate::measure::server::StageServer::merged(
                        run.stages.iter().filter_map(|s| s.server.as_ref()),
                    )
                    .as_ref(),
                ),
            )?;
            if let Some(w) = &run.warmup {
                let value = json::lifecycle(&w.recorder, w.stage.requested_rate(), None);
                write("warmup_lifecycle_metrics.json", &value)?;
            }
            for s in &run.stages {
                let value =
                    json::lifecycle(&s.recorder, s.stage.requested_rate(), s.server.as_ref());
                write(
                    &format!("stage_{}_lifecycle_metrics.json", s.stage.index),
                    &value,
                )?;
            }
            write("timeline.json", &json::timeline(run))?;
            let samples = crate::gate::baseline::samples::RunSamples::from_run(run);
            write(
                crate::gate::baseline::samples::FILE_NAME,
                &serde_json::to_value(samples).expect("samples serialise"),
            )?;
            write("verdicts.json", &json::verdicts(run, gate))?;
            html::render_dir(dir)
        }
        ScenarioOutcome::Error {
            scenario, message, ..
        } => write(
            "verdicts.json",
            &serde_json::json!({"scenario": scenario, "status": "error", "error": message}),
        ),
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
