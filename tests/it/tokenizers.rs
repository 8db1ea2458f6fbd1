//! Exact prompt lengths with real tokenizers (Qwen3, Llama 3) and the built-in one.

use crate::support::tokenizers::real_tokenizer;

use infergate::plan::tokens::TokenCounter;
use rand::SeedableRng;
use rand::rngs::StdRng;

async fn check_exact(counter: &TokenCounter) {
    let mut rng = StdRng::seed_from_u64(9);
    for n in [2, 16, 128, 512, 2048] {
        let prompt = counter.prompt(n, &mut rng);
        assert_eq!(counter.count(&prompt), n, "{} at {n}", counter.source());
    }
}

#[tokio::test]
async fn real_tokenizers_give_prompts_of_exactly_the_sampled_length() {
    // Seconds of a busy core (loading and running two real tokenizers): not beside a measured run.
    let _turn = crate::support::turn().await;
    for name in ["qwen3", "llama3"] {
        let Some(file) = real_tokenizer(name) else {
            continue;
        };
        let counter = TokenCounter::load(file.to_str().unwrap(), None)
            .await
            .unwrap();
        eprintln!(
            "{name}: {counter:?}, words are tokens: {}",
            counter.words_are_tokens()
        );
        assert!(
            counter.words_are_tokens(),
            "{name}: prompts need no re-count"
        );
        check_exact(&counter).await;
        // A directory holding tokenizer.json loads too.
        let dir = file.parent().unwrap().to_str().unwrap().to_string();
        TokenCounter::load(&dir, None).await.unwrap();
    }
    check_exact(&TokenCounter::builtin()).await;
}

#[tokio::test]
async fn a_model_id_that_cannot_be_downloaded_says_what_to_pass_instead() {
    // Nothing answers on this loopback port, standing in for an offline machine.
    let err = TokenCounter::load_from("no-such-org/no-such-model", None, "http://127.0.0.1:9")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot download `no-such-org/no-such-model`"),
        "{err}"
    );
    assert!(err.contains("pass a local tokenizer.json"), "{err}");
}
