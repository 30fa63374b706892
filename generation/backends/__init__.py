"""Generation backends (no Django import): each turns conversations into next assistant turns.

A backend gets a whole chunk at once so it can batch (left-padded transformers batches, vLLM's
continuous batching). A failure that concerns one prompt (too long for the context, an endpoint
error for that request) is returned as that prompt's error; the others still succeed.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from generation.decoding import Decoding


@dataclass(frozen=True)
class BackendConfig:
    backend: str
    location: str
    chat_template: str
    served_model_name: str = ""
    api_key: str = ""
    requests_per_minute: int = 60
    # Where the rate is counted (a limits storage URI: redis://… shared by the workers, or memory://).
    rate_limit_storage: str = "memory://"
    allow_private_endpoints: bool = False
    tensor_parallel_size: int = 1
    # Backend-specific settings as (key, value) pairs: hashable, so a loaded backend can be cached by config.
    options: tuple[tuple[str, object], ...] = ()

    def option(self, key: str, default=None):
        return dict(self.options).get(key, default)


@dataclass
class GenerationResult:
    text: str = ""
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = ""
    latency_ms: int | None = None


class Backend(Protocol):
    def generate(self, conversations: list[list[str]], decoding: Decoding, seed: int) -> list[GenerationResult]:
        """One result per conversation (user, assistant, ..., user): the next assistant turn."""

    def environment(self) -> dict:
        """What identifies this backend's model and libraries, for the run's reproducibility record."""


class BackendError(RuntimeError):
    """The backend as a whole cannot run (a model path that does not load, an unknown backend)."""


def messages_of(conversation: list[str]) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(conversation)]


logger = logging.getLogger(__name__)
# Loaded backends of this worker process, least recently used first.
_LOADED: OrderedDict[BackendConfig, Backend] = OrderedDict()


def loaded_configs() -> list[BackendConfig]:
    """The configurations this process holds loaded, least recently used first."""
    return list(_LOADED)


def _release(config: BackendConfig, backend: Backend) -> None:
    """Drop a loaded model: its own close() (vLLM frees its engine and GPU memory), then the memory Python and
    the CUDA allocator still hold for it."""
    close = getattr(backend, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # a model that fails to close is dropped all the same
            logger.exception("closing the %s backend of %s failed", config.backend, config.location)
    del backend
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    logger.info("unloaded %s model %s", config.backend, config.location)


def get_backend(config: BackendConfig, *, capacity: int = 1) -> Backend:
    """A loaded backend for this configuration: kept between chunks so a model loads once, not per chunk, but
    at most `capacity` models per worker process (LRU): a worker that generates for checkpoint after
    checkpoint holds one 65B model, not all of them."""
    if config in _LOADED:
        _LOADED.move_to_end(config)
        return _LOADED[config]
    if config.backend == "transformers":
        from generation.backends.hf import TransformersBackend as cls
    elif config.backend == "vllm":
        from generation.backends.vllm_backend import VLLMBackend as cls
    elif config.backend == "openai":
        from generation.backends.openai_compat import OpenAICompatibleBackend as cls
    else:
        raise BackendError(f"backend {config.backend!r} does not generate (imported runs are uploaded)")
    # Room first: the least recently used models go before the next one loads, so two never share the memory.
    while _LOADED and len(_LOADED) >= max(1, capacity):
        _release(*_LOADED.popitem(last=False))
    backend = cls(config)
    _LOADED[config] = backend
    return backend
