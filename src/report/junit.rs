//! JUnit XML for CI pages: one `<testsuite>` per scenario file, one `<testcase>` per check, so a CI page
//! shows which SLO broke. A missed threshold is a `<failure>`; a runner that could not keep up, or a
//! scenario that could not run, is an `<error>`. Messages carry the observed value and the limit.

use junit_report::{Duration, Report, TestCase, TestSuite};

use crate::gate::{ScenarioOutcome, Verdict};
use crate::report::table;

/// Renders the JUnit document for a set of scenario outcomes.
pub fn render(outcomes: &[ScenarioOutcome]) -> String {
    let mut report = Report::new();
    for outcome in outcomes {
        report.add_testsuite(suite(outcome));
    }
    let mut out = Vec::new();
    report
        .write_xml(&mut out)
        .expect("writing XML to memory cannot fail");
    String::from_utf8(out).expect("junit-report writes UTF-8")
}

fn suite(outcome: &ScenarioOutcome) -> TestSuite {
    let name = outcome.scenario();
    let mut suite = TestSuite::new(name);
    match outcome {
        ScenarioOutcome::Error { message, .. } => {
            let mut case = TestCase::error("run", Duration::ZERO, "run_error", message);
            case.set_classname(name);
            suite.add_testcase(case);
        }
        ScenarioOutcome::Judged { run, gate } => {
            let elapsed = Duration::try_from(run.elapsed).unwrap_or(Duration::ZERO);
            let mut case = TestCase::success("run", elapsed);
            case.set_classname(name);
            case.set_system_out(&table::render(run, gate));
            suite.add_testcase(case);
            for check in &gate.checks {
                let mut case = match check.verdict {
                    Verdict::Pass => TestCase::success(&check.name, Duration::ZERO),
                    Verdict::Fail => {
                        TestCase::failure(&check.name, Duration::ZERO, "threshold", &check.message)
                    }
                    Verdict::Invalid => TestCase::error(
                        &check.name,
                        Duration::ZERO,
                        "runner_invalid",
                        &check.message,
                    ),
                };
                case.set_classname(name);
                if check.verdict == Verdict::Pass {
                    case.set_system_out(&check.message);
                }
                suite.add_testcase(case);
            }
        }
    }
    suite
}
