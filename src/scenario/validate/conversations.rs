//! `data.conversation_replay`: synthetic multi-turn conversations, checked as inference-perf checks
//! them, with its defaults (200 conversations, a shared system prompt of 8359 tokens, 10 turns of 512
//! tokens asking for 256, a context of 225000 tokens).

use super::Checker;
use super::data::distribution_at;
use crate::scenario::locate::Step;
use crate::scenario::raw::RawConversationReplay;
use crate::scenario::{Api, Conversations, Data, LengthDistribution, ScenarioError};

/// inference-perf's context limit when `max_model_len` is not given.
pub const DEFAULT_MAX_MODEL_LEN: u32 = 225_000;

pub(super) fn conversations(
    c: &mut Checker<'_>,
    raw: &RawConversationReplay,
) -> Result<Conversations, ScenarioError> {
    let at = |key: &'static str| {
        [
            Step::Key("data"),
            Step::Key("conversation_replay"),
            Step::Key(key),
        ]
    };
    if raw.num_conversations == 0 {
        return Err(c.error(&at("num_conversations"), "must be at least 1"));
    }
    let optional = |c: &mut Checker<'_>, key, d: &Option<_>| match d {
        Some(d) => distribution_at(c, &at(key), d).map(Some),
        None => Ok(None),
    };
    let dynamic = optional(
        c,
        "dynamic_system_prompt_len",
        &raw.dynamic_system_prompt_len,
    )?;
    let turns = optional(c, "turns_per_conversation", &raw.turns_per_conversation)?;
    let input = optional(c, "input_tokens_per_turn", &raw.input_tokens_per_turn)?;
    let output = optional(c, "output_tokens_per_turn", &raw.output_tokens_per_turn)?;
    let tool_call_latency = optional(c, "tool_call_latency_sec", &raw.tool_call_latency_sec)?;
    let max_model_len = match raw.max_model_len {
        Some(0) => return Err(c.error(&at("max_model_len"), "must be at least 1 token")),
        Some(n) => n,
        None => DEFAULT_MAX_MODEL_LEN,
    };
    Ok(Conversations {
        seed: raw.seed,
        count: raw.num_conversations,
        shared_system_prompt_len: raw.shared_system_prompt_len,
        dynamic_system_prompt_len: dynamic,
        turns: turns.unwrap_or(LengthDistribution::Fixed(10)),
        input: input.unwrap_or(LengthDistribution::Fixed(512)),
        output: output.unwrap_or(LengthDistribution::Fixed(256)),
        tool_call_latency,
        max_model_len,
    })
}

/// The session headers mean something only with multi-turn data: a warning otherwise.
pub(super) fn check_session_headers(c: &mut Checker<'_>, api: &Api, data: &Data) {
    let sessions = data.has_sessions();
    for (key, set) in [
        ("session_id_header_key", api.session_id_header.is_some()),
        (
            "session_token_header_key",
            api.session_token_header.is_some(),
        ),
    ] {
        if set && !sessions {
            c.warn(
                &[Step::Key("api"), Step::Key(key)],
                "ignored: only multi-turn data has sessions (`conversation_replay`, or `shared_prefix` with `enable_multi_turn_chat`)",
            );
        }
    }
}
