"""Build the tiny LLaMA-architecture model and tokenizer the project runs on without internet.

Random weights, a byte-level BPE tokenizer trained here on the project's own text, both saved
with `save_pretrained`: the result is loaded through exactly the code path (`AutoTokenizer`,
`AutoModelForCausalLM`) a real LLaMA checkpoint uses. No Django import.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from tokenization.chat import BOS_TOKEN, CHAT_TEMPLATE, EOS_TOKEN, EOT_TOKEN, PAD_TOKEN, SPECIAL_TOKENS, UNK_TOKEN

TINY_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 172,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 4096):
    """A byte-level BPE tokenizer (as LLaMA-3 style checkpoints ship) with LIMA's EOT token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[EOT_TOKEN],
        model_max_length=TINY_CONFIG["max_position_embeddings"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(out_dir: Path, texts: Iterable[str], *, seed: int = 0, vocab_size: int = 4096) -> dict:
    """Train the tokenizer, initialise a random LlamaForCausalLM, save both; returns a manifest."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(EOT_TOKEN)],
        pad_token_id=tokenizer.pad_token_id,
        **TINY_CONFIG,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    manifest = {
        "architecture": "LlamaForCausalLM",
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "seed": seed,
        "config_sha256": config_hash(out_dir),
    }
    (out_dir / "lima_manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def config_hash(model_dir: Path) -> str:
    """SHA-256 of a checkpoint's config.json: identifies the architecture a run used."""
    return hashlib.sha256((Path(model_dir) / "config.json").read_bytes()).hexdigest()


def is_built(model_dir: Path) -> bool:
    model_dir = Path(model_dir)
    return (model_dir / "config.json").exists() and (model_dir / "tokenizer.json").exists()
