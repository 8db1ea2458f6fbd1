//! Property tests: the parsers that read what users and servers send (SSE decoder, threshold grammar,
//! scenario loader, key locator, env expansion) never panic on any input, and the SSE decoder gives the
//! same events however the bytes are split. Failing cases are kept in `tests/it/proptest-regressions/`.

use std::path::Path;

use infergate::client::openai::Chunk;
use infergate::client::sse::SseDecoder;
use infergate::scenario::locate::{Step, locate};
use infergate::scenario::{Scenario, Threshold, env};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

fn config() -> Config {
    Config {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/it/proptest-regressions/fuzz.txt",
        ))),
        ..Config::default()
    }
}

const VALID: &str = "api:
  type: chat
  streaming: true
data:
  input_distribution: {mean: 64, std_dev: 8, min: 32, max: 96}
load:
  type: poisson
  stages:
    - rate: 2
      duration: 3
thresholds:
  ttft: [\"p(99) < 500ms\"]
  error_rate:
    - threshold: \"rate < 50%\"
      abortOnFail: true
";

fn decode(bytes: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    for end in points.into_iter().chain([bytes.len()]) {
        decoder.feed(&bytes[start..end.max(start)], |d| events.push(d.to_vec()));
        start = end.max(start);
    }
    (events, decoder.finish())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sse_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                cuts in proptest::collection::vec(any::<usize>(), 0..16)) {
        let _ = decode(&bytes, &cuts);
    }

    #[test]
    fn sse_events_do_not_depend_on_how_bytes_are_split(
        payloads in proptest::collection::vec("[^\r\n]{0,40}", 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let text: String = payloads.iter().map(|p| format!("data: {p}{eol}{eol}")).collect();
        let (whole, _) = decode(text.as_bytes(), &[]);
        let (split, rest) = decode(text.as_bytes(), &cuts);
        prop_assert_eq!(&whole, &split);
        prop_assert_eq!(rest, None);
        let expected: Vec<Vec<u8>> = payloads.iter().map(|p| p.as_bytes().to_vec()).collect();
        prop_assert_eq!(whole, expected);
    }

    #[test]
    fn chunk_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(chunk) = serde_json::from_slice::<Chunk>(&bytes) {
            let _ = (chunk.has_content(), chunk.word_count());
        }
    }

    #[test]
    fn threshold_parsing_never_panics(key in "\\PC{0,24}", expression in "\\PC{0,40}") {
        let _ = Threshold::parse(&key, &expression);
    }

    #[test]
    fn threshold_grammar_round_trips_its_numbers(p in 1u32..=100, limit in 1u32..100_000) {
        let t = Threshold::parse("ttft", &format!("p({p}) <= {limit}us")).unwrap();
        prop_assert_eq!(t.limit, f64::from(limit));
    }

    #[test]
    fn the_scenario_loader_never_panics_on_any_text(source in "\\PC{0,400}") {
        let _ = Scenario::from_source(Path::new("fuzz.yaml"), &source);
    }

    #[test]
    fn the_scenario_loader_never_panics_on_a_damaged_file(
        edits in proptest::collection::vec((any::<usize>(), any::<char>()), 1..6),
    ) {
        let mut chars: Vec<char> = VALID.chars().collect();
        for (at, c) in edits {
            let at = at % chars.len();
            chars[at] = c;
        }
        let source: String = chars.into_iter().collect();
        if let Err(errors) = Scenario::from_source(Path::new("fuzz.yaml"), &source) {
            prop_assert!(!errors.0.is_empty());
        }
    }

    #[test]
    fn locate_and_env_expansion_never_panic(source in "\\PC{0,300}", key in "[a-z_]{1,8}", n in 0usize..4) {
        let _ = locate(&source, &[Step::Key(&key), Step::Item(n), Step::Key("rate")]);
        let _ = env::expand_with(&source, |_| Some("x".to_string()));
    }
}
