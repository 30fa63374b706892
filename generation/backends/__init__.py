"""Generation backends (no Django import): each turns conversations into next assistant turns.

A backend gets a whole chunk at once so it can batch (left-padded transformers batches, vLLM's
continuous batching). A failure that concerns one prompt (too long for the context, an endpoint
error for that request) is returned as that prompt's error; the others still succeed.
"""

from __future__ import annotations

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


_CACHE: dict[BackendConfig, Backend] = {}


def get_backend(config: BackendConfig) -> Backend:
    """One loaded backend per configuration per worker process: a model is loaded once, not per chunk."""
    if config in _CACHE:
        return _CACHE[config]
    if config.backend == "transformers":
        from generation.backends.hf import TransformersBackend as cls
    elif config.backend == "vllm":
        from generation.backends.vllm_backend import VLLMBackend as cls
    elif config.backend == "openai":
        from generation.backends.openai_compat import OpenAICompatibleBackend as cls
    else:
        raise BackendError(f"backend {config.backend!r} does not generate (imported runs are uploaded)")
    backend = cls(config)
    _CACHE[config] = backend
    return backend
