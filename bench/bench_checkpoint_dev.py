"""Issue 15 item 6 figure: dev-set generation for a checkpoint with the registry's 2,048-token default (how
checkpoints were registered before) against the base model's own limit, which checkpoints now inherit.

Same tiny model, same two dev prompts, same seed, on the CPU; the model is loaded (warmed) first, so the
difference is the generation alone. On the tiny model the time grows with the tokens generated, as on a
real model: an untrained or half-trained checkpoint rarely stops early.
"""

from __future__ import annotations

import time

from django.conf import settings

from generation.backends import BackendConfig, get_backend
from generation.decoding import LIMA_DECODING, Decoding
from tokenization.chat import CHAT_TEMPLATE

DEV_PROMPTS = [["Dev prompt 0: how do I brew tea?"], ["Dev prompt 1: how do I brew tea?"]]
BASE_LIMIT = 64  # a base model registered with a small limit, as a test or a quick look would


def _generate(max_new_tokens: int) -> dict:
    backend = get_backend(BackendConfig(backend="transformers", location=str(settings.LIMA_MODEL_DIR), chat_template=CHAT_TEMPLATE))
    decoding = Decoding(**{**LIMA_DECODING.as_dict(), "max_new_tokens": max_new_tokens})
    started = time.perf_counter()
    results = backend.generate(DEV_PROMPTS, decoding, seed=0)
    return {"seconds": round(time.perf_counter() - started, 3), "completion_tokens": sum(r.completion_tokens or 0 for r in results),
            "max_new_tokens": max_new_tokens}


def run() -> dict:
    _generate(4)  # load the model once
    before = _generate(LIMA_DECODING.max_new_tokens)
    after = _generate(BASE_LIMIT)
    return {"prompts": len(DEV_PROMPTS), "registry_default_2048": before, "inherited_base_limit": after,
            "speedup": round(before["seconds"] / after["seconds"], 1) if after["seconds"] else None}
