//! The simulator as a reasoning model (`--reasoning-tokens N`), shaped like vLLM with a reasoning
//! parser: a chat answer's first N tokens are reasoning, streamed as `delta.reasoning_content` (a
//! whole response carries `message.reasoning_content`), then the answer's content. As in vLLM,
//! `max_tokens` bounds every generated token, reasoning included: an answer of `max_tokens` M has
//! min(N, M) reasoning tokens and M − min(N, M) content tokens, `usage.completion_tokens` is M and
//! `usage.completion_tokens_details.reasoning_tokens` the reasoning part. The completions API has no
//! reasoning parser in vLLM, so its text is all answer.

use serde_json::{Value, json};

/// Of `output_tokens`, how many are reasoning: `configured`, capped by them, for chat requests.
pub fn within(chat: bool, configured: u32, output_tokens: u32) -> u32 {
    if chat {
        configured.min(output_tokens)
    } else {
        0
    }
}

/// `,"completion_tokens_details":{...}` for a usage object once `produced` tokens went out (nothing
/// when the answer has no reasoning).
pub fn usage_details(reasoning: u32, produced: u32) -> String {
    if reasoning == 0 {
        return String::new();
    }
    format!(
        r#","completion_tokens_details":{{"reasoning_tokens":{}}}"#,
        reasoning.min(produced)
    )
}

/// A whole chat message given its reasoning text, and `content: null` when reasoning took every
/// token (as vLLM sends it).
pub fn add_to_message(message: &mut Value, reasoning: u32, thought: String) {
    if reasoning == 0 {
        return;
    }
    if message["content"] == json!("") {
        message["content"] = Value::Null;
    }
    message["reasoning_content"] = json!(thought);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_is_counted_within_max_tokens() {
        assert_eq!(within(true, 32, 100), 32);
        assert_eq!(within(true, 32, 8), 8);
        assert_eq!(within(false, 32, 100), 0);
        assert_eq!(
            usage_details(32, 40),
            r#","completion_tokens_details":{"reasoning_tokens":32}"#
        );
        assert_eq!(usage_details(0, 40), "");
        let mut message = json!({"role": "assistant", "content": ""});
        add_to_message(&mut message, 4, " the quick".into());
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["reasoning_content"], " the quick");
    }
}
