"""Token counts with the project tokenizer (the tiny model's, or a real checkpoint's via LIMA_MODEL_DIR)."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()


class TokenizerMissing(RuntimeError):
    pass


@lru_cache(maxsize=4)
def _load(model_dir: str):
    from transformers import AutoTokenizer

    if not (Path(model_dir) / "tokenizer_config.json").exists():
        raise TokenizerMissing(f"no tokenizer in {model_dir}; run `manage.py build_tiny_model`")
    return AutoTokenizer.from_pretrained(model_dir)


def project_tokenizer():
    with _lock:
        return _load(str(settings.LIMA_MODEL_DIR))


def count_tokens(texts: list[str]) -> list[int]:
    """Tokens per text, without special tokens (what the text adds to a training sequence)."""
    if not texts:
        return []
    tokenizer = project_tokenizer()
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [len(ids) for ids in encoded]
