//! What the simulator itself measured: server-side time to first token (of any kind), to the first
//! answer token (after any reasoning) and inter-token gaps, taken where each chunk is handed to the
//! HTTP stack. `GET /infergate/timings` returns their percentiles
//! (`?reset=true` also clears them), so `infergate bench` can compare the client's numbers with the
//! truth instead of with the configured values, which the server's own timer only approximates.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Server-side timing histograms, in microseconds.
pub struct Truth {
    inner: Mutex<Histograms>,
}

struct Histograms {
    ttft: Histogram<u64>,
    ttfo: Histogram<u64>,
    itl: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid")
}

/// Percentiles of one server-side metric, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// The body of `GET /infergate/timings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub ttft: Percentiles,
    /// To the first answer (not reasoning) token: `ttft` when the simulator does not reason.
    #[serde(default)]
    pub ttfo: Percentiles,
    pub itl: Percentiles,
}

impl Default for Truth {
    fn default() -> Self {
        Truth {
            inner: Mutex::new(Histograms {
                ttft: histogram(),
                ttfo: histogram(),
                itl: histogram(),
            }),
        }
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    Percentiles {
        count: h.len(),
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
    }
}

impl Truth {
    fn lock(&self) -> std::sync::MutexGuard<'_, Histograms> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_ttft(&self, d: Duration) {
        self.lock().ttft.saturating_record(micros(d));
    }

    pub fn record_ttfo(&self, d: Duration) {
        self.lock().ttfo.saturating_record(micros(d));
    }

    pub fn record_itl(&self, d: Duration) {
        self.lock().itl.saturating_record(micros(d));
    }

    /// The percentiles so far; with `reset`, starts over afterwards.
    pub fn timings(&self, reset: bool) -> Timings {
        let mut h = self.lock();
        let timings = Timings {
            ttft: percentiles(&h.ttft),
            ttfo: percentiles(&h.ttfo),
            itl: percentiles(&h.itl),
        };
        if reset {
            h.ttft.reset();
            h.ttfo.reset();
            h.itl.reset();
        }
        timings
    }
}
