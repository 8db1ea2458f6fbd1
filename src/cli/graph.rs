//! `infergate graph`: a trace's replay graph, as `otel_trace_replay` will replay it, with no server
//! (inference-perf's `otel_trace_to_replay_graph --summary`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::plan::replay::{Event, Segment, graph, otel};

use super::exit;

/// Print the replay graph of OpenTelemetry trace files: each call, the calls it waits for, the
/// gap it waits after them, and which of its messages come from them.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Reads each trace (a JSON object with a `spans` list) as otel_trace_replay does and \
                  prints one JSON object per trace: its events in start order, each with its \
                  predecessors, its \
                  recorded wait in ms, its message segments (shared with an ancestor, an ancestor's \
                  output, or its own) and the tokens it will ask for.",
    after_help = "Example:\n  infergate graph examples/otel/test_traces/simple/simple_chain.json"
)]
pub struct GraphArgs {
    /// Trace files.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// Leave out spans whose status is an error (as `include_errors: false`).
    #[arg(long)]
    pub no_errors: bool,
}

pub fn main(args: GraphArgs) -> ExitCode {
    for path in &args.traces {
        let read = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
            .and_then(|v| otel::calls(&v, !args.no_errors));
        match read {
            Ok(calls) => {
                let events = graph::build(calls);
                println!("{}", describe(path, &events));
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(exit::BAD_INPUT);
            }
        }
    }
    ExitCode::from(exit::PASSED)
}

fn describe(path: &std::path::Path, events: &[Event]) -> Value {
    let id = |i: usize| Value::String(events[i].id.clone());
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let segments: Vec<Value> = e
                .segments
                .iter()
                .map(|s| match *s {
                    Segment::Shared { count, from } => {
                        json!({"type": "shared", "messages": count, "from": id(from)})
                    }
                    Segment::Output { from } => {
                        json!({"type": "output", "messages": 1, "from": id(from)})
                    }
                    Segment::Unique { count } => json!({"type": "unique", "messages": count}),
                })
                .collect();
            json!({
                "id": e.id,
                "predecessors": e.predecessors.iter().map(|&p| id(p)).collect::<Vec<_>>(),
                "wait_ms": e.wait.as_millis() as u64,
                "segments": segments,
                "expected_output_tokens": e.expected_tokens,
                "tool_call": (!e.tool_names.is_empty()).then(|| e.tool_names.clone()),
            })
        })
        .collect();
    json!({"trace": path.display().to_string(), "events": events})
}
