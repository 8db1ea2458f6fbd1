//! What a run prints while a stage runs. On a terminal: a live line per stage (indicatif) with elapsed
//! and planned time or requests, sent/ok/failed, the achieved rate, requests in flight and TTFT
//! p50/p99 so far, redrawn as requests finish. Elsewhere (CI logs): a line every `PROGRESS_EVERY`
//! for long stages and one line per finished stage.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::measure::recorder::Recorder;
use crate::plan::{PlannedStage, StageLoad};
use crate::scenario::threshold::format_micros;
use crate::scenario::{Aggregation, Metric};

/// How often a long stage prints a progress line when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Progress output for one stage.
pub struct StageProgress {
    enabled: bool,
    scenario: String,
    stage: PlannedStage,
    count: usize,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl StageProgress {
    /// `enabled: false` prints nothing at all.
    pub fn start(
        enabled: bool,
        scenario: &str,
        stage: &PlannedStage,
        count: usize,
    ) -> StageProgress {
        let live = enabled && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let length = match stage.load {
                StageLoad::Open { duration, .. } => duration.as_secs().max(1),
                StageLoad::Closed { num_requests, .. } => num_requests,
                StageLoad::Sessions { count, .. } => count.unwrap_or(0),
            };
            let bar =
                ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr_with_hz(4));
            let unit = match stage.load {
                StageLoad::Open { .. } => "s",
                StageLoad::Closed { .. } => " req",
                StageLoad::Sessions { .. } => " sessions",
            };
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix}} [{{bar:24}}] {{pos}}/{{len}}{unit} {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!(
                "[{scenario}] stage {}/{count} {}",
                stage.index + 1,
                stage.describe()
            ));
            bar
        });
        StageProgress {
            enabled,
            scenario: scenario.to_string(),
            stage: stage.clone(),
            count,
            started: Instant::now(),
            last_line: Instant::now(),
            bar,
        }
    }

    /// Shows the stage so far (called as requests finish, at most every 250 ms).
    pub fn update(&mut self, r: &Recorder) {
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            let position = match self.stage.load {
                StageLoad::Open { .. } => elapsed.as_secs(),
                StageLoad::Closed { .. } => r.accounted(),
                StageLoad::Sessions { .. } => r.replay.sessions.len() as u64,
            };
            bar.set_position(position);
            bar.set_message(live_message(r, elapsed));
        } else if self.last_line.elapsed() >= PROGRESS_EVERY {
            self.last_line = Instant::now();
            eprintln!("{}", progress_line(&self.scenario, &self.stage, elapsed, r));
        }
    }

    /// Replaces the live line with the stage's summary line.
    pub fn finish(self, r: &Recorder) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.enabled {
            eprintln!("{}", stage_line(&self.scenario, &self.stage, self.count, r));
        }
    }
}

fn p(r: &Recorder, metric: Metric, q: f64) -> String {
    r.value(metric, Aggregation::Percentile(q))
        .map_or("n/a".into(), format_micros)
}

fn live_message(r: &Recorder, elapsed: Duration) -> String {
    let finished = r.ok + r.failed() + r.timed_out;
    // Open loop: `scheduled` counts launches; closed loop adds its total at the end.
    let in_flight = r.scheduled.saturating_sub(finished);
    let rate = r.sent() as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "{} sent, {} ok, {} failed | {rate:.1} req/s | {} in flight | ttft p50 {} p99 {}",
        r.sent(),
        r.ok,
        r.failed() + r.timed_out,
        if r.scheduled > 0 {
            in_flight.to_string()
        } else {
            "-".into()
        },
        p(r, Metric::Ttft, 50.0),
        p(r, Metric::Ttft, 99.0),
    )
}

/// One line of progress for a stage under way (printed every `PROGRESS_EVERY`, so CI logs stay short).
fn progress_line(scenario: &str, stage: &PlannedStage, elapsed: Duration, r: &Recorder) -> String {
    let planned = match stage.load {
        StageLoad::Open { duration, .. } => format!(
            "{:.0}s of {:.0}s",
            elapsed.as_secs_f64(),
            duration.as_secs_f64()
        ),
        StageLoad::Closed { num_requests, .. } => {
            format!("{} of {num_requests} requests done", r.accounted())
        }
        StageLoad::Sessions { count, .. } => format!(
            "{} of {} sessions done",
            r.replay.sessions.len(),
            count.unwrap_or(0)
        ),
    };
    format!(
        "[{scenario}] stage {} running ({planned}): {} done, {} ok, {} failed, {} timed out; ttft p99 so far {}",
        stage.index + 1,
        r.accounted(),
        r.ok,
        r.failed(),
        r.timed_out,
        p(r, Metric::Ttft, 99.0),
    )
}

/// One line for a finished stage.
fn stage_line(scenario: &str, stage: &PlannedStage, count: usize, r: &Recorder) -> String {
    let sessions = match r.replay.is_empty() {
        true => String::new(),
        false => format!("; {}", r.replay.summary()),
    };
    format!(
        "[{scenario}] stage {}/{count} ({}): {} sent, {} ok, {} failed, {} timed out in {:.1}s; ttft p99 {}, schedule delay p99 {}{sessions}",
        stage.index + 1,
        stage.describe(),
        r.sent(),
        r.ok,
        r.failed(),
        r.timed_out,
        r.active.as_secs_f64(),
        p(r, Metric::Ttft, 99.0),
        p(r, Metric::ScheduleDelay, 99.0),
    )
}
