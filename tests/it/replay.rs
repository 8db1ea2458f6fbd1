//! Agentic session replay (`otel_trace_replay` with `trace_session_replay` stages), against real
//! servers on 127.0.0.1: a recorded tool-calling agent (a tool call, two parallel branches and a
//! fan-in, `tests/fixtures/replay/agent.json`) sends its calls in dependency order with the live
//! model's answers and tool-call ids in later calls; a failed call cancels what depends on it and
//! nothing else; the simulator replays it to a verdict with its reports; hub datasets download once;
//! bad configurations are refused by key, and a filter is never evaluated as code.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use infergate::plan::replay;
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::{DataSource, Scenario};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::openai_mock::serving;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay")
}

fn scenario(body: &str) -> Scenario {
    let yaml = format!(
        "api: {{type: chat, streaming: false}}\nserver: {{model_name: m}}\nload:\n  type: trace_session_replay\n  stages: [{{concurrent_sessions: 1}}]\ndata:\n  type: otel_trace_replay\n  otel_trace_replay:\n{body}"
    );
    Scenario::from_source(&fixtures().join("scenario.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{e}"))
}

const AGENT: &str = "    trace_files: [agent.json]\n    use_static_model: true\n    static_model_name: m\n    max_wait_ms: 50\n";

/// Answers like a model: a tool call with live ids when one is forced, else text naming the last
/// user message; `fail` answers 500 to the call whose last message contains it.
pub(crate) struct Model {
    calls: AtomicU32,
    fail: Option<&'static str>,
    order: Mutex<Vec<String>>,
}

/// The mock's handle on a `Model` the test keeps too.
struct Answering(&'static Model);

impl Respond for Answering {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.answer(request)
    }
}

impl Model {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let last = body["messages"].as_array().unwrap().last().unwrap();
        let said = last["content"].as_str().unwrap_or("").to_string();
        self.order.lock().unwrap().push(said.clone());
        if self.fail.is_some_and(|f| said.contains(f)) {
            return ResponseTemplate::new(500).set_body_string("engine error");
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let message = match body.get("tool_choice") {
            Some(_) => {
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("live_{n}"),
                "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Lisbon\"}"}}]})
            }
            None => json!({"role": "assistant", "content": format!("LIVE answer to <{said}>")}),
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"choices": [{"index": 0, "message": message}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3}}))
    }
}

pub(crate) async fn model(fail: Option<&'static str>) -> (MockServer, &'static Model) {
    let server = serving(&["m"]).await;
    let model: &'static Model = Box::leak(Box::new(Model {
        calls: AtomicU32::new(0),
        fail,
        order: Mutex::new(Vec::new()),
    }));
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Answering(model))
        .mount(&server)
        .await;
    (server, model)
}

pub(crate) async fn bodies(server: &MockServer) -> Vec<Value> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap() {
        if r.url.path() == "/v1/chat/completions" {
            out.push(serde_json::from_slice(&r.body).unwrap());
        }
    }
    out
}

fn last_user(body: &Value) -> String {
    body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn live_answers_and_tool_call_ids_flow_into_the_calls_that_depend_on_them() {
    let _turn = crate::support::turn().await;
    let (server, model) = model(None).await;
    let s = scenario(AGENT);
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(
        (run.total.ok, run.total.scheduled, run.total.cancelled),
        (4, 4, 0)
    );
    let bodies = bodies(&server).await;
    let by_last = |text: &str| {
        bodies
            .iter()
            .find(|b| last_user(b).contains(text))
            .unwrap_or_else(|| panic!("no call ending {text}"))
    };
    // The plan call was recorded as a call of get_weather: it is forced, with room to make it.
    let plan = by_last("Plan a day");
    assert_eq!(
        plan["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(plan["tools"][0]["function"]["name"], "get_weather");
    assert!(plan["max_tokens"].as_u64().unwrap() >= 4096);
    assert_eq!(plan["model"], "m");
    // The weather call sends the live tool call, and its result points at the live id.
    let weather = bodies
        .iter()
        .find(|b| b["messages"].as_array().unwrap().len() == 4)
        .unwrap();
    assert_eq!(weather["messages"][2]["tool_calls"][0]["id"], "live_0");
    assert_eq!(
        weather["messages"][3],
        json!({"role": "tool", "tool_call_id": "live_0", "content": "22C and sunny"})
    );
    // The fan-in sends both branches' live answers where the recording had theirs.
    let fin = by_last("Write the plan");
    assert_eq!(
        fin["messages"][2]["content"],
        "LIVE answer to <22C and sunny>"
    );
    assert_eq!(
        fin["messages"][3]["content"],
        "LIVE answer to <Name one museum in Lisbon.>"
    );
    let order = model.order.lock().unwrap().clone();
    assert_eq!(
        order.first().map(String::as_str),
        Some("Plan a day in Lisbon: the weather and a museum.")
    );
    assert_eq!(
        order.last().map(String::as_str),
        Some("Write the plan."),
        "the fan-in goes after both branches"
    );
    let record = &run.total.replay.sessions[0];
    assert!(record.success, "{record:?}");
    assert_eq!(
        (record.events, record.completed, record.cancelled),
        (4, 4, 0)
    );
    assert_eq!(
        record.critical_path.first().map(String::as_str),
        Some("event_000_plan")
    );
    assert_eq!(
        record.critical_path.last().map(String::as_str),
        Some("event_003_final")
    );
    assert_eq!(record.input_tokens, 40, "the server's usage, summed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_call_cancels_the_calls_that_depend_on_it_and_only_those() {
    let _turn = crate::support::turn().await;
    let (server, _) = model(Some("22C and sunny")).await;
    let s = scenario(AGENT);
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    // plan and museum succeed; weather fails; the fan-in is never sent.
    assert_eq!(run.total.ok, 2);
    assert_eq!(run.total.failed(), 1);
    assert_eq!((run.total.cancelled, run.total.scheduled), (1, 4));
    let sent: Vec<String> = bodies(&server).await.iter().map(last_user).collect();
    assert!(!sent.iter().any(|s| s == "Write the plan."), "{sent:?}");
    assert!(
        sent.iter().any(|s| s.contains("museum")),
        "the parallel branch still runs"
    );
    let record = &run.total.replay.sessions[0];
    assert!(!record.success);
    assert_eq!(
        (record.completed, record.failed, record.cancelled),
        (2, 1, 1)
    );
    assert!(
        record.error.as_deref().unwrap().contains("HTTP 500"),
        "{record:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn recorded_outputs_are_sent_as_they_are_when_substitution_is_off() {
    let _turn = crate::support::turn().await;
    let (server, _) = model(None).await;
    let s = scenario(&format!(
        "{AGENT}    disable_output_substitution: true\n    attribute_to_header_map: {{tenant.id: x-tenant}}\n"
    ));
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    run_scenario(&s, &options).await.unwrap();
    let received = server.received_requests().await.unwrap();
    let chats: Vec<_> = received
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .collect();
    assert_eq!(chats.len(), 4);
    assert!(
        chats
            .iter()
            .all(|r| r.headers.get("x-tenant").is_some_and(|v| v == "acme"))
    );
    let fin: Value = chats
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|b| last_user(b) == "Write the plan.")
        .unwrap();
    assert_eq!(fin["messages"][2]["content"], "It will be sunny, 22C.");
}

#[test]
fn the_simulator_replays_a_tool_calling_session_to_a_verdict_with_its_session_reports() {
    let _turn = crate::support::turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yaml");
    let yaml = format!(
        "api: {{type: chat, streaming: true}}\nload:\n  type: trace_session_replay\n  stages:\n    - {{concurrent_sessions: 2, num_sessions: 2}}\n    - {{concurrent_sessions: 0}}\ndata:\n  type: otel_trace_replay\n  otel_trace_replay:\n    trace_directory: {}\n    use_static_model: true\n    static_model_name: infergate-sim\n    include_errors: false\n    skip_invalid_files: true\n    duplicate_sessions_target: 3\nthresholds:\n  error_rate: [rate < 0.01]\n{}",
        fixtures().display(),
        crate::support::LOOSE_VALIDITY
    );
    std::fs::write(&file, yaml).unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_infergate"))
        .args(["run", file.to_str().unwrap(), "--sim", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("result: PASSED"), "{stdout}");
    let reports = out.join("agent");
    let per: Vec<Value> = serde_json::from_slice(
        &std::fs::read(reports.join("per_session_lifecycle_metrics.json")).unwrap(),
    )
    .unwrap();
    // 2 traces (agent, and chain without its error span) padded to 3: stage 0 replays 2, stage 1 the last.
    assert_eq!(per.len(), 3, "{per:?}");
    assert_eq!(
        per.iter()
            .filter(|p| p["session_id"].as_str().unwrap().ends_with("_dup1"))
            .count(),
        1
    );
    assert!(per.iter().all(|p| p["success"] == true), "{per:?}");
    let summary: Value = serde_json::from_slice(
        &std::fs::read(reports.join("summary_session_lifecycle_metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["num_sessions"], 3);
    assert_eq!(summary["total_events_cancelled"], 0);
    let stage1: Value = serde_json::from_slice(
        &std::fs::read(reports.join("stage_1_session_lifecycle_metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stage1["num_sessions"], 1);
    assert!(
        stdout.contains("sessions: 3 sessions, 3 succeeded"),
        "{stdout}"
    );
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("session replay: left out") && said.contains("broken.json"),
        "{said}"
    );
}

/// The corpus `s` replays, from the hub at `hub` cached in `cache` (`simulated`: nothing downloaded).
pub(crate) async fn corpus(
    s: &Scenario,
    hub: &str,
    cache: &Path,
    simulated: bool,
) -> Result<replay::Corpus, String> {
    let DataSource::Replay(r) = &s.data.source else {
        panic!("not a replay scenario")
    };
    let tokens = infergate::plan::tokens::TokenCounter::builtin();
    replay::load(r, &tokens, 42, simulated, hub, cache).await
}

#[tokio::test(flavor = "current_thread")]
async fn a_hub_dataset_downloads_once_and_the_filter_keeps_its_records() {
    let hub = MockServer::start().await;
    let repo = "o/agent-traces";
    let trace: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("chain.json")).unwrap()).unwrap();
    let mut small = trace.clone();
    small["max_tokens"] = json!(100);
    small["benchmark"] = json!("keep");
    let mut big = trace;
    big["max_tokens"] = json!(50_000);
    let lines = format!("{small}\n{big}\n");
    Mock::given(method("GET"))
        .and(path(format!("/api/datasets/{repo}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"siblings": [{"rfilename": "README.md"}, {"rfilename": "data/train.jsonl"}]}),
        ))
        .expect(1)
        .mount(&hub)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/datasets/{repo}/resolve/main/data/train.jsonl"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_string(lines))
        .expect(1)
        .mount(&hub)
        .await;
    let s = scenario(&format!(
        "    hf_dataset_path: {repo}\n    filter: \"lambda x: x.get('max_tokens', 0) < 28000 and x['benchmark'] == 'keep'\"\n"
    ));
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let corpus = corpus(&s, &hub.uri(), cache.path(), false).await.unwrap();
        assert_eq!((corpus.sessions.len(), corpus.filtered), (1, 1));
        assert_eq!(corpus.sessions[0].events.len(), 3);
    }
    let empty = tempfile::tempdir().unwrap();
    let offline = corpus(&s, &hub.uri(), empty.path(), true)
        .await
        .unwrap_err();
    assert!(
        offline.contains("not downloaded for a run against the simulator"),
        "{offline}"
    );
}

fn error_of(body: &str) -> String {
    let yaml = format!(
        "api: {{type: chat}}\nload:\n  type: trace_session_replay\n  stages: [{{concurrent_sessions: 1}}]\ndata:\n  type: otel_trace_replay\n  otel_trace_replay:\n{body}"
    );
    Scenario::from_source(Path::new("suites/replay.yaml"), &yaml)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_replay_configurations_are_refused_by_key_and_filters_are_never_run_as_code() {
    for (body, says) in [
        (
            "    trace_files: [a.json]\n    filter: \"lambda x: __import__('os').system('id')\"\n",
            "otel_trace_replay.filter: `__import__` is not in the filter subset",
        ),
        (
            "    trace_files: [a.json]\n    trace_directory: t\n",
            "give one trace source",
        ),
        ("    default_max_tokens: 5\n", "needs a trace source"),
        (
            "    trace_files: [a.json]\n    use_static_model: true\n",
            "static_model_name: is required when use_static_model is true",
        ),
        (
            "    trace_files: [a.json]\n    disable_output_substitution: true\n    duplicate_sessions_target: 5\n",
            "cannot be combined with duplicate_sessions_target",
        ),
        (
            "    trace_files: [a.json]\n    bad_tool_call_handling: retry\n",
            "unknown variant `retry`",
        ),
        (
            "    trace_files: [a.json]\n    max_wait_msec: 5\n",
            "unknown field `max_wait_msec`",
        ),
        (
            "    hf_dataset_path: {path: o/d, streaming: true}\n",
            "`streaming`: infergate reads path, revision and split",
        ),
    ] {
        let e = error_of(body);
        assert!(e.contains(says), "{body}: {e}");
        assert!(
            e.contains("suites/replay.yaml:"),
            "names the file and line: {e}"
        );
    }
    let wrong_load = Scenario::from_source(
        Path::new("x.yaml"),
        "data:\n  type: otel_trace_replay\n  otel_trace_replay: {trace_files: [a.json]}\nload:\n  stages: [{rate: 1, duration: 1}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        wrong_load.contains("replayed by `load.type: trace_session_replay`"),
        "{wrong_load}"
    );
    let wrong_stage = Scenario::from_source(
        Path::new("x.yaml"),
        "data:\n  type: otel_trace_replay\n  otel_trace_replay: {trace_files: [a.json]}\nload:\n  type: trace_session_replay\n  stages: [{rate: 1, duration: 1}]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        wrong_stage.contains("take concurrent_sessions, num_sessions and session_rate"),
        "{wrong_stage}"
    );
}
