//! `load`: arrivals, stages, the sweep, warm-up, timeouts, concurrency limits and the seed.

use std::time::Duration;

use super::Checker;
use super::{DEFAULT_IDLE_TIMEOUT, DEFAULT_SEED};
use crate::scenario::locate::Step;
use crate::scenario::raw::{LoadType, RawScenario, RawStage, RawSweep, SweepType};
use crate::scenario::{Arrival, Load, Lora, ScenarioError, Stage, Sweep, Warmup};

fn check_sweep(
    c: &mut Checker<'_>,
    raw: &RawSweep,
    arrival: Arrival,
    has_stages: bool,
) -> Result<Sweep, ScenarioError> {
    let at = |key| [Step::Key("load"), Step::Key("sweep"), Step::Key(key)];
    if arrival == Arrival::Concurrent {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("sweep")],
            "a sweep ramps a rate: use it with `type: constant` or `type: poisson`",
        ));
    }
    if has_stages {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("sweep")],
            "give either `stages` or `sweep` (a sweep generates its stages)",
        ));
    }
    if raw.num_requests.is_some() || raw.timeout.is_some() || raw.saturation_percentile.is_some() {
        c.warn(
            &[Step::Key("load"), Step::Key("sweep")],
            "num_requests, timeout and saturation_percentile are ignored: infergate finds saturation \
             with a stepped ramp (start_rate, doubling, probe_duration each)",
        );
    }
    let positive = |key: &'static str, v: f64| {
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(c.error(&at(key), format!("must be a positive number, got {v}")))
        }
    };
    let sweep = Sweep {
        geometric: raw.kind == SweepType::Geometric,
        num_stages: raw.num_stages,
        stage_duration: Duration::from_secs_f64(positive("stage_duration", raw.stage_duration)?),
        start_rate: positive("start_rate", raw.start_rate.unwrap_or(1.0))?,
        max_rate: positive("max_rate", raw.max_rate.unwrap_or(10_000.0))?,
        probe_duration: Duration::from_secs_f64(positive(
            "probe_duration",
            raw.probe_duration.unwrap_or(5.0),
        )?),
    };
    if !(1..=50).contains(&sweep.num_stages) {
        return Err(c.error(&at("num_stages"), "must be between 1 and 50"));
    }
    if sweep.max_rate < sweep.start_rate {
        return Err(c.error(&at("max_rate"), "must be at least start_rate"));
    }
    Ok(sweep)
}

pub(super) fn check_load(c: &mut Checker<'_>, raw: &RawScenario) -> Result<Load, ScenarioError> {
    let load = &raw.load;
    let arrival = match load.kind {
        LoadType::Constant => Arrival::Constant,
        LoadType::Poisson => Arrival::Poisson,
        LoadType::Concurrent => Arrival::Concurrent,
        LoadType::TraceReplay => Arrival::Trace,
        LoadType::TraceSessionReplay => Arrival::Sessions,
    };
    if arrival == Arrival::Sessions && (load.sweep.is_some() || load.capacity.is_some()) {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("type")],
            "a trace_session_replay load runs the sessions its stages name: give `stages`, not a sweep or capacity search",
        ));
    }
    let sweep = match &load.sweep {
        Some(raw_sweep) => Some(check_sweep(c, raw_sweep, arrival, !load.stages.is_empty())?),
        None => None,
    };
    if arrival == Arrival::Trace && load.sweep.is_some() {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("sweep")],
            "a trace_replay load takes its arrivals from the trace: give `stages`, not `sweep`",
        ));
    }
    let trace = match (&load.trace, arrival) {
        (Some(t), Arrival::Trace) => Some(super::data::resolve_relative(c.path, &t.file)),
        (None, Arrival::Trace) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("type")],
                "`type: trace_replay` needs `load.trace: {file, format: AzurePublicDataset}`",
            ));
        }
        (Some(_), _) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("trace")],
                "only used with `type: trace_replay`",
            ));
        }
        (None, _) => None,
    };
    let lora = match &load.lora_traffic_split {
        Some(split) => Some(lora(c, raw, split)?),
        None => None,
    };
    for (key, present) in [(
        "request_retries",
        load.request_retries.is_some_and(|n| n > 0),
    )] {
        if present {
            return Err(c.unsupported(&[Step::Key("load"), Step::Key(key)], key));
        }
    }
    for (key, present, why) in [
        (
            "worker_max_tcp_connections",
            load.worker_max_tcp_connections.is_some(),
            "ignored: connections are pooled and opened as needed",
        ),
        (
            "request_retry_backoff_sec",
            load.request_retry_backoff_sec.is_some(),
            "ignored: infergate never retries a request",
        ),
        (
            "stage_teardown_grace_seconds",
            load.stage_teardown_grace_seconds.is_some(),
            "ignored: a stage waits for every request it sent (bounded by load.request_timeout)",
        ),
    ] {
        if present {
            c.warn(&[Step::Key("load"), Step::Key(key)], why);
        }
    }
    if load.stages.is_empty() && sweep.is_none() && load.capacity.is_none() {
        return Err(c.error(
            &[Step::Key("load")],
            "`load.stages` needs at least one stage",
        ));
    }
    let stages = load
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| check_stage(c, arrival, i, s))
        .collect::<Result<Vec<_>, _>>()?;
    if !(load.interval >= 0.0 && load.interval.is_finite()) {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("interval")],
            "must be 0 or more seconds",
        ));
    }
    let seconds = |key: &'static str, value: Option<f64>| match value {
        None => Ok(None),
        Some(t) if t > 0.0 && t.is_finite() => Ok(Some(Duration::from_secs_f64(t))),
        Some(_) => Err(c.error(
            &[Step::Key("load"), Step::Key(key)],
            "must be more than 0 seconds",
        )),
    };
    let request_timeout = seconds("request_timeout", load.request_timeout)?;
    let burstiness = match (load.burstiness, arrival) {
        (None, _) => 1.0,
        (Some(b), Arrival::Poisson) if b > 0.0 && b.is_finite() => b,
        (Some(_), Arrival::Poisson) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("burstiness")],
                "must be more than 0",
            ));
        }
        (Some(_), _) => {
            return Err(c.error(
                &[Step::Key("load"), Step::Key("burstiness")],
                "applies to `load.type: poisson` only",
            ));
        }
    };
    let idle_timeout = seconds("idle_timeout", load.idle_timeout)?.unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let workers = load
        .num_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    if workers == 0 || load.worker_max_concurrency == 0 {
        return Err(c.error(
            &[Step::Key("load"), Step::Key("worker_max_concurrency")],
            "num_workers and worker_max_concurrency must be at least 1",
        ));
    }
    let warmup = match &load.warmup {
        None => None,
        Some(w) => {
            let at = [Step::Key("load"), Step::Key("warmup")];
            match (w.requests, w.duration) {
                (Some(n), None) if n > 0 => Some(Warmup::Requests(n)),
                (None, Some(s)) if s > 0.0 && s.is_finite() && arrival != Arrival::Concurrent => {
                    Some(Warmup::Duration(Duration::from_secs_f64(s)))
                }
                (None, Some(_)) if arrival == Arrival::Concurrent => {
                    return Err(c.error(
                        &at,
                        "a concurrent load warms up by `requests`, not `duration`",
                    ));
                }
                _ => {
                    return Err(c.error(
                        &at,
                        "give one of `requests: N` (N >= 1) or `duration: S` (S > 0)",
                    ));
                }
            }
        }
    };
    Ok(Load {
        arrival,
        burstiness,
        warmup,
        stages,
        sweep,
        interval: Duration::from_secs_f64(load.interval),
        request_timeout,
        idle_timeout,
        max_in_flight: workers as usize * load.worker_max_concurrency as usize,
        threads: load.num_workers.unwrap_or(1),
        seed: load.base_seed.unwrap_or(DEFAULT_SEED),
        circuit_breakers: super::breakers::check(c, raw)?,
        trace,
        lora,
    })
}

/// `load.lora_traffic_split`: adapters with shares that add up to 1, as inference-perf requires.
fn lora(
    c: &Checker<'_>,
    raw: &RawScenario,
    split: &[crate::scenario::raw::RawLoraSplit],
) -> Result<Lora, ScenarioError> {
    let at = [Step::Key("load"), Step::Key("lora_traffic_split")];
    if split.is_empty() {
        return Err(c.error(&at, "needs at least one adapter"));
    }
    for (i, a) in split.iter().enumerate() {
        let here = [at[0], at[1], Step::Item(i)];
        if a.name.is_empty() || split[..i].iter().any(|b| b.name == a.name) {
            return Err(c.error(
                &here,
                format!("adapter names must be set and unique (`{}`)", a.name),
            ));
        }
        if !(a.split.is_finite() && (0.0..=1.0).contains(&a.split)) {
            return Err(c.error(&here, "a split is a share between 0.0 and 1.0"));
        }
    }
    let total: f64 = split.iter().map(|a| a.split).sum();
    if (total - 1.0).abs() > 1e-9 {
        return Err(c.error(&at, format!("the splits add up to {total}, not 1.0")));
    }
    let lifecycle = raw
        .report
        .as_ref()
        .and_then(|r| r.request_lifecycle.as_ref());
    Ok(Lora {
        adapters: split.iter().map(|a| (a.name.clone(), a.split)).collect(),
        per_adapter: lifecycle.and_then(|l| l.per_adapter).unwrap_or(true),
        per_adapter_stage: lifecycle.and_then(|l| l.per_adapter_stage).unwrap_or(false),
    })
}

fn check_stage(
    c: &Checker<'_>,
    arrival: Arrival,
    i: usize,
    s: &RawStage,
) -> Result<Stage, ScenarioError> {
    let at = |field: &'static str| {
        [
            Step::Key("load"),
            Step::Key("stages"),
            Step::Item(i),
            Step::Key(field),
        ]
    };
    let here = [Step::Key("load"), Step::Key("stages"), Step::Item(i)];
    if s.timeout.is_some() {
        return Err(c.unsupported(&at("timeout"), "timeout"));
    }
    if arrival != Arrival::Sessions {
        for (key, present) in [
            ("concurrent_sessions", s.concurrent_sessions.is_some()),
            ("session_rate", s.session_rate.is_some()),
            ("num_sessions", s.num_sessions.is_some()),
        ] {
            if present {
                return Err(c.error(
                    &at(key),
                    "belongs to `load.type: trace_session_replay` stages",
                ));
            }
        }
    }
    match arrival {
        Arrival::Sessions => sessions_stage(c, &at, &here, s),
        // A trace's stages keep inference-perf's `{rate, duration}`: the trace gives the arrivals,
        // `duration` ends the stage.
        Arrival::Constant | Arrival::Poisson | Arrival::Trace => {
            if s.num_requests.is_some() || s.concurrency_level.is_some() {
                return Err(c.error(
                    &here,
                    "num_requests and concurrency_level belong to `load.type: concurrent`; constant and poisson stages take rate and duration",
                ));
            }
            let rate = s
                .rate
                .ok_or_else(|| c.error(&here, "missing `rate` (requests per second)"))?;
            let duration = s
                .duration
                .ok_or_else(|| c.error(&here, "missing `duration` (seconds)"))?;
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(c.error(&at("rate"), "must be more than 0 requests per second"));
            }
            if !(duration > 0.0 && duration.is_finite()) {
                return Err(c.error(&at("duration"), "must be more than 0 seconds"));
            }
            Ok(Stage::Rate {
                rate,
                duration: Duration::from_secs_f64(duration),
            })
        }
        Arrival::Concurrent => {
            if s.rate.is_some() || s.duration.is_some() {
                return Err(c.error(
                    &here,
                    "rate and duration belong to constant and poisson loads; concurrent stages take num_requests and concurrency_level",
                ));
            }
            let num_requests = s
                .num_requests
                .ok_or_else(|| c.error(&here, "missing `num_requests`"))?;
            let concurrency = s
                .concurrency_level
                .ok_or_else(|| c.error(&here, "missing `concurrency_level`"))?;
            if num_requests == 0 {
                return Err(c.error(&at("num_requests"), "must be at least 1"));
            }
            if concurrency == 0 {
                return Err(c.error(&at("concurrency_level"), "must be at least 1"));
            }
            Ok(Stage::Concurrency {
                num_requests,
                concurrency,
            })
        }
    }
}

/// A `trace_session_replay` stage: `concurrent_sessions` (0: no limit), and optionally
/// `num_sessions` and `session_rate`.
/// `at(field)` and `here` place the stage's keys, as in `check_stage`.
fn sessions_stage<'a>(
    c: &Checker<'_>,
    at: &dyn Fn(&'static str) -> [Step<'a>; 4],
    here: &[Step<'a>],
    s: &RawStage,
) -> Result<Stage, ScenarioError> {
    if s.rate.is_some()
        || s.duration.is_some()
        || s.num_requests.is_some()
        || s.concurrency_level.is_some()
    {
        return Err(c.error(
            here,
            "trace_session_replay stages take concurrent_sessions, num_sessions and session_rate, not rate, duration, num_requests or concurrency_level",
        ));
    }
    let whole = |key: &'static str, v: &serde_yaml::Value| {
        v.as_u64()
            .ok_or_else(|| c.error(&at(key), "must be a whole number, 0 or more"))
    };
    let concurrent = match &s.concurrent_sessions {
        Some(v) => whole("concurrent_sessions", v)?,
        None => {
            return Err(c.error(
                here,
                "missing `concurrent_sessions` (0 runs every session at once)",
            ));
        }
    };
    let concurrent = u32::try_from(concurrent)
        .map_err(|_| c.error(&at("concurrent_sessions"), "is too large"))?;
    let sessions = match &s.num_sessions {
        None => None,
        Some(v) => match whole("num_sessions", v)? {
            0 => {
                return Err(c.error(
                    &at("num_sessions"),
                    "must be at least 1 (omit it for every session left)",
                ));
            }
            n => Some(n),
        },
    };
    let rate = match &s.session_rate {
        None => None,
        Some(v) => match v.as_f64() {
            Some(r) if r > 0.0 && r.is_finite() => Some(r),
            _ => {
                return Err(c.error(
                    &at("session_rate"),
                    "must be more than 0 sessions per second",
                ));
            }
        },
    };
    if let Some(r) = rate
        && concurrent > 0
        && r > f64::from(concurrent)
    {
        return Err(c.error(
            &at("session_rate"),
            format!("{r} cannot exceed concurrent_sessions ({concurrent}): sessions cannot start faster than the concurrency allows (as inference-perf requires)"),
        ));
    }
    Ok(Stage::Sessions {
        concurrent,
        sessions,
        rate,
    })
}
