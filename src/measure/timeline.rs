//! A stage's time series: once a second (as requests finish), how many requests were in flight, how
//! many finished per second and their mean TTFT and e2e latency. It feeds the over-time plot; one
//! point per second keeps it small even for hour-long stages.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long each point covers.
const STEP: Duration = Duration::from_secs(1);

/// One second of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds from the stage start to the end of this window.
    pub t: f64,
    pub in_flight: u64,
    pub completed_per_s: f64,
    pub ttft_avg_ms: Option<f64>,
    pub e2e_avg_ms: Option<f64>,
}

/// Collects points for one stage.
#[derive(Debug, Clone)]
pub struct Timeline {
    started: Instant,
    window_start: Instant,
    completed: u64,
    ttft_sum_us: u64,
    ttft_n: u64,
    e2e_sum_us: u64,
    e2e_n: u64,
    pub points: Vec<Point>,
}

impl Timeline {
    pub fn new(started: Instant) -> Timeline {
        Timeline {
            started,
            window_start: started,
            completed: 0,
            ttft_sum_us: 0,
            ttft_n: 0,
            e2e_sum_us: 0,
            e2e_n: 0,
            points: Vec::new(),
        }
    }

    /// Notes one finished request (its TTFT and e2e when it succeeded), then closes the window if a
    /// second has passed, with `in_flight` requests still running.
    pub fn finished(&mut self, ttft: Option<Duration>, e2e: Option<Duration>, in_flight: u64) {
        self.completed += 1;
        if let Some(t) = ttft {
            self.ttft_sum_us += t.as_micros() as u64;
            self.ttft_n += 1;
        }
        if let Some(t) = e2e {
            self.e2e_sum_us += t.as_micros() as u64;
            self.e2e_n += 1;
        }
        let now = Instant::now();
        let width = now.saturating_duration_since(self.window_start);
        if width >= STEP {
            let avg = |sum: u64, n: u64| (n > 0).then(|| sum as f64 / n as f64 / 1e3);
            self.points.push(Point {
                t: now.saturating_duration_since(self.started).as_secs_f64(),
                in_flight,
                completed_per_s: self.completed as f64 / width.as_secs_f64(),
                ttft_avg_ms: avg(self.ttft_sum_us, self.ttft_n),
                e2e_avg_ms: avg(self.e2e_sum_us, self.e2e_n),
            });
            *self = Timeline {
                points: std::mem::take(&mut self.points),
                ..Timeline::new(self.started)
            };
            self.window_start = now;
        }
    }
}

/// One timeline from several shards' timelines of the same stage: points are grouped by the whole
/// second they end in; in-flight counts and completion rates add up, and the mean TTFT and e2e are
/// weighted by each shard's completions in that second.
pub fn merge<'a>(parts: impl IntoIterator<Item = &'a [Point]>) -> Vec<Point> {
    #[derive(Default)]
    struct Second {
        in_flight: u64,
        completed_per_s: f64,
        ttft: (f64, f64),
        e2e: (f64, f64),
    }
    let mut seconds: std::collections::BTreeMap<u64, Second> = Default::default();
    for point in parts.into_iter().flatten() {
        let s = seconds.entry(point.t.round().max(1.0) as u64).or_default();
        s.in_flight += point.in_flight;
        s.completed_per_s += point.completed_per_s;
        let w = point.completed_per_s;
        if let Some(v) = point.ttft_avg_ms {
            s.ttft = (s.ttft.0 + v * w, s.ttft.1 + w);
        }
        if let Some(v) = point.e2e_avg_ms {
            s.e2e = (s.e2e.0 + v * w, s.e2e.1 + w);
        }
    }
    let mean = |(sum, weight): (f64, f64)| (weight > 0.0).then(|| sum / weight);
    seconds
        .into_iter()
        .map(|(t, s)| Point {
            t: t as f64,
            in_flight: s.in_flight,
            completed_per_s: s.completed_per_s,
            ttft_avg_ms: mean(s.ttft),
            e2e_avg_ms: mean(s.e2e),
        })
        .collect()
}
