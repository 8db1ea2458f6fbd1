//! Lifecycle reports in inference-perf's layout and units (seconds): `summary_lifecycle_metrics.json`
//! for the whole scenario and `stage_{i}_lifecycle_metrics.json` per stage, plus `verdicts.json` with
//! the run's metadata and every check.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use crate::gate::{CheckKind, GateReport, Verdict};
use crate::measure::recorder::Recorder;
use crate::run::RunResult;

/// The percentiles written for every distribution (inference-perf's default list).
const PERCENTILES: [f64; 11] = [
    0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9,
];

/// A distribution as `{mean, min, max, p0.1, ..., median, ..., p99.9}`, values divided by `scale`
/// (1e6 turns microseconds into seconds). `null` when empty.
pub fn distribution(h: &Histogram<u64>, scale: f64) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let mut out = Map::new();
    out.insert("mean".into(), json!(h.mean() / scale));
    out.insert("min".into(), json!(h.min() as f64 / scale));
    out.insert("max".into(), json!(h.max() as f64 / scale));
    for p in PERCENTILES {
        let key = if p == 50.0 {
            "median".to_string()
        } else {
            format!("p{p}")
        };
        out.insert(key, json!(h.value_at_quantile(p / 100.0) as f64 / scale));
    }
    Value::Object(out)
}

/// One lifecycle report. `requested_rate` is the stage's configured rate, if it had one; `server` what
/// the engine's `/metrics` said over the same window, if it was scraped.
pub fn lifecycle(
    r: &Recorder,
    requested_rate: Option<f64>,
    server: Option<&crate::measure::server::StageServer>,
) -> Value {
    const S: f64 = 1e6;
    let by_label: Map<String, Value> = r
        .failures
        .iter()
        .map(|(kind, group)| {
            (
                kind.label(),
                json!({"count": group.count, "samples": group.samples}),
            )
        })
        .collect();
    json!({
        "load_summary": {
            "count": r.scheduled,
            "schedule_delay": distribution(&r.schedule_delay, S),
            "send_duration": r.active.as_secs_f64(),
            "requested_rate": requested_rate,
            "achieved_rate": r.achieved_rate(),
            "scheduled_rate": r.scheduled_rate(),
            "in_flight_cap_waits": r.in_flight_cap_waits,
            "ramp_up": r.ramp_up.as_secs_f64(),
        },
        "successes": {
            "count": r.ok,
            "latency": {
                "request_latency": distribution(&r.request_latency, S),
                "request_latency_from_intended_send": distribution(&r.latency_from_intended, S),
                "time_to_first_token": distribution(&r.ttft, S),
                "inter_token_latency": distribution(&r.itl, S),
                "time_per_output_token": distribution(&r.tpot, S),
                "normalized_time_per_output_token": distribution(&r.ntpot, S),
            },
            "throughput": {
                "input_tokens_per_sec": r.input_tokens_per_sec(),
                "output_tokens_per_sec": r.output_tokens_per_sec(),
                "total_tokens_per_sec": r.input_tokens_per_sec() + r.output_tokens_per_sec(),
                "requests_per_sec": r.requests_per_sec(),
            },
            "prompt_tokens": distribution(&r.prompt_tokens, 1.0),
            "output_len": distribution(&r.output_tokens, 1.0),
            "output_tokens_from_server_usage": r.output_tokens_from_usage,
            "prompt_token_mismatches": r.prompt_token_mismatches,
            "token_count_mismatches": r.token_count_mismatches,
        },
        "failures": {
            "count": r.failed() + r.timed_out,
            "timed_out": r.timed_out,
            "timed_out_idle": r.idle_timeouts,
            "by_label": by_label,
        },
        "cancelled": r.cancelled,
        "server_metrics": server.map(|s| s.summary(r.ok)),
    })
}

/// The run's metadata and every check, for machines.
pub fn verdicts(run: &RunResult, gate: &GateReport) -> Value {
    let started = run
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let checks: Vec<Value> = gate
        .checks
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": match c.kind { CheckKind::Threshold => "threshold", CheckKind::Validity => "validity", CheckKind::Regression => "regression" },
                "verdict": match c.verdict { Verdict::Pass => "pass", Verdict::Fail => "fail", Verdict::Invalid => "invalid" },
                "observed": c.observed,
                "message": c.message,
            })
        })
        .collect();
    json!({
        "infergate_version": env!("CARGO_PKG_VERSION"),
        "scenario": run.scenario,
        "status": format!("{:?}", gate.status).to_lowercase(),
        "target": run.target,
        "model": run.model,
        "server_version": run.server_version,
        "simulated": run.simulated,
        "shortened": run.shortened,
        "started_at_unix": started,
        "ended_at_unix": started + run.elapsed.as_secs_f64(),
        "elapsed_seconds": run.elapsed.as_secs_f64(),
        "config_hash": run.config_hash,
        "environment": super::metadata::environment(),
        "stages": run.stages.iter().map(|s| s.stage.describe()).collect::<Vec<_>>(),
        "warnings": run.warnings,
        "knee": crate::gate::knee::find(&run.stages),
        "stage_offsets": run.stages.iter().map(|s| s.offset.as_secs_f64()).collect::<Vec<_>>(),
        "stage_loads": run.stages.iter().map(|s| serde_json::json!({
            "index": s.stage.index,
            "describe": s.stage.describe(),
            "rate": s.stage.requested_rate(),
            "concurrency": match s.stage.load {
                crate::plan::StageLoad::Closed { concurrency, .. } => Some(concurrency),
                crate::plan::StageLoad::Open { .. } => None,
            },
        })).collect::<Vec<_>>(),
        "sweep": run.sweep,
        "checks": checks,
        "baseline": gate.comparison.as_ref().map(comparison),
    })
}

/// The baseline comparison: where, what it was, and every statistic with both intervals.
fn comparison(c: &crate::gate::baseline::Comparison) -> Value {
    use crate::gate::baseline::Problem;
    let interval = |i: &crate::gate::baseline::interval::Interval| match i {
        Ok(e) => json!({"value": e.value, "low": e.low, "high": e.high}),
        Err(note) => json!({"unavailable": note}),
    };
    let rows: Vec<Value> = c
        .rows
        .iter()
        .map(|r| {
            json!({
                "scope": r.scope,
                "statistic": r.statistic(),
                "source": r.source,
                "allowed": crate::gate::baseline::allowance_text(r.allowance, r.metric),
                "current_value": r.current_value,
                "baseline_value": r.baseline_value,
                "current": interval(&r.current),
                "baseline": interval(&r.baseline),
                "delta": r.judgement.delta,
                "change": r.judgement.change,
                "note": r.judgement.note,
            })
        })
        .collect();
    let problem = c.problem.as_ref().map(|p| match p {
        Problem::NotConfigured => json!({"kind": "not_configured"}),
        Problem::Missing => json!({"kind": "missing"}),
        Problem::Refused(m) => json!({"kind": "refused", "message": m}),
        Problem::Unreadable(m) => json!({"kind": "unreadable", "message": m}),
    });
    json!({"location": c.location, "about": c.about, "problem": problem, "rows": rows})
}

/// `timeline.json`: every stage's once-a-second points on the run's clock (seconds from its start).
pub fn timeline(run: &RunResult) -> Value {
    let points: Vec<Value> = run
        .stages
        .iter()
        .flat_map(|s| {
            let offset = s.offset.as_secs_f64();
            s.recorder.timeline.iter().map(move |p| {
                serde_json::json!({
                    "stage": s.stage.index,
                    "t": offset + p.t,
                    "in_flight": p.in_flight,
                    "completed_per_s": p.completed_per_s,
                    "ttft_avg_ms": p.ttft_avg_ms,
                    "e2e_avg_ms": p.e2e_avg_ms,
                })
            })
        })
        .collect();
    Value::Array(points)
}
