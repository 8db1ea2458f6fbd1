//! The run's results as the report schema (`schema`): lifecycle reports in inference-perf's layout and
//! units (seconds) for the whole scenario, the warm-up and each stage, `verdicts.json` with the run's
//! metadata and every check, and `timeline.json`.

use hdrhistogram::Histogram;

use super::schema::{
    BaselineEntry, CheckEntry, ConfirmationEntry, Distribution, FailureLabel, Failures,
    GoodputEntry, IntervalEntry, Latency, Lifecycle, LoadSummary, ProblemEntry, RowEntry,
    SessionsEntry, StageLoadEntry, Successes, Throughput, TimelineEntry, TurnEntry, Verdicts,
};
use crate::gate::GateReport;
use crate::gate::baseline::interval::Interval;
use crate::gate::baseline::{Comparison, Problem, allowance_text};
use crate::measure::recorder::Recorder;
use crate::measure::recorder::sessions::{MAX_TURNS, SessionStats};
use crate::measure::server::StageServer;
use crate::plan::StageLoad;
use crate::run::RunResult;
use crate::scenario::goodput::Slo;

/// Microseconds per second: recorders keep µs, reports show seconds.
const S: f64 = 1e6;

/// A distribution with values divided by `scale` (1e6 turns microseconds into seconds); `None`
/// when empty.
pub fn distribution(h: &Histogram<u64>, scale: f64) -> Option<Distribution> {
    distribution_with(h, scale, &[])
}

/// `distribution` with the percentiles `more` besides inference-perf's set (`p97`, `p99.99`).
pub fn distribution_with(h: &Histogram<u64>, scale: f64, more: &[f64]) -> Option<Distribution> {
    if h.is_empty() {
        return None;
    }
    let at = |p: f64| h.value_at_quantile(p / 100.0) as f64 / scale;
    Some(Distribution {
        mean: h.mean() / scale,
        min: h.min() as f64 / scale,
        max: h.max() as f64 / scale,
        p0_1: at(0.1),
        p1: at(1.0),
        p5: at(5.0),
        p10: at(10.0),
        p25: at(25.0),
        median: at(50.0),
        p75: at(75.0),
        p90: at(90.0),
        p95: at(95.0),
        p99: at(99.0),
        p99_9: at(99.9),
        more: more.iter().map(|&p| (format!("p{p}"), at(p))).collect(),
    })
}

/// One lifecycle report. `requested_rate` is the stage's configured rate, if it had one; `server` what
/// the engine's `/metrics` said over the same window, if it was scraped; `more` the percentiles every
/// distribution gives besides inference-perf's set (`report.request_lifecycle.percentiles`).
pub fn lifecycle(
    r: &Recorder,
    requested_rate: Option<f64>,
    server: Option<&StageServer>,
    more: &[f64],
) -> Lifecycle {
    let distribution = |h: &Histogram<u64>, scale: f64| distribution_with(h, scale, more);
    let by_label = r
        .failures
        .iter()
        .map(|(kind, group)| {
            let label = FailureLabel {
                count: group.count,
                samples: group.samples.clone(),
            };
            (kind.label(), label)
        })
        .collect();
    Lifecycle {
        load_summary: LoadSummary {
            count: r.scheduled,
            schedule_delay: distribution(&r.schedule_delay, S),
            send_duration: r.active.as_secs_f64(),
            requested_rate,
            achieved_rate: r.achieved_rate(),
            scheduled_rate: r.scheduled_rate(),
            in_flight_cap_waits: r.in_flight_cap_waits,
            ramp_up: r.ramp_up.as_secs_f64(),
        },
        successes: Successes {
            count: r.ok,
            latency: Latency {
                request_latency: distribution(&r.request_latency, S),
                request_latency_from_intended_send: distribution(&r.latency_from_intended, S),
                time_to_first_token: distribution(&r.ttft, S),
                time_to_first_output_token: distribution(&r.ttfo, S),
                inter_token_latency: distribution(&r.itl, S),
                time_per_output_token: distribution(&r.tpot, S),
                normalized_time_per_output_token: distribution(&r.ntpot, S),
            },
            throughput: Throughput {
                input_tokens_per_sec: r.input_tokens_per_sec(),
                output_tokens_per_sec: r.output_tokens_per_sec(),
                total_tokens_per_sec: r.input_tokens_per_sec() + r.output_tokens_per_sec(),
                requests_per_sec: r.requests_per_sec(),
            },
            prompt_tokens: distribution(&r.prompt_tokens, 1.0),
            output_len: distribution(&r.output_tokens, 1.0),
            output_tokens_from_server_usage: r.output_tokens_from_usage,
            reasoning_tokens: distribution(&r.reasoning_tokens, 1.0).filter(|_| r.saw_reasoning()),
            reasoning_tokens_from_server_usage: r.reasoning_tokens_from_usage,
            prompt_token_mismatches: r.prompt_token_mismatches,
            token_count_mismatches: r.token_count_mismatches,
            goodput_metrics: goodput(r),
        },
        failures: Failures {
            count: r.failed() + r.timed_out,
            timed_out: r.timed_out,
            timed_out_idle: r.idle_timeouts,
            by_label,
        },
        cancelled: r.cancelled,
        server_metrics: server.map(|s| s.summary(r.ok)),
        sessions: sessions(&r.sessions),
        media: Some(r.media).filter(|m| !m.is_empty()),
    }
}

/// The goodput part of a lifecycle report; `None` without `report.goodput`.
fn goodput(r: &Recorder) -> Option<GoodputEntry> {
    let slo = r.slo?;
    let g = &r.goodput;
    let percent = |n: u64| g.of_judged(n).map_or(0.0, |f| f * 100.0);
    let attainment = |s: Slo| slo.limits[s.index()].map(|_| percent(g.met[s.index()]));
    Some(GoodputEntry {
        goodput_percentage: percent(g.good),
        request_goodput: r.goodput_per_sec(),
        token_goodput: r.token_goodput_per_sec(),
        good_requests: g.good,
        total_requests: g.judged,
        slo_attainment: r.slo_attainment(),
        constraints: slo
            .constraints()
            .map(|(s, limit)| (s.name().to_string(), limit as f64 / S))
            .collect(),
        ttft_attainment_percentage: attainment(Slo::Ttft),
        tpot_attainment_percentage: attainment(Slo::Tpot),
        itl_attainment_percentage: attainment(Slo::Itl),
        ntpot_attainment_percentage: attainment(Slo::Ntpot),
        request_latency_attainment_percentage: attainment(Slo::RequestLatency),
    })
}

/// The sessions part of a lifecycle report; `None` when the run had none.
fn sessions(s: &SessionStats) -> Option<SessionsEntry> {
    if s.turns.is_empty() {
        return None;
    }
    let by_turn = s
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| TurnEntry {
            turn: i as u32,
            and_later: i + 1 == MAX_TURNS,
            requests: t.requests,
            ok: t.ok,
            time_to_first_token: distribution(&t.ttft, S),
            inter_token_latency: distribution(&t.itl, S),
            prompt_tokens: distribution(&t.prompt_tokens, 1.0),
        })
        .collect();
    Some(SessionsEntry {
        started: s.started,
        completed: s.completed,
        turns: s.requests(),
        by_turn,
    })
}

/// The run's metadata and every check, for machines.
pub fn verdicts(run: &RunResult, gate: &GateReport) -> Verdicts {
    let started = run
        .started_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let checks = gate
        .checks
        .iter()
        .map(|c| CheckEntry {
            name: c.name.clone(),
            kind: c.kind,
            verdict: c.verdict,
            observed: c.observed.clone(),
            message: c.message.clone(),
        })
        .collect();
    let stage_loads = run
        .stages
        .iter()
        .map(|s| StageLoadEntry {
            index: s.stage.index,
            describe: s.stage.describe(),
            rate: s.stage.requested_rate(),
            concurrency: match s.stage.load {
                StageLoad::Closed { concurrency, .. } => Some(concurrency),
                StageLoad::Sessions { concurrent, .. } => Some(concurrent),
                StageLoad::Open { .. } => None,
            },
        })
        .collect();
    Verdicts {
        infergate_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: run.scenario.clone(),
        status: gate.status,
        target: run.target.clone(),
        model: run.model.clone(),
        server_version: run.server_version.clone(),
        simulated: run.simulated,
        shortened: run.shortened.clone(),
        started_at_unix: started,
        ended_at_unix: started + run.elapsed.as_secs_f64(),
        elapsed_seconds: run.elapsed.as_secs_f64(),
        config_hash: run.config_hash.clone(),
        environment: super::metadata::environment(),
        stages: run.stages.iter().map(|s| s.stage.describe()).collect(),
        warnings: run.warnings.clone(),
        knee: crate::gate::knee::find(&run.stages),
        stage_offsets: run.stages.iter().map(|s| s.offset.as_secs_f64()).collect(),
        stage_loads,
        sweep: run.sweep.clone(),
        capacity: run.capacity.clone(),
        checks,
        baseline: gate.comparison.as_ref().map(comparison),
    }
}

/// The baseline comparison: where, what it was, and every statistic with both intervals.
fn comparison(c: &Comparison) -> BaselineEntry {
    let interval = |i: &Interval| match i {
        Ok(e) => IntervalEntry::Estimate {
            value: e.value,
            low: e.low,
            high: e.high,
        },
        Err(note) => IntervalEntry::Unavailable {
            unavailable: note.clone(),
        },
    };
    let rows = c
        .rows
        .iter()
        .map(|r| RowEntry {
            scope: r.scope.clone(),
            statistic: r.statistic(),
            source: r.source.to_string(),
            allowed: allowance_text(r.allowance, r.metric),
            current_value: r.current_value,
            baseline_value: r.baseline_value,
            current: interval(&r.current),
            expected: interval(&r.expected),
            runs: r.runs,
            delta: r.judgement.delta,
            mde: r.judgement.mde,
            p_value: r.judgement.p_value,
            change: r.judgement.change,
            note: r.judgement.note.clone(),
        })
        .collect();
    let problem = c.problem.as_ref().map(|p| match p {
        Problem::NotConfigured => ProblemEntry::NotConfigured,
        Problem::Missing => ProblemEntry::Missing,
        Problem::Refused(m) => ProblemEntry::Refused { message: m.clone() },
        Problem::Unreadable(m) => ProblemEntry::Unreadable { message: m.clone() },
    });
    BaselineEntry {
        location: c.location.clone(),
        about: c.about.clone(),
        problem,
        rows,
        notes: c.notes.clone(),
        budget: Some(c.budget),
        confirmation: c.confirmation.as_ref().map(|k| ConfirmationEntry {
            runs: k.runs,
            earlier: k.earlier.clone(),
        }),
        unit: Some(c.unit.to_string()),
    }
}

/// `timeline.json`: every stage's once-a-second points on the run's clock (seconds from its start).
pub fn timeline(run: &RunResult) -> Vec<TimelineEntry> {
    run.stages
        .iter()
        .flat_map(|s| {
            let offset = s.offset.as_secs_f64();
            s.recorder.timeline.iter().map(move |p| TimelineEntry {
                stage: s.stage.index,
                t: offset + p.t,
                in_flight: p.in_flight,
                completed_per_s: p.completed_per_s,
                ttft_avg_ms: p.ttft_avg_ms,
                e2e_avg_ms: p.e2e_avg_ms,
            })
        })
        .collect()
}
