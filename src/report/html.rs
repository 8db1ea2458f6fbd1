//! `report.html`: one self-contained file per run (metadata, verdicts, tables and the plots inline as
//! SVG, no network fetches), drawn from the run directory as read back (`rundir::RunDir`).

use std::fmt::Write as _;
use std::path::Path;

use super::plots;
use super::rundir::RunDir;
use super::schema::{BaselineEntry, IntervalEntry, ProblemEntry, RowEntry};
use crate::gate::CheckKind;
use crate::gate::baseline::change::Change;

/// `2026-11-22 23:14:05 UTC` for seconds since the Unix epoch.
fn utc(unix: f64) -> String {
    let (year, month, day, h, m, s) = super::metadata::utc_parts(unix.max(0.0) as i64);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Milliseconds for a table cell (seconds from 1,000 ms on), `n/a` when absent.
pub(super) fn cell(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |ms| {
        if ms >= 1000.0 {
            format!("{:.2} s", ms / 1000.0)
        } else {
            format!("{ms:.2} ms")
        }
    })
}

/// Renders `report.html` and the plots for the run in `dir`; returns a note when plots were skipped.
pub fn render_dir(dir: &Path) -> Result<(), String> {
    let run = RunDir::load(dir).map_err(|e| e.to_string())?;
    let plots = match plots::draw_all(dir, &run) {
        Ok(plots) => plots,
        Err(why) => {
            eprintln!("[{}] note: {why}", run.scenario);
            Vec::new()
        }
    };
    let html = html(&run, &plots);
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn html(run: &RunDir, plots: &[plots::Plot]) -> String {
    let v = &run.verdicts;
    let status = v.status.word();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>infergate: {name}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1240px;color:#222;padding:0 1rem}}\
         h1{{margin-bottom:.2rem}}table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}\
         td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}}\
         th{{background:#f3f3f3}}td.num{{text-align:right;font-variant-numeric:tabular-nums}}.passed,.pass{{color:#1a7f37;font-weight:600}}\
         .failed,.fail{{color:#cf222e;font-weight:600}}.invalid,.error{{color:#9a6700;font-weight:600}}\
         figure{{margin:1rem 0 2rem}}figure svg{{width:100%;height:auto;border:1px solid #eee}}\
         .meta td{{text-align:left}}.note{{color:#555}}</style></head><body>\
         <h1>{name} <span class=\"{status}\">{status}</span></h1>",
        name = escape(&run.scenario),
    );
    out.push_str("<table class=\"meta\">");
    let rows: [(&str, Option<String>); 8] = [
        ("target", Some(v.target.clone())),
        ("model", Some(v.model.clone())),
        ("server", v.server_version.clone()),
        ("config hash", Some(v.config_hash.clone())),
        ("infergate", Some(v.infergate_version.clone())),
        ("elapsed (s)", Some(format!("{:.1}", v.elapsed_seconds))),
        ("started", Some(utc(v.started_at_unix))),
        ("note", v.shortened.clone()),
    ];
    for (label, value) in rows {
        if let Some(value) = value {
            let _ = write!(out, "<tr><th>{label}</th><td>{}</td></tr>", escape(&value));
        }
    }
    if v.simulated {
        out.push_str("<tr><th>target kind</th><td>embedded simulator</td></tr>");
    }
    out.push_str("</table><h2>Verdicts</h2><table><tr><th>check</th><th>kind</th><th>observed</th><th>verdict</th><th>detail</th></tr>");
    // The `regression` block's statistics have their own table below ("Compared with the baseline").
    for c in v
        .checks
        .iter()
        .filter(|c| !(c.kind == CheckKind::Regression && c.name.starts_with("regression:")))
    {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
            escape(&c.name),
            c.kind.word(),
            escape(&c.observed),
            escape(&c.message),
            v = c.verdict.word(),
        );
    }
    out.push_str("</table><h2>Stages</h2><table><tr><th>stage</th><th>load</th><th>ok</th><th>failed</th><th>req/s</th><th>output tok/s</th><th>TTFT p50</th><th>TTFT p99</th><th>ITL p99</th><th>e2e p50</th><th>e2e p99</th></tr>");
    for s in &run.stages {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.0}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.index,
            escape(&s.describe),
            s.ok,
            s.failed,
            s.requests_per_sec,
            s.output_tokens_per_sec,
            cell(s.ttft[0]),
            cell(s.ttft[2]),
            cell(s.itl[2]),
            cell(s.e2e[0]),
            cell(s.e2e[2]),
        );
    }
    out.push_str("</table>");
    goodput_table(&mut out, run);
    super::reasoning::html_table(&mut out, run);
    if let Some(m) = &run.media {
        let _ = write!(
            out,
            "<p><b>Media:</b> {}. TTFT includes the server's decoding and encoding of them.</p>",
            escape(&m.describe())
        );
    }
    sessions_table(&mut out, run);
    if let Some(r) = &run.replay {
        let secs = |s: &Option<crate::report::schema::Spread>| {
            s.map_or("n/a".into(), |s| {
                format!(
                    "median {:.2} s, p90 {:.2} s, max {:.2} s",
                    s.median, s.p90, s.max
                )
            })
        };
        let _ = write!(
            out,
            "<p><b>Replayed sessions:</b> {} ({} succeeded, {} failed); {} calls: {} completed, {} failed, \
             {} cancelled because a call they depend on failed. Session duration {}; time in calls on \
             the critical path {}. Each session is in per_session_lifecycle_metrics.json.</p>",
            r.num_sessions,
            r.num_sessions_succeeded,
            r.num_sessions_failed,
            r.total_events,
            r.total_events_completed,
            r.total_events_failed,
            r.total_events_cancelled,
            escape(&secs(&r.session_duration_sec)),
            escape(&secs(&r.critical_path_call_sec)),
        );
    }
    server_table(&mut out, run);
    if let Some(k) = &run.knee {
        let _ = write!(
            out,
            "<p><b>Knee:</b> latency leaves its plateau after {} {unit}; recommended operating point about {} {unit} (25 % below it, headroom for bursts).</p>",
            k.load,
            k.recommended,
            unit = run.load_unit_short().trim()
        );
    }
    if let Some(b) = &v.baseline {
        baseline_table(&mut out, b);
    }
    if let Some(sweep) = &v.sweep {
        let probes = &sweep.probes;
        out.push_str("<h2>Sweep probes</h2><table><tr><th>rate req/s</th><th>completed req/s</th><th>TTFT p90</th><th>errors</th><th>verdict</th></tr>");
        for p in probes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{:.1}</td><td>{}</td><td>{:.1} %</td><td>{}</td></tr>",
                p.rate,
                p.completed_rate,
                cell(p.ttft_p90_ms),
                p.error_rate * 100.0,
                escape(p.saturated.as_deref().unwrap_or("good")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(c) = &v.capacity {
        capacity_table(&mut out, c);
    }
    if plots.is_empty() {
        out.push_str("<p class=\"note\">Plots were not drawn (no TrueType font found; set INFERGATE_FONT).</p>");
    }
    for p in plots {
        let svg = std::fs::read_to_string(&p.svg).unwrap_or_default();
        let svg = svg.trim_start_matches(|c| c != '<');
        let svg = svg.strip_prefix("<?xml").map_or(svg, |rest| {
            rest.split_once("?>").map_or(rest, |(_, after)| after)
        });
        let _ = write!(
            out,
            "<figure><figcaption><h2>{}</h2></figcaption>{svg}</figure>",
            escape(p.title)
        );
    }
    if !v.warnings.is_empty() {
        out.push_str("<h2>Warnings</h2><ul>");
        for w in &v.warnings {
            let _ = write!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

/// A row's minimum detectable effect as its allowance is written: `38%` or `1.20 pp`.
fn mde(r: &RowEntry) -> String {
    match r.mde {
        None => "n/a".to_string(),
        Some(m) if !m.is_finite() => "none".to_string(),
        Some(m) if r.allowed.ends_with("pp") => format!("≥ {:.2} pp", m * 100.0),
        Some(m) if r.allowed.ends_with('%') || r.allowed.contains("precision") => {
            format!("≥ {:.0}%", m * 100.0)
        }
        Some(m) => format!("≥ {m:.3}"),
    }
}

/// The comparison with the baseline (`verdicts.json`'s `baseline`), when there was one.
fn baseline_table(out: &mut String, b: &BaselineEntry) {
    let _ = write!(
        out,
        "<h2>Compared with the baseline</h2><p>Baseline <code>{}</code>{}</p>",
        escape(&b.location),
        b.about
            .as_ref()
            .map(|a| format!(", {}", escape(a)))
            .unwrap_or_default()
    );
    if let Some(problem) = &b.problem {
        let text = match problem {
            ProblemEntry::Missing => {
                "No baseline saved for this scenario yet; nothing compared.".to_string()
            }
            ProblemEntry::NotConfigured => {
                "No baseline location was given; relative thresholds were not checked.".to_string()
            }
            ProblemEntry::Refused { message } => format!("Not compared (refused): {message}"),
            ProblemEntry::Unreadable { message } => format!("Not compared (unreadable): {message}"),
        };
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(&text));
    }
    for note in &b.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    if let Some(k) = &b.confirmation {
        let _ = write!(
            out,
            "<p>Confirmed over {} runs: a row fails only if it regressed in every one. Earlier runs' reports: {}.</p>",
            k.runs,
            (1..k.runs)
                .map(|i| format!("<a href=\"run-{i}/report.html\">run {i}</a>"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if b.rows.is_empty() {
        return;
    }
    if let Some(budget) = b.budget {
        let _ = write!(
            out,
            "<p class=\"note\">Each row is this run against the spread of the saved runs; all rows share one error budget of {:.0} % (Holm). \"Could catch\" is the smallest change for the worse a row would have flagged.</p>",
            budget * 100.0
        );
    }
    let _ = write!(
        out,
        "<table><tr><th>scope</th><th>statistic</th><th>this run</th><th>interval</th><th>baseline ({})</th><th>expected</th><th>change</th><th>could catch</th><th>allowed</th><th>verdict</th></tr>",
        escape(b.unit.as_deref().unwrap_or("saved runs"))
    );
    let interval = |i: &IntervalEntry| match i {
        IntervalEntry::Estimate { low, high, .. } => {
            format!("{:.2} – {:.2} ms", low / 1e3, high / 1e3)
        }
        IntervalEntry::Unavailable { unavailable } => escape(unavailable),
    };
    for r in &b.rows {
        let latency = [" p(", " med", " avg"]
            .iter()
            .any(|k| r.statistic.contains(k));
        let value = |v: Option<f64>| match v {
            None if latency => "n/a ms".to_string(),
            None => "n/a".to_string(),
            Some(us) if latency => format!("{:.2} ms", us / 1e3),
            Some(x) => format!("{x:.4}"),
        };
        let shown = |i: &IntervalEntry| if latency { interval(i) } else { String::new() };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&r.scope),
            escape(&r.statistic),
            value(r.current_value),
            shown(&r.current),
            value(r.baseline_value),
            r.runs,
            shown(&r.expected),
            r.delta
                .map_or("n/a".to_string(), |d| format!("{:+.1}%", d * 100.0)),
            mde(r),
            escape(&r.allowed),
            match r.change {
                Change::Regressed => "failed",
                Change::Inconclusive => "note",
                _ => "passed",
            },
            r.change.label(),
        );
    }
    out.push_str("</table>");
}

/// Goodput per stage, when `report.goodput` set per-request SLOs.
fn goodput_table(out: &mut String, run: &RunDir) {
    let Some(first) = run.stages.iter().find_map(|s| s.goodput.as_ref()) else {
        return;
    };
    let limits: Vec<String> = first
        .constraints
        .iter()
        .map(|(k, v)| format!("{k} ≤ {v}s"))
        .collect();
    let _ = write!(
        out,
        "<h2>Goodput</h2><p class=\"note\">A request is good when it succeeded and met every constraint: {}. Attainment is good requests over requests sent, so failures count against it.</p><table><tr><th>stage</th><th>load</th><th>good</th><th>of successes</th><th>attainment</th><th>good req/s</th><th>good tok/s</th></tr>",
        escape(&limits.join(", "))
    );
    for s in &run.stages {
        let Some(g) = &s.goodput else { continue };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.0}</td></tr>",
            s.index,
            escape(&s.describe),
            g.good_requests,
            g.goodput_percentage,
            g.slo_attainment
                .map_or("n/a".into(), |a| format!("{:.1} %", a * 100.0)),
            g.request_goodput,
            g.token_goodput,
        );
    }
    out.push_str("</table>");
}

/// Multi-turn sessions: conversations, then each turn index's requests, prompt length and latency.
fn sessions_table(out: &mut String, run: &RunDir) {
    let Some(s) = &run.sessions else {
        return;
    };
    let _ = write!(
        out,
        "<h2>Sessions</h2><p class=\"note\">{} conversations begun, {} completed, {} turns. Later turns resend the whole conversation; with prefix caching their TTFT stays flat as their prompts grow.</p><table><tr><th>turn</th><th>requests</th><th>ok</th><th>prompt tokens p50</th><th>TTFT p50</th><th>TTFT p99</th><th>ITL p99</th></tr>",
        s.started, s.completed, s.turns
    );
    let ms = |d: &Option<crate::report::schema::Distribution>,
              p: fn(&crate::report::schema::Distribution) -> f64| {
        d.as_ref().map(|d| p(d) * 1000.0)
    };
    for t in &s.by_turn {
        let _ = write!(
            out,
            "<tr><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            t.turn + 1,
            if t.and_later { "+" } else { "" },
            t.requests,
            t.ok,
            t.prompt_tokens
                .as_ref()
                .map_or("n/a".into(), |d| format!("{:.0}", d.median)),
            cell(ms(&t.time_to_first_token, |d| d.median)),
            cell(ms(&t.time_to_first_token, |d| d.p99)),
            cell(ms(&t.inter_token_latency, |d| d.p99)),
        );
    }
    out.push_str("</table>");
}

/// Server-side metrics per stage, the engine's TTFT beside the client's.
fn server_table(out: &mut String, run: &RunDir) {
    if run.stages.iter().all(|s| s.server.is_none()) {
        return;
    }
    let how = match run.stages.iter().find_map(|s| s.server.as_ref()) {
        Some(s) if s.mode == crate::measure::server::Mode::PrometheusServer => format!(
            "Queried after the run from the Prometheus server {}, every replica it scrapes summed",
            escape(&s.url)
        ),
        Some(s) => format!("Scraped from {} during each stage", escape(&s.url)),
        None => String::new(),
    };
    let _ = write!(
        out,
        "<h2>Server-side metrics</h2><p class=\"note\">{how}; TTFT as the engine measured it, the client's in brackets.</p>"
    );
    out.push_str("<table><tr><th>stage</th><th>engine</th><th>TTFT p50</th><th>TTFT p99</th><th>prefill / request</th><th>running avg / max</th><th>waiting avg / max</th><th>KV cache avg / max</th><th>generated tok/s</th></tr>");
    for s in &run.stages {
        // A stage that was not scraped keeps its row, with dashes.
        let m = s.server.as_ref();
        let ms = |v: Option<f64>| cell(v.map(|secs| secs * 1e3));
        let gauge = |name: &str, percent: bool| {
            let show = |v: Option<f64>| match v {
                None => "-".to_string(),
                Some(v) if percent => format!("{:.0}%", v * 100.0),
                Some(v) => format!("{v:.1}"),
            };
            let g = m.and_then(|m| m.gauges.get(name));
            format!("{} / {}", show(g.map(|g| g.avg)), show(g.map(|g| g.max)))
        };
        let ttft = m.and_then(|m| m.histograms.get("ttft"));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.index,
            escape(&m.map(|m| m.engines.join("+")).unwrap_or_default()),
            ms(ttft.and_then(|h| h.median)),
            cell(s.ttft[0]),
            ms(ttft.and_then(|h| h.p99)),
            cell(s.ttft[2]),
            ms(m.and_then(|m| m.prefill_seconds_per_request)),
            gauge("num_requests_running", false),
            gauge("num_requests_waiting", false),
            gauge("kv_cache_usage", true),
            m.and_then(|m| m
                .throughput
                .get("generation_tokens_per_sec")
                .copied()
                .flatten())
                .map_or("-".to_string(), |v| format!("{v:.0}")),
        );
    }
    out.push_str("</table>");
}

/// The capacity search: what it found, then each step with its verdict.
fn capacity_table(out: &mut String, c: &crate::run::capacity::CapacityOutcome) {
    let _ = write!(
        out,
        "<h2>Capacity</h2><p>{}</p><table><tr><th>{}</th><th>sent</th><th>failed</th><th>seconds</th><th>TTFT p99</th><th>SLO attainment</th><th>verdict</th></tr>",
        escape(&c.describe()),
        escape(&c.unit)
    );
    for s in &c.steps {
        let verdict = s.verdict();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.load,
            s.sent,
            s.failed,
            s.seconds,
            cell(s.ttft_p99_ms),
            s.slo_attainment
                .map_or("n/a".to_string(), |a| format!("{:.2} %", a * 100.0)),
            escape(&verdict),
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_387_523.3), "2026-11-22 22:45:23 UTC");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
