//! The console view of a run: a genai-perf-style table of each metric's distribution over the whole
//! scenario, one row per stage with the figures people look at first, then every check with its
//! verdict.

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::gate::{GateReport, Status, Verdict};
use crate::measure::recorder::Recorder;
use crate::measure::recorder::sessions::{MAX_TURNS, SessionStats};
use crate::run::RunResult;
use crate::scenario::threshold::format_micros;
use crate::scenario::{Aggregation, Metric};

const STAGE_COLUMNS: [&str; 11] = [
    "stage",
    "load",
    "sent",
    "ok",
    "err",
    "req/s",
    "out tok/s",
    "ttft p50",
    "ttft p99",
    "itl p99",
    "e2e p99",
];

const METRIC_COLUMNS: [&str; 7] = ["metric", "avg", "min", "max", "p99", "p90", "p75"];

/// Renders the metric table, the stage table and the checks as plain text.
pub fn render(run: &RunResult, gate: &GateReport) -> String {
    let mut out = String::new();
    let simulated = if run.simulated {
        ", embedded simulator"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "scenario {} against {} (model {}){simulated}",
        run.scenario, run.target, run.model
    );
    if let Some(note) = &run.shortened {
        let _ = writeln!(out, "note: {note}");
    }
    for warning in &run.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out.push_str(&grid(&METRIC_COLUMNS, &metric_rows(&run.total), 1));
    let mut rows: Vec<Vec<String>> = run
        .stages
        .iter()
        .map(|s| stage_row(&s.stage.index.to_string(), &s.stage.describe(), &s.recorder))
        .collect();
    if run.stages.len() > 1 {
        rows.push(stage_row("all", "", &run.total));
    }
    if let Some(w) = &run.warmup {
        let load = format!("{} (not counted)", w.stage.describe());
        rows.insert(0, stage_row("warm-up", &load, &w.recorder));
    }
    out.push_str(&grid(&STAGE_COLUMNS, &rows, 2));
    if let Some(lora) = &run.lora {
        let rows: Vec<Vec<String>> = lora
            .adapters
            .iter()
            .zip(&run.total.adapters)
            .map(|((name, share), r)| stage_row(name, &format!("{:.0} %", share * 100.0), r))
            .collect();
        let mut header = STAGE_COLUMNS;
        (header[0], header[1]) = ("adapter", "share");
        out.push_str(&format!("by LoRA adapter:\n{}", grid(&header, &rows, 2)));
    }
    out.push_str(&goodput_rows(run));
    if !run.total.replay.is_empty() {
        let _ = writeln!(out, "sessions: {}", run.total.replay.summary());
    }
    if !run.total.media.is_empty() {
        let _ = writeln!(out, "media: {}", run.total.media.describe());
    }
    out.push_str(&session_rows(&run.total.sessions));
    out.push_str(&server_rows(run));
    if let Some(sweep) = &run.sweep {
        let _ = writeln!(
            out,
            "sweep: saturation at {} req/s after {} probe steps; recommended production rate {} req/s ({} % below){}",
            sweep.saturation_rate,
            sweep.probes.len(),
            sweep.recommended_rate,
            (crate::run::sweep::HEADROOM * 100.0) as u32,
            sweep
                .note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        );
    }
    if let Some(capacity) = &run.capacity {
        let _ = writeln!(out, "{}", capacity.describe());
    }
    if let Some(knee) = crate::gate::knee::find(&run.stages) {
        let _ = writeln!(out, "{}", knee.describe());
    }
    for check in &gate.checks {
        let mark = match check.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
        };
        let _ = writeln!(out, "  [{mark}] {}: {}", check.name, check.message);
    }
    let verdict = match gate.status {
        Status::Passed => "PASSED",
        Status::Failed => "FAILED: the target missed a threshold",
        Status::Invalid => "INVALID: the runner's own checks failed, so thresholds were not judged",
    };
    let _ = writeln!(out, "result: {verdict}");
    out
}

const GOODPUT_COLUMNS: [&str; 6] = [
    "stage",
    "good",
    "of ok",
    "attainment",
    "good req/s",
    "good tok/s",
];

/// `report.goodput`: per stage, how many requests met every per-request SLO.
fn goodput_rows(run: &RunResult) -> String {
    let Some(slo) = run.total.slo else {
        return String::new();
    };
    let row = |name: &str, r: &Recorder| {
        let g = &r.goodput;
        let percent = |f: Option<f64>| f.map_or("n/a".into(), |f| format!("{:.1} %", f * 100.0));
        vec![
            name.to_string(),
            g.good.to_string(),
            percent(g.of_judged(g.good)),
            percent(r.slo_attainment()),
            format!("{:.2}", r.goodput_per_sec()),
            format!("{:.0}", r.token_goodput_per_sec()),
        ]
    };
    let mut rows: Vec<Vec<String>> = run
        .stages
        .iter()
        .map(|s| row(&s.stage.index.to_string(), &s.recorder))
        .collect();
    if run.stages.len() > 1 {
        rows.push(row("all", &run.total));
    }
    format!(
        "goodput ({}):\n{}",
        slo.describe(),
        grid(&GOODPUT_COLUMNS, &rows, 1)
    )
}

const SESSION_COLUMNS: [&str; 7] = [
    "turn",
    "requests",
    "ok",
    "prompt tok p50",
    "ttft p50",
    "ttft p99",
    "itl p99",
];

/// Multi-turn sessions: how many conversations began and completed, then one row per turn index,
/// where prefix caching shows (prompts grow by turn; cached, TTFT does not).
fn session_rows(s: &SessionStats) -> String {
    if s.turns.is_empty() {
        return String::new();
    }
    let q = |h: &Histogram<u64>, p: f64, f: &dyn Fn(f64) -> String| {
        if h.is_empty() {
            "n/a".to_string()
        } else {
            f(h.value_at_quantile(p) as f64)
        }
    };
    let tokens = |v: f64| format!("{v:.0}");
    let rows: Vec<Vec<String>> = s
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let later = if i + 1 == MAX_TURNS { "+" } else { "" };
            vec![
                format!("{}{later}", i + 1),
                t.requests.to_string(),
                t.ok.to_string(),
                q(&t.prompt_tokens, 0.5, &tokens),
                q(&t.ttft, 0.5, &format_micros),
                q(&t.ttft, 0.99, &format_micros),
                q(&t.itl, 0.99, &format_micros),
            ]
        })
        .collect();
    format!(
        "sessions: {} conversations begun, {} completed, {} turns:\n{}",
        s.started,
        s.completed,
        s.requests(),
        grid(&SESSION_COLUMNS, &rows, 1)
    )
}

const SERVER_COLUMNS: [&str; 9] = [
    "stage",
    "engine",
    "ttft p50 (client)",
    "ttft p99 (client)",
    "prefill/req",
    "running avg/max",
    "waiting avg/max",
    "kv cache avg/max",
    "gen tok/s",
];

/// Server-side metrics per stage, client TTFT beside the engine's, when they were read.
fn server_rows(run: &RunResult) -> String {
    use crate::measure::server::Mode;
    use crate::scenario::Aggregation::{Avg, Max, Percentile};
    let rows: Vec<Vec<String>> = run
        .stages
        .iter()
        .filter_map(|s| {
            let server = s.server.as_ref()?;
            let ms = |v: Option<f64>| v.map_or("-".to_string(), format_micros);
            let ttft = |p: f64| {
                format!(
                    "{} ({})",
                    ms(server.value(Metric::ServerTtft, Percentile(p))),
                    ms(s.recorder.value(Metric::Ttft, Percentile(p)))
                )
            };
            let pair = |m: Metric, percent: bool| {
                let show = |v: Option<f64>| match v {
                    None => "-".to_string(),
                    Some(v) if percent => format!("{:.0}%", v * 100.0),
                    Some(v) => format!("{v:.1}"),
                };
                format!(
                    "{}/{}",
                    show(server.value(m, Avg)),
                    show(server.value(m, Max))
                )
            };
            let prefill = server
                .prefill_per_request(s.recorder.ok)
                .map(|secs| secs * 1e6);
            Some(vec![
                s.stage.index.to_string(),
                server.engines.join("+"),
                ttft(50.0),
                ttft(99.0),
                ms(prefill),
                pair(Metric::ServerRequestsRunning, false),
                pair(Metric::ServerRequestsWaiting, false),
                pair(Metric::ServerKvCacheUsage, true),
                server
                    .value(Metric::ServerGenerationTokensPerSec, Avg)
                    .map_or("-".to_string(), |v| format!("{v:.0}")),
            ])
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let source = run.stages.iter().find_map(|s| s.server.as_ref());
    let how = match source.map(|s| (s.mode, &s.url)) {
        Some((Mode::PrometheusServer, url)) => format!("queried from the Prometheus server {url}"),
        Some((Mode::Exposition, url)) => format!("scraped from {url}"),
        None => String::new(),
    };
    format!("server-side ({how}):\n{}", grid(&SERVER_COLUMNS, &rows, 2))
}

/// Aligns rows under a header: the first `left` columns (labels) to the left, numbers to the right.
fn grid(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// One row per per-request metric with observations: avg, min, max, p99, p90, p75.
fn metric_rows(r: &Recorder) -> Vec<Vec<String>> {
    let durations = [
        ("ttft", Metric::Ttft),
        ("itl", Metric::Itl),
        ("tpot", Metric::Tpot),
        ("ntpot", Metric::Ntpot),
        ("request_latency", Metric::RequestLatency),
        ("schedule_delay", Metric::ScheduleDelay),
    ];
    let mut rows: Vec<Vec<String>> = durations
        .iter()
        .filter_map(|(name, metric)| {
            Some(distribution_row(name, r.trend(*metric)?, &format_micros))
        })
        .collect();
    // A reasoning model's answer begins after its reasoning: TTFO apart from TTFT (equal otherwise).
    let reasoning = r.saw_reasoning();
    if reasoning {
        rows.insert(1, distribution_row("ttfo", &r.ttfo, &format_micros));
    }
    let tokens = |v: f64| format!("{v:.0}");
    rows.push(distribution_row("input tokens", &r.prompt_tokens, &tokens));
    rows.push(distribution_row("output tokens", &r.output_tokens, &tokens));
    if reasoning {
        rows.push(distribution_row(
            "reasoning tokens",
            &r.reasoning_tokens,
            &tokens,
        ));
    }
    rows.retain(|row| row.len() == METRIC_COLUMNS.len());
    rows
}

fn distribution_row(name: &str, h: &Histogram<u64>, format: &dyn Fn(f64) -> String) -> Vec<String> {
    if h.is_empty() {
        return vec![name.to_string()];
    }
    let q = |p: f64| format(h.value_at_quantile(p) as f64);
    vec![
        name.to_string(),
        format(h.mean()),
        format(h.min() as f64),
        format(h.max() as f64),
        q(0.99),
        q(0.90),
        q(0.75),
    ]
}

fn stage_row(stage: &str, load: &str, r: &Recorder) -> Vec<String> {
    let p = |m: Metric, q: f64| {
        r.value(m, Aggregation::Percentile(q))
            .map_or("n/a".into(), format_micros)
    };
    vec![
        stage.to_string(),
        load.to_string(),
        r.sent().to_string(),
        r.ok.to_string(),
        (r.failed() + r.timed_out).to_string(),
        format!("{:.2}", r.requests_per_sec()),
        format!("{:.0}", r.output_tokens_per_sec()),
        p(Metric::Ttft, 50.0),
        p(Metric::Ttft, 99.0),
        p(Metric::Itl, 99.0),
        p(Metric::RequestLatency, 99.0),
    ]
}
