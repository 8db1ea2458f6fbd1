//! A run directory read back (`RunDir`): the numbers the plots, the HTML report and `infergate
//! compare` need, from `verdicts.json`, the lifecycle JSON files and `timeline.json`. Also writes the
//! one-file HTML report (`report.html`: metadata, verdicts, tables and the plots inline as SVG, no
//! network fetches).

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::plots;
use crate::measure::timeline::Point;

/// One stage as the plots see it; latencies in milliseconds (p50, p95, p99).
#[derive(Debug, Clone)]
pub struct StagePoint {
    pub index: usize,
    pub describe: String,
    /// Requested rate, or concurrency for closed-loop stages.
    pub load: f64,
    pub ttft: [Option<f64>; 3],
    pub itl: [Option<f64>; 3],
    pub e2e: [Option<f64>; 3],
    pub output_tokens_per_sec: f64,
    pub requests_per_sec: f64,
    pub ok: u64,
    pub failed: u64,
    /// `server_metrics` of the stage's lifecycle report (null when not scraped).
    pub server: Value,
}

/// Percentile curves (percentile, milliseconds) over the whole run.
#[derive(Debug, Clone)]
pub struct Summary {
    pub ttft: Vec<(f64, f64)>,
    pub itl: Vec<(f64, f64)>,
}

/// Where a multi-stage run saturated (from the knee, or from a sweep).
#[derive(Debug, Clone)]
pub struct KneeMark {
    pub load: f64,
    pub recommended: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Check {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub observed: Option<String>,
    pub verdict: String,
    #[serde(default)]
    pub message: String,
}

/// A saved run.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub scenario: String,
    pub verdicts: Value,
    pub checks: Vec<Check>,
    pub stages: Vec<StagePoint>,
    pub closed_loop: bool,
    pub knee: Option<KneeMark>,
    pub summary: Option<Summary>,
    pub timeline: Vec<Point>,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

const PERCENTILE_KEYS: [(f64, &str); 13] = [
    (0.0, "min"),
    (0.1, "p0.1"),
    (1.0, "p1"),
    (5.0, "p5"),
    (10.0, "p10"),
    (25.0, "p25"),
    (50.0, "median"),
    (75.0, "p75"),
    (90.0, "p90"),
    (95.0, "p95"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (100.0, "max"),
];

fn ms(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64().map(|s| s * 1e3)
}

fn three(latency: &Value, metric: &str) -> [Option<f64>; 3] {
    let d = &latency[metric];
    [ms(d, "median"), ms(d, "p95"), ms(d, "p99")]
}

fn curve(latency: &Value, metric: &str) -> Vec<(f64, f64)> {
    PERCENTILE_KEYS
        .iter()
        .filter_map(|(q, key)| ms(&latency[metric], key).map(|v| (*q, v)))
        .collect()
}

impl RunDir {
    /// Reads a scenario's run directory (the one holding `verdicts.json`).
    pub fn load(dir: &Path) -> Result<RunDir, String> {
        let verdicts = read_json(&dir.join("verdicts.json"))?;
        if verdicts["status"] == "error" {
            return Err(format!(
                "{}: the run did not happen: {}",
                dir.display(),
                verdicts["error"].as_str().unwrap_or("unknown error")
            ));
        }
        let checks: Vec<Check> =
            serde_json::from_value(verdicts["checks"].clone()).unwrap_or_default();
        let loads = verdicts["stage_loads"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let closed_loop = loads.iter().any(|l| l["concurrency"].is_u64());
        let mut stages = Vec::new();
        for l in &loads {
            let index = l["index"].as_u64().unwrap_or(0) as usize;
            let life = read_json(&dir.join(format!("stage_{index}_lifecycle_metrics.json")))?;
            let latency = &life["successes"]["latency"];
            let throughput = &life["successes"]["throughput"];
            stages.push(StagePoint {
                index,
                describe: l["describe"].as_str().unwrap_or_default().to_string(),
                load: l["rate"]
                    .as_f64()
                    .or_else(|| l["concurrency"].as_f64())
                    .unwrap_or(index as f64),
                ttft: three(latency, "time_to_first_token"),
                itl: three(latency, "inter_token_latency"),
                e2e: three(latency, "request_latency"),
                output_tokens_per_sec: throughput["output_tokens_per_sec"].as_f64().unwrap_or(0.0),
                requests_per_sec: throughput["requests_per_sec"].as_f64().unwrap_or(0.0),
                ok: life["successes"]["count"].as_u64().unwrap_or(0),
                failed: life["failures"]["count"].as_u64().unwrap_or(0),
                server: life["server_metrics"].clone(),
            });
        }
        let knee = match (&verdicts["knee"], &verdicts["sweep"]) {
            (k, _) if k.is_object() => Some(KneeMark {
                load: k["load"].as_f64().unwrap_or(0.0),
                recommended: k["recommended"].as_f64().unwrap_or(0.0),
            }),
            (_, s) if s.is_object() => Some(KneeMark {
                load: s["saturation_rate"].as_f64().unwrap_or(0.0),
                recommended: s["recommended_rate"].as_f64().unwrap_or(0.0),
            }),
            _ => None,
        };
        let summary = read_json(&dir.join("summary_lifecycle_metrics.json"))
            .ok()
            .map(|s| {
                let latency = &s["successes"]["latency"];
                Summary {
                    ttft: curve(latency, "time_to_first_token"),
                    itl: curve(latency, "inter_token_latency"),
                }
            })
            .filter(|s| !s.ttft.is_empty() || !s.itl.is_empty());
        let timeline = read_json(&dir.join("timeline.json"))
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ok(RunDir {
            scenario: verdicts["scenario"]
                .as_str()
                .unwrap_or("scenario")
                .to_string(),
            verdicts,
            checks,
            stages,
            closed_loop,
            knee,
            summary,
            timeline,
        })
    }

    /// The x axis of per-stage plots.
    pub fn load_unit(&self) -> &'static str {
        if self.closed_loop {
            "concurrency (requests in flight)"
        } else {
            "requested rate (req/s)"
        }
    }

    pub fn load_unit_short(&self) -> &'static str {
        if self.closed_loop { " conc" } else { " req/s" }
    }

    /// Seconds from the run's start at which each stage began.
    pub fn stage_starts(&self) -> Vec<f64> {
        self.verdicts["stage_offsets"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }
}

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

fn cell(v: Option<f64>) -> String {
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
    let run = RunDir::load(dir)?;
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
    let status = v["status"].as_str().unwrap_or("unknown");
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
    for (label, key) in [
        ("target", "target"),
        ("model", "model"),
        ("server", "server_version"),
        ("config hash", "config_hash"),
        ("infergate", "infergate_version"),
        ("elapsed (s)", "elapsed_seconds"),
        ("started", "started_at_unix"),
        ("note", "shortened"),
    ] {
        let value = match &v[key] {
            Value::Number(n) if key == "started_at_unix" => utc(n.as_f64().unwrap_or(0.0)),
            Value::Number(n) if key == "elapsed_seconds" => {
                format!("{:.1}", n.as_f64().unwrap_or(0.0))
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        let _ = write!(out, "<tr><th>{label}</th><td>{}</td></tr>", escape(&value));
    }
    if v["simulated"] == true {
        out.push_str("<tr><th>target kind</th><td>embedded simulator</td></tr>");
    }
    out.push_str("</table><h2>Verdicts</h2><table><tr><th>check</th><th>kind</th><th>observed</th><th>verdict</th><th>detail</th></tr>");
    // The `regression` block's statistics have their own table below ("Compared with the baseline").
    for c in run
        .checks
        .iter()
        .filter(|c| !(c.kind == "regression" && c.name.starts_with("regression:")))
    {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.kind),
            escape(c.observed.as_deref().unwrap_or("")),
            escape(&c.message),
            v = escape(&c.verdict),
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
    server_table(&mut out, run);
    if let Some(k) = &run.knee {
        let _ = write!(
            out,
            "<p><b>Knee:</b> latency leaves its plateau after {} {unit}; recommended operating point about {} {unit} (25 % below, seed 004's advice).</p>",
            k.load,
            k.recommended,
            unit = run.load_unit_short().trim()
        );
    }
    baseline_table(&mut out, &v["baseline"]);
    if let Some(probes) = v["sweep"]["probes"].as_array() {
        out.push_str("<h2>Sweep probes</h2><table><tr><th>rate req/s</th><th>completed req/s</th><th>TTFT p90</th><th>errors</th><th>verdict</th></tr>");
        for p in probes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{:.1}</td><td>{}</td><td>{:.1} %</td><td>{}</td></tr>",
                p["rate"],
                p["completed_rate"].as_f64().unwrap_or(0.0),
                cell(p["ttft_p90_ms"].as_f64()),
                p["error_rate"].as_f64().unwrap_or(0.0) * 100.0,
                escape(p["saturated"].as_str().unwrap_or("good")),
            );
        }
        out.push_str("</table>");
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
    if let Some(warnings) = v["warnings"].as_array().filter(|w| !w.is_empty()) {
        out.push_str("<h2>Warnings</h2><ul>");
        for w in warnings {
            let _ = write!(out, "<li>{}</li>", escape(w.as_str().unwrap_or_default()));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

/// The comparison with the baseline (`verdicts.json`'s `baseline`), when there was one.
fn baseline_table(out: &mut String, b: &Value) {
    if b.is_null() {
        return;
    }
    let _ = write!(
        out,
        "<h2>Compared with the baseline</h2><p>Baseline <code>{}</code>{}</p>",
        escape(b["location"].as_str().unwrap_or_default()),
        b["about"]
            .as_str()
            .map(|a| format!(", {}", escape(a)))
            .unwrap_or_default()
    );
    let problem = &b["problem"];
    if !problem.is_null() {
        let text = match problem["kind"].as_str().unwrap_or_default() {
            "missing" => "No baseline saved for this scenario yet; nothing compared.".to_string(),
            "not_configured" => {
                "No baseline location was given; relative thresholds were not checked.".to_string()
            }
            kind => format!(
                "Not compared ({kind}): {}",
                problem["message"].as_str().unwrap_or_default()
            ),
        };
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(&text));
    }
    let Some(rows) = b["rows"].as_array().filter(|r| !r.is_empty()) else {
        return;
    };
    out.push_str("<table><tr><th>scope</th><th>statistic</th><th>this run</th><th>interval</th><th>baseline</th><th>interval</th><th>change</th><th>allowed</th><th>verdict</th></tr>");
    let ms = |v: &Value| {
        v.as_f64()
            .map_or("n/a".to_string(), |us| format!("{:.2}", us / 1e3))
    };
    for r in rows {
        let interval = |i: &Value| match (i["low"].as_f64(), i["high"].as_f64()) {
            (Some(lo), Some(hi)) => format!("{:.2} – {:.2} ms", lo / 1e3, hi / 1e3),
            _ => escape(i["unavailable"].as_str().unwrap_or("n/a")),
        };
        let latency = r["statistic"]
            .as_str()
            .is_some_and(|s| s.contains(" p(") || s.contains(" med") || s.contains(" avg"));
        let value = |v: &Value| {
            if latency {
                ms(v) + " ms"
            } else {
                v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.4}"))
            }
        };
        let change = r["change"].as_str().unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(r["scope"].as_str().unwrap_or_default()),
            escape(r["statistic"].as_str().unwrap_or_default()),
            value(&r["current_value"]),
            if latency {
                interval(&r["current"])
            } else {
                String::new()
            },
            value(&r["baseline_value"]),
            if latency {
                interval(&r["baseline"])
            } else {
                String::new()
            },
            r["delta"]
                .as_f64()
                .map_or("n/a".to_string(), |d| format!("{:+.1}%", d * 100.0)),
            escape(r["allowed"].as_str().unwrap_or_default()),
            match change {
                "regressed" => "failed",
                "inconclusive" => "note",
                _ => "passed",
            },
            escape(&change.replace('_', " ")),
        );
    }
    out.push_str("</table>");
}

/// Server-side metrics per stage, the engine's TTFT beside the client's.
fn server_table(out: &mut String, run: &RunDir) {
    if run.stages.iter().all(|s| s.server.is_null()) {
        return;
    }
    out.push_str("<h2>Server-side metrics</h2><p class=\"note\">Scraped from the engine's /metrics during each stage; TTFT as the engine measured it, the client's in brackets.</p><table><tr><th>stage</th><th>engine</th><th>TTFT p50</th><th>TTFT p99</th><th>prefill / request</th><th>running avg / max</th><th>waiting avg / max</th><th>KV cache avg / max</th><th>generated tok/s</th></tr>");
    for s in &run.stages {
        let m = &s.server;
        let ms = |v: Option<f64>| cell(v.map(|secs| secs * 1e3));
        let gauge = |name: &str, percent: bool| {
            let g = &m["gauges"][name];
            let show = |v: Option<f64>| match v {
                None => "-".to_string(),
                Some(v) if percent => format!("{:.0}%", v * 100.0),
                Some(v) => format!("{v:.1}"),
            };
            format!("{} / {}", show(g["avg"].as_f64()), show(g["max"].as_f64()))
        };
        let engines = m["engines"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .unwrap_or_default();
        let ttft = &m["histograms"]["ttft"];
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.index,
            escape(&engines),
            ms(ttft["median"].as_f64()),
            cell(s.ttft[0]),
            ms(ttft["p99"].as_f64()),
            cell(s.ttft[2]),
            ms(m["prefill_seconds_per_request"].as_f64()),
            gauge("num_requests_running", false),
            gauge("num_requests_waiting", false),
            gauge("kv_cache_usage", true),
            m["throughput"]["generation_tokens_per_sec"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.0}")),
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
