"""Build a tiny random-weight Llama causal LM and its tokenizer into a directory.

No model hub is reachable from the test machines, so the end-to-end tests build
their model at test time: a byte-level BPE tokenizer trained on corpus.txt
(committed beside this script) and a 2-layer Llama with seeded random weights.
Its output is gibberish; the pipeline around it is what the tests exercise.

Usage: python make_tiny_model.py OUT_DIR [--seed N] [--vocab-size N] [--initializer-range X]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, "corpus.txt")

BOS, EOS, PAD = "<s>", "</s>", "<pad>"

# vLLM's CPU attention backend only accepts head sizes of 32, 64, 80, ...
# (CPUAttentionBackend.get_supported_head_sizes), so 4 heads of 32.
MODEL_SHAPE = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    max_position_embeddings=2048,
)


def train_tokenizer(corpus_path, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Byte-level: every UTF-8 input encodes, so no unknown token is needed.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([corpus_path], trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        model_max_length=MODEL_SHAPE["max_position_embeddings"],
    )


def build_model(tokenizer, seed, initializer_range):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=initializer_range,
        dtype="float32",
        **MODEL_SHAPE,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=2048)
    # Wider than Llama's 0.02 so that generations depend on the prompt (at 0.02
    # the logits are near-uniform and seeded sampling gives near-identical text
    # for every prompt, which would hide rows being swapped or mixed up).
    p.add_argument("--initializer-range", type=float, default=0.5)
    args = p.parse_args(argv)

    if not os.path.isfile(args.corpus):
        sys.exit(f"make_tiny_model: corpus file {args.corpus!r} does not exist")
    if args.vocab_size < 300:
        sys.exit(f"make_tiny_model: --vocab-size {args.vocab_size} is too small; it must be at least 300 (256 bytes + specials + merges)")

    if not args.initializer_range > 0:
        sys.exit(f"make_tiny_model: --initializer-range {args.initializer_range} must be a positive number (default 0.5)")

    os.makedirs(args.out_dir, exist_ok=True)
    tokenizer = train_tokenizer(args.corpus, args.vocab_size)
    tokenizer.save_pretrained(args.out_dir)
    model = build_model(tokenizer, args.seed, args.initializer_range)
    model.save_pretrained(args.out_dir, safe_serialization=True)

    n_params = sum(t.numel() for t in model.parameters())
    print(json.dumps({"out_dir": args.out_dir, "vocab_size": len(tokenizer), "parameters": n_params, "seed": args.seed}))


if __name__ == "__main__":
    main()
