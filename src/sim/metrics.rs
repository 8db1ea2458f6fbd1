//! The simulator's `GET /metrics`, in vLLM's names, so that server-side scraping, its per-stage
//! summaries and `server.*` thresholds run against the embedded simulator as they would against vLLM:
//! `vllm:num_requests_running` and `_waiting` from the engine's batch and queue,
//! `vllm:kv_cache_usage_perc` as the batch's occupancy (running / max_batch, the simulator's stand-in
//! for KV-cache pressure), TTFT and e2e histograms measured where chunks are handed to the HTTP stack,
//! the prompt and generation token counters, and `vllm:request_success_total` (requests whose last
//! token was handed over).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// vLLM's TTFT bucket bounds (seconds).
const TTFT_BOUNDS: [f64; 19] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0,
];
/// vLLM's e2e latency bucket bounds (seconds).
const E2E_BOUNDS: [f64; 20] = [
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0,
];

struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    fn observe(&mut self, seconds: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, model: &str) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count;
            let le = self
                .bounds
                .get(i)
                .map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{le}\",model_name=\"{model}\"}} {cumulative}"
            );
        }
        let _ = writeln!(out, "{name}_sum{{model_name=\"{model}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{model_name=\"{model}\"}} {cumulative}");
    }
}

/// Counters and gauges shared by the engine and the HTTP handlers.
pub struct Exported {
    max_batch: u64,
    running: AtomicU64,
    waiting: AtomicU64,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    succeeded: AtomicU64,
    ttft: Mutex<Histogram>,
    e2e: Mutex<Histogram>,
}

impl Exported {
    pub fn new(max_batch: usize) -> Exported {
        Exported {
            max_batch: max_batch.max(1) as u64,
            running: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            generation_tokens: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            ttft: Mutex::new(Histogram::new(&TTFT_BOUNDS)),
            e2e: Mutex::new(Histogram::new(&E2E_BOUNDS)),
        }
    }

    /// The engine's batch and queue after a step.
    pub fn set_load(&self, running: usize, waiting: usize) {
        self.running.store(running as u64, Ordering::Relaxed);
        self.waiting.store(waiting as u64, Ordering::Relaxed);
    }

    pub fn add_prompt_tokens(&self, n: u32) {
        self.prompt_tokens.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn first_token(&self, after: Duration) {
        self.generation_tokens.fetch_add(1, Ordering::Relaxed);
        lock(&self.ttft).observe(after.as_secs_f64());
    }

    pub fn next_token(&self) {
        self.generation_tokens.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self, after: Duration) {
        self.succeeded.fetch_add(1, Ordering::Relaxed);
        lock(&self.e2e).observe(after.as_secs_f64());
    }

    /// The exposition text.
    pub fn render(&self, model: &str) -> String {
        let mut out = String::new();
        let running = self.running.load(Ordering::Relaxed);
        let gauge = |out: &mut String, name: &str, value: f64| {
            let _ = writeln!(
                out,
                "# TYPE {name} gauge\n{name}{{model_name=\"{model}\"}} {value}"
            );
        };
        gauge(&mut out, "vllm:num_requests_running", running as f64);
        gauge(
            &mut out,
            "vllm:num_requests_waiting",
            self.waiting.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "vllm:kv_cache_usage_perc",
            running as f64 / self.max_batch as f64,
        );
        for (name, counter) in [
            ("vllm:prompt_tokens_total", &self.prompt_tokens),
            ("vllm:generation_tokens_total", &self.generation_tokens),
            ("vllm:request_success_total", &self.succeeded),
        ] {
            let _ = writeln!(
                out,
                "# TYPE {name} counter\n{name}{{model_name=\"{model}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        lock(&self.ttft).render(&mut out, "vllm:time_to_first_token_seconds", model);
        lock(&self.e2e).render(&mut out, "vllm:e2e_request_latency_seconds", model);
        out
    }
}

fn lock(h: &Mutex<Histogram>) -> std::sync::MutexGuard<'_, Histogram> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}
