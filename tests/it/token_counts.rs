//! Token counts end to end: prompts of exact length with a real tokenizer against the simulator (which
//! counts with the same tokenizer), shared-prefix data, and `token_count_mismatch` catching a server
//! whose `usage` disagrees with what was asked.

use crate::support::openai_mock::{completions, serving, sse};
use crate::support::tokenizers::real_tokenizer;

use std::path::Path;

use infergate::gate::{Status, evaluate};
use infergate::run::{RunOptions, Target, run_scenario};
use infergate::scenario::{Aggregation, Metric, Scenario};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_source(Path::new("test.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "current_thread")]
async fn prompts_hit_the_sampled_length_exactly_as_the_server_counts_it() {
    let _turn = crate::support::turn().await;
    let tokenizer = real_tokenizer("qwen3")
        .map(|p| {
            format!(
                "tokenizer: {{pretrained_model_name_or_path: \"{}\"}}\n",
                p.display()
            )
        })
        .unwrap_or_default();
    for data in [
        "data:\n  type: random\n  input_distribution: {min: 3, max: 400, type: uniform}\n  output_distribution: {min: 2, max: 6, type: uniform}\n",
        "data:\n  type: shared_prefix\n  shared_prefix: {num_groups: 2, num_prompts_per_group: 3, system_prompt_len: 40, question_len: 9, output_len: 4}\n",
    ] {
        let yaml = format!(
            "api: {{type: completion, streaming: true}}\n{tokenizer}{data}load:\n  type: concurrent\n  stages: [{{num_requests: 24, concurrency_level: 4}}]\nthresholds:\n  token_count_mismatch: [\"count == 0\"]\n{}",
            crate::support::LOOSE_VALIDITY
        );
        let s = scenario(&yaml);
        let run = run_scenario(&s, &RunOptions::default()).await.unwrap();
        let t = &run.total;
        assert_eq!(t.ok, 24, "{yaml}");
        assert_eq!(
            (t.prompt_token_mismatches, t.token_count_mismatches),
            (0, 0),
            "{yaml}"
        );
        assert_eq!(t.output_tokens_from_usage, 24);
        if data.contains("shared_prefix") {
            assert_eq!(t.prompt_tokens.min(), 49);
            assert_eq!(t.prompt_tokens.max(), 49);
        } else {
            assert!(t.prompt_tokens.min() >= 3 && t.prompt_tokens.max() <= 400);
            assert!(
                t.prompt_tokens.max() > t.prompt_tokens.min(),
                "lengths vary"
            );
        }
        let report = evaluate(&s.thresholds, &s.validity, &run);
        assert_eq!(report.status, Status::Passed, "{:?}", report);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_that_ignores_max_tokens_fails_token_count_mismatch() {
    let _turn = crate::support::turn().await;
    let server = serving(&["m"]).await;
    // Asked for 5 tokens with ignore_eos; the server stops after 2 and says so in usage.
    let body = sse(&[
        r#"{"choices":[{"index":0,"text":" a"}]}"#,
        r#"{"choices":[{"index":0,"text":" b","finish_reason":"stop"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#,
        "[DONE]",
    ]);
    completions(&server, body).await;
    let s = scenario(
        &(String::from(
            "api: {type: completion, streaming: true}
data:
  input_distribution: {min: 4, max: 4, mean: 4, std_dev: 0}
  output_distribution: {min: 5, max: 5, mean: 5, std_dev: 0}
load:
  type: concurrent
  stages: [{num_requests: 3, concurrency_level: 1}]
thresholds:
  token_count_mismatch: [\"rate < 10%\"]
",
        ) + crate::support::LOOSE_VALIDITY),
    );
    let options = RunOptions {
        target: Target::Url(server.uri()),
        ..RunOptions::default()
    };
    let run = run_scenario(&s, &options).await.unwrap();
    assert_eq!(run.total.ok, 3);
    assert_eq!(
        run.total.prompt_token_mismatches, 0,
        "4 prompt tokens, as built"
    );
    assert_eq!(
        run.total
            .value(Metric::TokenCountMismatch, Aggregation::Rate),
        Some(1.0)
    );
    assert_eq!(
        evaluate(&s.thresholds, &s.validity, &run).status,
        Status::Failed
    );
}
