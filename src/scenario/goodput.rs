//! `report.goodput`: inference-perf's per-request SLOs. A request is *good* when it succeeded and met
//! every constraint given (seconds, on `ttft`, `tpot`, `itl`, `ntpot`, `request_latency`):
//!
//! ```yaml
//! report:
//!   goodput:
//!     constraints: {ttft: 0.5, tpot: 0.05}
//! ```
//!
//! Validated here into microsecond limits; the recorder judges each request as it finishes.

use std::collections::BTreeMap;

use super::ScenarioError;
use super::locate::Step;
use super::raw::RawScenario;
use super::validate::Checker;

/// One per-request figure a constraint may limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slo {
    Ttft,
    Tpot,
    /// The mean of the request's own inter-token gaps (inference-perf's per-request ITL).
    Itl,
    Ntpot,
    RequestLatency,
}

impl Slo {
    pub const ALL: [Slo; 5] = [
        Slo::Ttft,
        Slo::Tpot,
        Slo::Itl,
        Slo::Ntpot,
        Slo::RequestLatency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Slo::Ttft => "ttft",
            Slo::Tpot => "tpot",
            Slo::Itl => "itl",
            Slo::Ntpot => "ntpot",
            Slo::RequestLatency => "request_latency",
        }
    }

    /// Its place in `Goodput::limits` and in the recorder's counts.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The validated constraints: `limits[slo.index()]` in microseconds, `None` when not constrained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Goodput {
    pub limits: [Option<u64>; 5],
}

impl Goodput {
    /// The constrained figures and their limits (µs), in `Slo::ALL` order.
    pub fn constraints(&self) -> impl Iterator<Item = (Slo, u64)> + '_ {
        Slo::ALL
            .into_iter()
            .filter_map(|s| self.limits[s.index()].map(|l| (s, l)))
    }

    /// `ttft ≤ 0.5s, tpot ≤ 0.05s`, for people.
    pub fn describe(&self) -> String {
        self.constraints()
            .map(|(s, l)| format!("{} ≤ {}s", s.name(), l as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `report.goodput`, when it gives at least one constraint.
pub(super) fn check(c: &Checker<'_>, raw: &RawScenario) -> Result<Option<Goodput>, ScenarioError> {
    let Some(goodput) = raw.report.as_ref().and_then(|r| r.goodput.as_ref()) else {
        return Ok(None);
    };
    let empty = BTreeMap::new();
    let constraints = goodput.constraints.as_ref().unwrap_or(&empty);
    let mut out = Goodput::default();
    for (name, seconds) in constraints {
        let here = [
            Step::Key("report"),
            Step::Key("goodput"),
            Step::Key("constraints"),
            Step::Key(name.as_str()),
        ];
        let allowed = Slo::ALL.map(Slo::name).join(", ");
        let slo = Slo::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                c.error(
                    &here,
                    format!("unknown constraint `{name}`; allowed: {allowed}"),
                )
            })?;
        if !(seconds.is_finite() && *seconds > 0.0) {
            return Err(c.error(&here, "give a limit in seconds above 0, e.g. 0.5"));
        }
        out.limits[slo.index()] = Some((seconds * 1e6).round().max(1.0) as u64);
    }
    Ok((out.constraints().count() > 0).then_some(out))
}
