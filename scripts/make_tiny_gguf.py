#!/usr/bin/env python3
"""A tiny random-weight Llama-architecture model as GGUF, for a real llama.cpp server on a machine with
no GPU and no model hub: 4 layers, hidden size 256, the Llama 3 vocabulary and merges copied from a
`tokenizer.json`, so prompt lengths agree exactly with infergate's tokenizer.

The output layer is biased so that generation is well-behaved for a load test: every token id that
does not decode to printable text on its own (special tokens, partial UTF-8 bytes, control characters)
gets a logit far below the rest, so streamed chunks carry one visible token each and EOS is never
sampled; answers always run to max_tokens. The bias rides on a constant first component of every
token embedding, which survives the random layers and the final RMS norm.

usage: make_tiny_gguf.py TOKENIZER_JSON OUT_GGUF [HIDDEN]

HIDDEN (default 256) sets the hidden size (the feed-forward size is twice it): a larger one makes the
same vocabulary a slower engine, for testing that the gate catches it.
"""

import json
import sys

import numpy as np
import gguf

HIDDEN = 256
LAYERS = 4
HEADS = 4
KV_HEADS = 4
FFN = 512
CONTEXT = 8192
BOS, EOS, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def byte_decoder():
    """GPT-2's byte-level alphabet, reversed: the character in a token string -> its byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def printable(token, decoder):
    try:
        text = bytes(decoder[ch] for ch in token).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return False
    return text != "" and all(ch == " " or ch.isprintable() for ch in text)


def main(tokenizer_path, out_path):
    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    size = max(list(vocab.values()) + list(added.values())) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    for text, i in vocab.items():
        tokens[i] = text
        types[i] = gguf.TokenType.NORMAL
    for text, i in added.items():
        tokens[i] = text
        types[i] = gguf.TokenType.CONTROL
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    decoder = byte_decoder()
    good = np.array([types[i] == gguf.TokenType.NORMAL and printable(tokens[i], decoder) for i in range(size)])

    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name("infergate tiny llama3 (random weights)")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(size)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(added[BOS])
    w.add_eos_token_id(added[EOT])
    # Add a BOS only when the tokenizer.json itself does (its post-processor), so that the server's
    # usage.prompt_tokens and a client counting with the same tokenizer.json agree.
    w.add_add_bos_token(BOS in json.dumps(tok.get("post_processor")))
    w.add_chat_template(CHAT_TEMPLATE)

    def q8(name, array):
        data = gguf.quants.quantize(array.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def f32(name, array):
        w.add_tensor(name, array.astype(np.float32))

    embd = rng.normal(0, 0.02, (size, HIDDEN))
    embd[:, 0] = 1.0  # the constant component the output bias rides on
    q8("token_embd.weight", embd)
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        f32(p + "attn_norm.weight", np.ones(HIDDEN))
        f32(p + "ffn_norm.weight", np.ones(HIDDEN))
        for name, shape in [
            ("attn_q.weight", (HIDDEN, HIDDEN)),
            ("attn_k.weight", (HIDDEN * KV_HEADS // HEADS, HIDDEN)),
            ("attn_v.weight", (HIDDEN * KV_HEADS // HEADS, HIDDEN)),
            ("attn_output.weight", (HIDDEN, HIDDEN)),
            ("ffn_gate.weight", (FFN, HIDDEN)),
            ("ffn_up.weight", (FFN, HIDDEN)),
            ("ffn_down.weight", (HIDDEN, FFN)),
        ]:
            f32(p + name, rng.normal(0, 0.02, shape))
    f32("output_norm.weight", np.ones(HIDDEN))
    output = rng.normal(0, 0.5, (size, HIDDEN))
    output[:, 0] = np.where(good, 0.0, -8.0)
    q8("output.weight", output)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out_path}: {size} tokens, {int(good.sum())} printable")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    if len(sys.argv) == 4:
        HIDDEN = int(sys.argv[3])
        FFN = 2 * HIDDEN
    main(sys.argv[1], sys.argv[2])
