//! inference-perf's data and api options load unchanged, with its meanings: every length
//! distribution, `shared_prefix` with its aliases, `conversation_replay`, `response_format` and the
//! session headers; and what is wrong in them is named by line and key.

use std::path::Path;

use infergate::scenario::{DataSource, LengthDistribution, Scenario};

fn error_of(source: &str) -> String {
    Scenario::from_source(Path::new("suites/bad.yaml"), source)
        .unwrap_err()
        .to_string()
}

#[test]
fn inference_perfs_other_length_distributions_load_with_its_meanings() {
    let source = "data:
  type: random
  input_distribution: {type: lognormal, mean: 300, std_dev: 150, min: 20, max: 2000}
  output_distribution: {type: skew_normal, mean: 200, std_dev: 50, skew: 2.5, min: 10, max: 600}
load:
  stages: [{rate: 1, duration: 1}]
";
    let s = Scenario::from_source(Path::new("suites/x.yaml"), source).unwrap();
    assert_eq!(
        s.data.input,
        LengthDistribution::LogNormal {
            mean: 300.0,
            std_dev: 150.0,
            min: 20,
            max: 2000
        }
    );
    assert_eq!(
        s.data.output,
        LengthDistribution::SkewNormal {
            mean: 200.0,
            std_dev: 50.0,
            skew: 2.5,
            min: 10,
            max: 600
        }
    );
    let poisson = source.replace(
        "{type: skew_normal, mean: 200, std_dev: 50, skew: 2.5, min: 10, max: 600}",
        "{type: poisson, mean: 0, min: 1, max: 64}",
    );
    let s = Scenario::from_source(Path::new("suites/x.yaml"), &poisson).unwrap();
    assert_eq!(
        s.data.output,
        LengthDistribution::Poisson {
            mean: 1.0,
            min: 1,
            max: 64
        },
        "inference-perf's rate 1 for a mean that is not positive"
    );
    let e = error_of(&source.replace("type: lognormal, mean: 300", "type: lognormal, mean: 0"));
    assert!(e.starts_with("suites/bad.yaml:3:"), "{e}");
    assert!(
        e.contains("data.input_distribution.mean: a lognormal distribution needs mean > 0"),
        "{e}"
    );
}

#[test]
fn shared_prefix_takes_inference_perfs_aliases_seed_and_length_distributions() {
    // inference-perf's examples/vllm/config-shared-prefix-distributions.yml, data section.
    let source = "data:
  type: shared_prefix
  shared_prefix:
    seed: 42
    num_unique_system_prompts: 10
    num_users_per_system_prompt: 10
    system_prompt_len: 100
    question_len: {type: skew_normal, mean: 200, std_dev: 80, skew: 2.5, min: 10, max: 2000}
    output_len: {type: lognormal, mean: 150, std_dev: 60, min: 1, max: 4096}
load:
  stages: [{rate: 1, duration: 1}]
";
    let s = Scenario::from_source(Path::new("suites/x.yaml"), source).unwrap();
    let DataSource::SharedPrefix(p) = s.data.source else {
        panic!("{:?}", s.data.source)
    };
    assert_eq!(
        (p.num_groups, p.num_prompts_per_group, p.seed),
        (10, 10, Some(42))
    );
    assert_eq!(p.system_prompt_len, LengthDistribution::Fixed(100));
    assert_eq!(
        p.question_len,
        LengthDistribution::SkewNormal {
            mean: 200.0,
            std_dev: 80.0,
            skew: 2.5,
            min: 10,
            max: 2000
        }
    );
    assert_eq!(
        p.output_len,
        LengthDistribution::LogNormal {
            mean: 150.0,
            std_dev: 60.0,
            min: 1,
            max: 4096
        }
    );

    // The legacy form: a number with `output_distribution` beside it takes the distribution.
    let legacy = source.replace(
        "output_len: {type: lognormal, mean: 150, std_dev: 60, min: 1, max: 4096}",
        "output_len: 50\n    output_distribution: {type: poisson, mean: 30, min: 1, max: 99}",
    );
    let s = Scenario::from_source(Path::new("suites/x.yaml"), &legacy).unwrap();
    let DataSource::SharedPrefix(p) = s.data.source else {
        panic!()
    };
    assert_eq!(
        p.output_len,
        LengthDistribution::Poisson {
            mean: 30.0,
            min: 1,
            max: 99
        }
    );

    // Both forms at once, a typo inside a distribution, and what is not supported: by name.
    let both = source.replace(
        "    output_len: {type: lognormal",
        "    output_distribution: {mean: 9}\n    output_len: {type: lognormal",
    );
    let e = error_of(&both);
    assert!(e.contains("data.shared_prefix.output_len: give a distribution here or in `output_distribution`, not both"), "{e}");
    let e = error_of(&source.replace("skew: 2.5", "skw: 2.5"));
    assert!(
        e.starts_with("suites/bad.yaml:8:5: data.shared_prefix.question_len: "),
        "{e}"
    );
    assert!(e.contains("unknown field `skw`"), "{e}");
    let multi = source.replace("seed: 42", "seed: 42\n    enable_multi_turn_chat: true");
    let s = Scenario::from_source(Path::new("suites/x.yaml"), &multi).unwrap();
    let DataSource::SharedPrefix(p) = s.data.source else {
        panic!()
    };
    assert!(p.multi_turn);
}

#[test]
fn response_format_is_sent_as_inference_perf_sends_it_and_bad_ones_are_named() {
    let with = |format: &str| {
        format!(
            "api:\n  type: chat\n  response_format: {format}\nload:\n  stages: [{{rate: 1, duration: 1}}]\n"
        )
    };
    let s =
        Scenario::from_source(Path::new("suites/x.yaml"), &with("{type: json_object}")).unwrap();
    assert_eq!(
        s.api.response_format,
        Some(serde_json::json!({"type": "json_object"}))
    );
    let s = Scenario::from_source(
        Path::new("suites/x.yaml"),
        &with("{json_schema: {type: object}}"),
    )
    .unwrap();
    assert_eq!(
        s.api.response_format,
        Some(
            serde_json::json!({"type": "json_schema", "json_schema": {"name": "structured_output", "schema": {"type": "object"}}})
        ),
        "inference-perf's defaults: json_schema, named structured_output"
    );
    let e = error_of(&with("{type: regex}"));
    assert!(
        e.contains(
            "api.response_format.type: unknown type `regex`; allowed: json_schema, json_object"
        ),
        "{e}"
    );
    let e = error_of(&with("{type: json_schema}"));
    assert!(e.contains("needs `json_schema`"), "{e}");
    let e = error_of(&with("{type: json_object, nmae: x}"));
    assert!(e.contains("unknown field `nmae`"), "{e}");
}

#[test]
fn conversation_replay_loads_with_inference_perfs_defaults_and_meanings() {
    // Shaped like inference-perf's workload catalog (interactive chat), written here.
    let source = "api: {type: completion, streaming: true, session_id_header_key: x-session-id}
data:
  type: conversation_replay
  conversation_replay:
    seed: 7
    num_conversations: 50
    shared_system_prompt_len: 1000
    dynamic_system_prompt_len: {type: lognormal, min: 500, max: 15000, mean: 4000, std_dev: 2500}
    turns_per_conversation: {type: fixed, mean: 4}
    output_tokens_per_turn: {type: normal, min: 10, max: 1000, mean: 300, std_dev: 150}
    tool_call_latency_sec: {type: lognormal, min: 5, max: 300, mean: 45, std_dev: 40}
load:
  type: concurrent
  stages: [{num_requests: 300, concurrency_level: 10}]
";
    let s = Scenario::from_source(Path::new("suites/x.yaml"), source).unwrap();
    let DataSource::Conversations(c) = s.data.source else {
        panic!("{:?}", s.data.source)
    };
    assert_eq!((c.seed, c.count, c.shared_system_prompt_len), (7, 50, 1000));
    assert_eq!(
        c.turns,
        LengthDistribution::Fixed(4),
        "fixed is int(mean), whatever min says"
    );
    assert_eq!(
        c.input,
        LengthDistribution::Fixed(512),
        "inference-perf's default"
    );
    assert_eq!(c.max_model_len, 225_000);
    assert_eq!(
        c.tool_call_latency,
        Some(LengthDistribution::LogNormal {
            mean: 45.0,
            std_dev: 40.0,
            min: 5,
            max: 300
        })
    );
    assert_eq!(s.api.session_id_header.as_deref(), Some("x-session-id"));

    let e = error_of(&source.replace("num_conversations", "num_conversation"));
    assert!(
        e.starts_with("suites/bad.yaml:6:5: data.conversation_replay")
            && e.contains("unknown field `num_conversation`"),
        "{e}"
    );
    let e = error_of(&source.replace(
        "type: fixed, mean: 4",
        "type: fixed, mean: 4, min: 9, max: 2",
    ));
    assert!(
        e.contains(
            "data.conversation_replay.turns_per_conversation.min: min (9) is greater than max (2)"
        ),
        "{e}"
    );
    let e = error_of(&source.replace("type: conversation_replay", "type: random"));
    assert!(
        e.contains("data.conversation_replay: only used with `type: conversation_replay`"),
        "{e}"
    );
    let e = error_of(&source.replace(
        "session_id_header_key: x-session-id",
        "session_id_header_key: 'x session'",
    ));
    assert!(
        e.contains("api.session_id_header_key: a header name"),
        "{e}"
    );
    let e =
        error_of("data:\n  type: conversation_replay\nload:\n  stages: [{rate: 1, duration: 1}]\n");
    assert!(e.contains("needs a `conversation_replay` block"), "{e}");
}
