//! genai-perf's export, from a run's per-request records (`per_request_lifecycle_metrics.json`), so
//! that what reads genai-perf's files reads infergate's: `<stem>_genai_perf.json` (each request
//! metric `{unit, avg, p1 ... p99, min, max, std}`, each system metric `{unit, avg}`, then
//! `input_config`), `<stem>_genai_perf.csv` (genai-perf's two tables), and its console table.
//!
//! The definitions are genai-perf's (`llm_profile_data_parser.py`), over the successful requests:
//! request latency from send to the last byte; time to first token, and for streams, to the second;
//! inter-token latency per request, `(latency - ttft) / (output tokens - 1)` (infergate's TPOT);
//! output throughput per user its inverse; throughputs over the span from the first send to the last
//! response. Without streaming, time to first token is the request latency (the one response), and
//! the streaming-only metrics are left out of the table and the CSV, as genai-perf does. Percentiles
//! interpolate linearly between ranks and `std` is the population's, as numpy's defaults do.
//!
//! A reasoning model's run adds AIPerf's two reasoning metrics (genai-perf has none):
//! `time_to_first_output_token`, to the first answer token (a stream's only; a request without
//! reasoning counts its TTFT), and `reasoning_token_count`. Like AIPerf, `output_sequence_length` and
//! the inter-token latency count every generated token, reasoning included.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One successful request, in genai-perf's units (milliseconds, tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub start: f64,
    pub end: f64,
    pub latency_ms: f64,
    pub ttft_ms: f64,
    /// Time to the first answer token (streams): `ttft_ms` when the response had no reasoning.
    pub ttfo_ms: Option<f64>,
    /// Reasoning tokens, when the response carried reasoning.
    pub reasoning_tokens: Option<f64>,
    /// Streams with two content chunks or more.
    pub ttst_ms: Option<f64>,
    /// Streams with more than one chunk and one output token.
    pub itl_ms: Option<f64>,
    pub input_tokens: f64,
    pub output_tokens: f64,
    /// Milliseconds between successive content chunks (streams).
    pub gaps_ms: Vec<f64>,
}

/// A record as `run::records` writes it; every field optional, only successes are used.
#[derive(Debug, Deserialize)]
struct Record {
    outcome: Option<String>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    prompt_tokens: Option<f64>,
    output_tokens: Option<f64>,
    ttft: Option<f64>,
    ttfo: Option<f64>,
    reasoning_tokens: Option<f64>,
    request_latency: Option<f64>,
    chunk_gaps: Option<Vec<f64>>,
}

/// The successful requests of a records file. `streaming` says whether first-token times are
/// chunk times (else the whole response's).
pub fn read_requests(path: &Path, streaming: bool) -> Result<Vec<Request>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let records: Vec<Record> = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a per-request records file: {e}", path.display()))?;
    Ok(records
        .into_iter()
        .filter_map(|r| request(r, streaming))
        .collect())
}

fn request(r: Record, streaming: bool) -> Option<Request> {
    if r.outcome.as_deref() != Some("ok") {
        return None;
    }
    let ms = 1e3;
    let latency_ms = r.request_latency? * ms;
    let gaps_ms: Vec<f64> = r
        .chunk_gaps
        .unwrap_or_default()
        .iter()
        .map(|g| g * ms)
        .collect();
    let ttft_ms = match r.ttft {
        Some(ttft) if streaming => ttft * ms,
        _ => latency_ms,
    };
    let output_tokens = r.output_tokens.unwrap_or(0.0);
    let chunked = streaming && !gaps_ms.is_empty();
    Some(Request {
        start: r.start_time?,
        end: r.end_time?,
        latency_ms,
        ttft_ms,
        ttfo_ms: streaming.then(|| r.ttfo.map_or(ttft_ms, |t| t * ms)),
        reasoning_tokens: r.reasoning_tokens,
        ttst_ms: gaps_ms.first().copied().filter(|_| chunked),
        itl_ms: (chunked && output_tokens > 1.0)
            .then(|| (latency_ms - ttft_ms) / (output_tokens - 1.0)),
        input_tokens: r.prompt_tokens.unwrap_or(0.0),
        output_tokens,
        gaps_ms,
    })
}

/// genai-perf's goodput metrics: the first three are upper bounds in milliseconds, the last a lower
/// bound in tokens per second.
pub const GOODPUT_KEYS: [&str; 4] = [
    "time_to_first_token",
    "inter_token_latency",
    "request_latency",
    "output_token_throughput_per_user",
];

/// How many requests met every constraint (`GOODPUT_KEYS` with their limits); a request without
/// the figure (no inter-token latency of a one-token answer) does not.
pub fn good_requests(requests: &[Request], constraints: &[(String, f64)]) -> usize {
    let meets = |r: &Request, key: &str, limit: f64| match key {
        "time_to_first_token" => r.ttft_ms <= limit,
        "inter_token_latency" => r.itl_ms.is_some_and(|itl| itl <= limit),
        "request_latency" => r.latency_ms <= limit,
        _ => r.itl_ms.is_some_and(|itl| 1e3 / itl >= limit),
    };
    requests
        .iter()
        .filter(|r| constraints.iter().all(|(key, limit)| meets(r, key, *limit)))
        .count()
}

/// A request metric's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub unit: String,
    pub avg: f64,
    pub p1: f64,
    pub p5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
}

/// A system metric: one value over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct System {
    pub unit: String,
    pub avg: f64,
}

/// `profile_export_genai_perf.json`, in genai-perf's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    pub request_throughput: System,
    pub request_latency: Stats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_goodput: Option<System>,
    pub request_count: System,
    pub time_to_first_token: Stats,
    /// AIPerf's, for a reasoning model's run only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_output_token: Option<Stats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_second_token: Option<Stats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_token_latency: Option<Stats>,
    pub output_token_throughput: System,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_token_throughput_per_user: Option<Stats>,
    pub output_sequence_length: Stats,
    pub input_sequence_length: Stats,
    /// AIPerf's, for a reasoning model's run only: reasoning tokens per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_token_count: Option<Stats>,
    /// What was asked for: the command's flags, and infergate's scenario.
    pub input_config: serde_json::Value,
}

/// genai-perf's statistics of `values`; `None` when there are none.
pub fn stats(values: &[f64], unit: &str) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let avg = sorted.iter().sum::<f64>() / n;
    let at = |p: f64| {
        let rank = p / 100.0 * (n - 1.0);
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
    };
    Some(Stats {
        unit: unit.to_string(),
        avg,
        p1: at(1.0),
        p5: at(5.0),
        p10: at(10.0),
        p25: at(25.0),
        p50: at(50.0),
        p75: at(75.0),
        p90: at(90.0),
        p95: at(95.0),
        p99: at(99.0),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        std: (sorted.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n).sqrt(),
    })
}

/// The export of `requests`; `good` is how many met the goodput constraints, when given. `None`
/// when no request succeeded.
pub fn export(
    requests: &[Request],
    good: Option<usize>,
    input_config: serde_json::Value,
) -> Option<Export> {
    let first = requests
        .iter()
        .map(|r| r.start)
        .fold(f64::INFINITY, f64::min);
    let last = requests
        .iter()
        .map(|r| r.end)
        .fold(f64::NEG_INFINITY, f64::max);
    let seconds = (last - first).max(f64::MIN_POSITIVE);
    let of = |f: fn(&Request) -> Option<f64>, unit: &str| {
        stats(&requests.iter().filter_map(f).collect::<Vec<_>>(), unit)
    };
    let per_second = |count: f64, unit: &str| System {
        unit: unit.to_string(),
        avg: count / seconds,
    };
    let output: f64 = requests.iter().map(|r| r.output_tokens).sum();
    let reasoning = requests.iter().any(|r| r.reasoning_tokens.is_some());
    Some(Export {
        request_throughput: per_second(requests.len() as f64, "requests/sec"),
        request_latency: of(|r| Some(r.latency_ms), "ms")?,
        request_goodput: good.map(|g| per_second(g as f64, "requests/sec")),
        request_count: System {
            unit: "count".to_string(),
            avg: requests.len() as f64,
        },
        time_to_first_token: of(|r| Some(r.ttft_ms), "ms")?,
        time_to_first_output_token: of(|r| r.ttfo_ms, "ms").filter(|_| reasoning),
        time_to_second_token: of(|r| r.ttst_ms, "ms"),
        inter_token_latency: of(|r| r.itl_ms, "ms"),
        output_token_throughput: per_second(output, "tokens/sec"),
        output_token_throughput_per_user: of(|r| r.itl_ms.map(|itl| 1e3 / itl), "tokens/sec/user"),
        output_sequence_length: of(|r| Some(r.output_tokens), "tokens")?,
        input_sequence_length: of(|r| Some(r.input_tokens), "tokens")?,
        reasoning_token_count: of(|r| Some(r.reasoning_tokens.unwrap_or(0.0)), "tokens")
            .filter(|_| reasoning),
        input_config,
    })
}

/// A request metric's row: its name, unit and statistics (`None`: genai-perf's `N/A`).
type Row<'a> = (&'static str, &'static str, Option<&'a Stats>);

impl Export {
    /// The request metrics in genai-perf's order; streams' own only when `streaming`.
    fn request_rows(&self, streaming: bool) -> Vec<Row<'_>> {
        let mut rows: Vec<Row<'_>> = Vec::new();
        if streaming {
            rows.push(("time_to_first_token", "ms", Some(&self.time_to_first_token)));
            if let Some(ttfo) = &self.time_to_first_output_token {
                rows.push(("time_to_first_output_token", "ms", Some(ttfo)));
            }
            rows.push((
                "time_to_second_token",
                "ms",
                self.time_to_second_token.as_ref(),
            ));
        }
        rows.push(("request_latency", "ms", Some(&self.request_latency)));
        if streaming {
            rows.push((
                "inter_token_latency",
                "ms",
                self.inter_token_latency.as_ref(),
            ));
            let per_user = self.output_token_throughput_per_user.as_ref();
            rows.push((
                "output_token_throughput_per_user",
                "tokens/sec/user",
                per_user,
            ));
        }
        rows.push((
            "output_sequence_length",
            "tokens",
            Some(&self.output_sequence_length),
        ));
        rows.push((
            "input_sequence_length",
            "tokens",
            Some(&self.input_sequence_length),
        ));
        if let Some(reasoning) = &self.reasoning_token_count {
            rows.push(("reasoning_token_count", "tokens", Some(reasoning)));
        }
        rows
    }

    /// The system metrics in genai-perf's order (goodput only when asked for).
    fn system_rows(&self) -> Vec<(&'static str, &'static str, f64)> {
        let mut rows = vec![
            (
                "output_token_throughput",
                "tokens/sec",
                self.output_token_throughput.avg,
            ),
            ("request_throughput", "per sec", self.request_throughput.avg),
        ];
        if let Some(g) = &self.request_goodput {
            rows.push(("request_goodput", "per sec", g.avg));
        }
        rows.push(("request_count", "count", self.request_count.avg));
        rows
    }

    /// `<stem>_genai_perf.csv`: genai-perf's request table, a blank line, its system table.
    pub fn csv(&self, streaming: bool) -> String {
        const HEAD: &str = "Metric,avg,min,max,p99,p95,p90,p75,p50,p25,p10,p5,p1";
        let mut out = format!("{HEAD}\r\n");
        for (name, unit, s) in self.request_rows(streaming) {
            let values = s.map_or_else(
                || vec!["N/A".to_string(); 12],
                |s| {
                    [
                        s.avg, s.min, s.max, s.p99, s.p95, s.p90, s.p75, s.p50, s.p25, s.p10, s.p5,
                        s.p1,
                    ]
                    .iter()
                    .map(|v| csv_field(&number(*v)))
                    .collect()
                },
            );
            out += &format!(
                "{},{}\r\n",
                csv_field(&metric_name(name, unit)),
                values.join(",")
            );
        }
        out += "\r\nMetric,Value\r\n";
        for (name, unit, value) in self.system_rows() {
            out += &format!(
                "{},{}\r\n",
                csv_field(&metric_name(name, unit)),
                csv_field(&number(value))
            );
        }
        out
    }

    /// genai-perf's console table (`NVIDIA GenAI-Perf | LLM Metrics`), drawn as rich draws it.
    pub fn table(&self, streaming: bool) -> String {
        let mut rows: Vec<Vec<String>> = vec![
            ["Statistic", "avg", "min", "max", "p99", "p90", "p75"]
                .map(String::from)
                .to_vec(),
        ];
        for (name, unit, s) in self.request_rows(streaming) {
            let mut row = vec![metric_name(name, unit)];
            row.extend(s.map_or_else(
                || vec!["N/A".to_string(); 6],
                |s| {
                    [s.avg, s.min, s.max, s.p99, s.p90, s.p75]
                        .iter()
                        .map(|v| number(*v))
                        .collect()
                },
            ));
            rows.push(row);
        }
        for (name, unit, value) in self.system_rows() {
            let mut row = vec![metric_name(name, unit), number(value)];
            row.extend(std::iter::repeat_n("N/A".to_string(), 5));
            rows.push(row);
        }
        draw_table("NVIDIA GenAI-Perf | LLM Metrics", &rows)
    }
}

/// A table with a heavy header, light body and right-aligned cells.
fn draw_table(title: &str, rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0) + 2)
        .collect();
    let line = |left: &str, fill: &str, mid: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| fill.repeat(*w)).collect();
        format!("{left}{}{right}\n", parts.join(mid))
    };
    let cells = |row: &[String], bar: &str| {
        let parts: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:>width$} ", width = w - 1))
            .collect();
        format!("{bar}{}{bar}\n", parts.join(bar))
    };
    let total: usize = widths.iter().sum::<usize>() + widths.len() + 1;
    let pad = total.saturating_sub(title.chars().count()) / 2;
    let mut out = format!("{}{title}\n", " ".repeat(pad));
    out += &line("┏", "━", "┳", "┓");
    out += &cells(&rows[0], "┃");
    out += &line("┡", "━", "╇", "┩");
    for row in &rows[1..] {
        out += &cells(row, "│");
    }
    out += &line("└", "─", "┴", "┘");
    out
}

/// `time_to_first_token` as genai-perf titles it: `Time To First Token (ms)`.
pub fn metric_name(name: &str, unit: &str) -> String {
    let words: Vec<String> = name
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect()
            })
        })
        .collect();
    format!("{} ({unit})", words.join(" "))
}

/// `1234.5` as `1,234.50`.
pub fn number(v: f64) -> String {
    let text = format!("{:.2}", v.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if v < 0.0 && text != "0.00" { "-" } else { "" };
    format!("{sign}{grouped}.{fraction}")
}

/// A CSV field, quoted when it holds a comma or a quote (Python's csv module's minimal quoting).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests;
