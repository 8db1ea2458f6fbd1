//! `load.type: trace_replay` with an Azure public dataset trace: requests at the trace's offsets with
//! the trace's exact lengths, cut at the stage's duration, every one accounted for.

use std::path::{Path, PathBuf};

use infergate::plan::trace;
use infergate::run::{RunOptions, run_scenario};
use infergate::scenario::Scenario;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure-trace.csv")
}

fn scenario(duration: f64) -> Scenario {
    let file = fixture().display().to_string();
    Scenario::from_source(
        Path::new("trace.yaml"),
        &format!(
            "load:
  type: trace_replay
  trace: {{file: {file}, format: AzurePublicDataset}}
  stages: [{{rate: 1, duration: {duration}}}]
api: {{type: completion, streaming: true}}
server: {{ignore_eos: true}}
data:
  type: random
  trace: {{file: {file}, format: AzurePublicDataset}}
"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_trace_is_replayed_at_its_offsets_with_its_lengths() {
    let _turn = crate::support::turn().await;
    let rows = trace::read(&fixture()).unwrap();
    let last = rows.last().unwrap().offset;
    let run = run_scenario(&scenario(3.9), &RunOptions::default())
        .await
        .unwrap();
    let t = &run.total;
    assert_eq!((t.scheduled, t.ok), (rows.len() as u64, rows.len() as u64));
    let context: u64 = rows.iter().map(|r| u64::from(r.context_tokens)).sum();
    let generated: u64 = rows.iter().map(|r| u64::from(r.generated_tokens)).sum();
    assert_eq!(
        (t.input_tokens_total, t.output_tokens_total),
        (context, generated),
        "each request had its row's lengths, as the server counted them"
    );
    assert_eq!(t.prompt_token_mismatches, 0);
    let span = run.stages[0].recorder.active;
    assert!(
        span >= last,
        "the last row went at its offset: {span:?} < {last:?}"
    );
    // On time within a busy machine's worst wake-up; a schedule that drifted or bunched the 3.9 s
    // trace up would be seconds late.
    assert!(
        t.schedule_delay.max() < 1_000_000,
        "sent on time: {} us",
        t.schedule_delay.max()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_stage_duration_cuts_the_trace() {
    let _turn = crate::support::turn().await;
    let rows = trace::read(&fixture()).unwrap();
    let within = rows.iter().filter(|r| r.offset.as_secs_f64() < 1.5).count() as u64;
    assert!(within < rows.len() as u64);
    let run = run_scenario(&scenario(1.5), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(run.total.scheduled, within);
    assert_eq!(run.total.accounted(), within);
}

#[test]
fn a_missing_trace_is_a_clear_error_when_the_run_starts_not_when_the_file_loads() {
    let s = Scenario::from_source(
        Path::new("suites/t.yaml"),
        "load:\n  type: trace_replay\n  trace: {file: ./traces/none.csv}\n  stages: [{rate: 1, duration: 5}]\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(run_scenario(&s, &RunOptions::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("trace suites/./traces/none.csv"), "{err}");
    let e = Scenario::from_source(
        Path::new("t.yaml"),
        "load:\n  type: trace_replay\n  stages: [{rate: 1, duration: 5}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs `load.trace"), "{e}");
}
