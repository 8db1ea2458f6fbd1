//! `circuit_breakers` and `load.circuit_breakers`: inference-perf's named breakers, their match
//! expressions (the safe subset `scenario::breaker` parses) and triggers, and the ones the load uses.

use std::time::Duration;

use super::Checker;
use crate::scenario::ScenarioError;
use crate::scenario::breaker::{Breaker, Expr, FORMS, Trigger};
use crate::scenario::locate::Step;
use crate::scenario::raw::{RawScenario, RawTrigger};

/// The breakers `load.circuit_breakers` names, in its order.
pub(super) fn check(c: &Checker<'_>, raw: &RawScenario) -> Result<Vec<Breaker>, ScenarioError> {
    let mut defined = Vec::new();
    for (i, b) in raw.circuit_breakers.iter().flatten().enumerate() {
        let at = |rest: &[Step<'static>]| {
            let mut path = vec![Step::Key("circuit_breakers"), Step::Item(i)];
            path.extend_from_slice(rest);
            path
        };
        if defined.iter().any(|d: &Breaker| d.name == b.name) {
            return Err(c.error(
                &at(&[Step::Key("name")]),
                format!("`{}` is defined twice", b.name),
            ));
        }
        let exprs = |key: &'static str, texts: &[String]| {
            texts
                .iter()
                .enumerate()
                .map(|(j, text)| {
                    Expr::parse(text).map_err(|e| {
                        c.error(
                            &at(&[Step::Key("metrics"), Step::Key(key), Step::Item(j)]),
                            format!("`{text}`: {e}; infergate reads these forms: {FORMS}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if b.metrics.matches.is_empty() {
            return Err(c.error(
                &at(&[Step::Key("metrics"), Step::Key("matches")]),
                "needs at least one expression",
            ));
        }
        let matches = exprs("matches", &b.metrics.matches)?;
        let rules = exprs("rules", &b.metrics.rules)?;
        let mut triggers = Vec::new();
        for (j, t) in b.triggers.iter().enumerate() {
            let here = at(&[Step::Key("triggers"), Step::Item(j)]);
            triggers.push(match *t {
                RawTrigger::Consecutive { threshold: 0 } => {
                    return Err(c.error(&here, "a consecutive threshold is at least 1"));
                }
                RawTrigger::Consecutive { threshold } => Trigger::Consecutive(threshold),
                RawTrigger::RateOverWindow { window_sec, .. }
                    if !window_sec.is_finite() || window_sec <= 0.0 =>
                {
                    return Err(c.error(&here, "window_sec must be more than 0"));
                }
                RawTrigger::RateOverWindow { threshold, .. }
                    if !(0.0..=1.0).contains(&threshold) =>
                {
                    return Err(c.error(&here, "a rate threshold is between 0.0 and 1.0"));
                }
                RawTrigger::RateOverWindow {
                    window_sec,
                    threshold,
                    min_samples,
                } => Trigger::RateOverWindow {
                    window: Duration::from_secs_f64(window_sec),
                    threshold,
                    min_samples,
                },
            });
        }
        if triggers.is_empty() {
            return Err(c.error(&at(&[Step::Key("triggers")]), "needs at least one trigger"));
        }
        defined.push(Breaker {
            name: b.name.clone(),
            matches,
            rules,
            triggers,
        });
    }
    let mut used = Vec::new();
    for (i, name) in raw.load.circuit_breakers.iter().flatten().enumerate() {
        let Some(b) = defined.iter().find(|b| &b.name == name) else {
            let known: Vec<&str> = defined.iter().map(|b| b.name.as_str()).collect();
            return Err(c.error(
                &[
                    Step::Key("load"),
                    Step::Key("circuit_breakers"),
                    Step::Item(i),
                ],
                format!("no breaker named `{name}` under `circuit_breakers` (defined: {known:?})"),
            ));
        };
        used.push(b.clone());
    }
    Ok(used)
}
