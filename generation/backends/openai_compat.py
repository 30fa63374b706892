"""OpenAI-compatible chat endpoint (a vLLM server, or a hosted baseline such as GPT-4 or Claude).

Requests go through the `openai` SDK, which retries 408, 409, 429, 5xx and connection errors with
exponential back-off and honours Retry-After, over a transport that decides what may leave the worker
(generation/backends/outbound.py: checked addresses, no redirects, only the configured key, the shared
rate limit on every attempt). A request that still fails becomes that prompt's error: the HTTP status
and a short reason, never the body an URL answered with.
"""

from __future__ import annotations

import json
import time

import httpx2
import openai

from generation.backends import BackendConfig, GenerationResult, messages_of
from generation.backends.outbound import (
    EndpointRefused,
    GuardedTransport,
    SharedRateLimit,
    endpoint_key,
    host_of,
    short_reason,
    short_text,
)
from generation.decoding import Decoding


class OpenAICompatibleBackend:
    def __init__(self, config: BackendConfig, *, max_attempts: int = 5, timeout: float = 600):
        self.config = config
        self.host = host_of(config.location)
        rate_limit = SharedRateLimit(
            per_minute=config.requests_per_minute, endpoint_key=endpoint_key(config.location, config.served_model_name),
            storage_uri=config.rate_limit_storage,
        )
        self.transport = GuardedTransport(api_key=config.api_key, allow_private=config.allow_private_endpoints,
                                          rate_limit=rate_limit)
        http = httpx2.Client(transport=self.transport, follow_redirects=False, trust_env=False)
        # The transport sets the key; the SDK only needs a non-empty one so that it does not read OPENAI_API_KEY.
        self.client = openai.OpenAI(api_key="set-by-the-transport", base_url=config.location, http_client=http,
                                    max_retries=int(config.option("max_attempts", max_attempts)) - 1, timeout=timeout)

    def environment(self) -> dict:
        return {"backend": "openai", "base_url": self.config.location, "model": self.config.served_model_name,
                "openai": openai.__version__}

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, EndpointRefused):
            return f"refused to contact {self.host}: {exc}"
        if isinstance(exc, openai.APIStatusError):
            try:
                body = json.loads(exc.response.text)
            except ValueError:
                body = None
            reason = short_reason(exc.status_code, body)
            if 300 <= exc.status_code < 400:
                return f"{reason} from {self.host}: redirects are not followed; register the URL it redirects to"
            return f"{reason} from {self.host}"
        if isinstance(exc, openai.APITimeoutError):
            return f"{self.host} did not answer in time"
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return f"cannot reach {self.host}: {short_text(str(cause))}"
        return f"{self.host} did not answer with a chat completion ({type(exc).__name__})"

    def _complete(self, conversation: list[str], decoding: Decoding, seed: int) -> GenerationResult:
        extra = {}
        if self.config.option("send_repetition_penalty", True):
            # vLLM's server accepts LIMA's repetition penalty as an extra parameter; hosted APIs ignore it.
            extra["repetition_penalty"] = decoding.repetition_penalty
        self.transport.attempts = 0
        started = time.perf_counter()
        try:
            completion = self.client.chat.completions.create(
                model=self.config.served_model_name, messages=messages_of(conversation), temperature=decoding.temperature,
                top_p=decoding.top_p, max_tokens=decoding.max_new_tokens, seed=seed, extra_body=extra or None,
            )
            choice = completion.choices[0]
            text = choice.message.content
            if not isinstance(text, str) and text is not None:
                raise TypeError("message.content is not text")
        except (openai.OpenAIError, EndpointRefused, AttributeError, IndexError, TypeError) as exc:
            attempts = max(1, self.transport.attempts)
            return GenerationResult(error=f"{self._failure(exc)} (after {attempts} attempt{'s' if attempts > 1 else ''})")
        usage = completion.usage
        return GenerationResult(
            text=(text or "").strip(),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=choice.finish_reason or "",
            latency_ms=int((time.perf_counter() - started) * 1000),
        )

    def generate(self, conversations: list[list[str]], decoding: Decoding, seed: int) -> list[GenerationResult]:
        return [self._complete(conversation, decoding, seed + index) for index, conversation in enumerate(conversations)]

