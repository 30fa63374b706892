"""OpenAI-compatible chat endpoint (a vLLM server, or a hosted baseline such as GPT-4 or Claude).

Requests are rate limited (requests per minute) and retried with exponential back-off on 429,
5xx and connection errors. A request that still fails becomes that prompt's error.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from generation.backends import BackendConfig, GenerationResult, messages_of
from generation.decoding import Decoding

RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class RateLimiter:
    """At most `per_minute` requests in any rolling minute, spaced evenly."""

    def __init__(self, per_minute: int, clock=time.monotonic, sleep=time.sleep):
        self.interval = 60.0 / max(1, per_minute)
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = self.clock()
            if now < self.next_at:
                self.sleep(self.next_at - now)
                now = self.next_at
            self.next_at = now + self.interval


class OpenAICompatibleBackend:
    def __init__(self, config: BackendConfig, *, max_attempts: int = 5, base_delay: float = 1.0, timeout: float = 600):
        self.config = config
        self.url = config.location.rstrip("/") + "/chat/completions"
        self.limiter = RateLimiter(config.requests_per_minute)
        self.max_attempts = int(config.option("max_attempts", max_attempts))
        self.base_delay = float(config.option("base_delay", base_delay))
        self.timeout = timeout

    def environment(self) -> dict:
        return {"backend": "openai", "base_url": self.config.location, "model": self.config.served_model_name}

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def _complete(self, conversation: list[str], decoding: Decoding, seed: int) -> GenerationResult:
        body = {
            "model": self.config.served_model_name,
            "messages": messages_of(conversation),
            "temperature": decoding.temperature,
            "top_p": decoding.top_p,
            "max_tokens": decoding.max_new_tokens,
            "seed": seed,
        }
        if self.config.option("send_repetition_penalty", True):
            # vLLM's server accepts LIMA's repetition penalty as an extra parameter; hosted APIs ignore it.
            body["repetition_penalty"] = decoding.repetition_penalty
        last_error = ""
        for attempt in range(self.max_attempts):
            self.limiter.wait()
            started = time.perf_counter()
            try:
                payload = self._post(body)
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode(errors="replace")
                last_error = f"HTTP {exc.code} from {self.url}: {detail}"
                if exc.code not in RETRYABLE:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last_error = f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}"
            except json.JSONDecodeError as exc:
                last_error = f"{self.url} answered with invalid JSON: {exc}"
                break
            else:
                try:
                    choice = payload["choices"][0]
                    usage = payload.get("usage") or {}
                    return GenerationResult(
                        text=(choice["message"]["content"] or "").strip(),
                        prompt_tokens=usage.get("prompt_tokens"),
                        completion_tokens=usage.get("completion_tokens"),
                        finish_reason=choice.get("finish_reason") or "",
                        latency_ms=int((time.perf_counter() - started) * 1000),
                    )
                except (KeyError, IndexError, TypeError) as exc:
                    last_error = f"{self.url} answered without choices[0].message.content ({exc!r})"
                    break
            if attempt + 1 < self.max_attempts:
                time.sleep(self.base_delay * 2**attempt)
        return GenerationResult(error=f"{last_error} (after {attempt + 1} attempt{'s' if attempt else ''})")

    def generate(self, conversations: list[list[str]], decoding: Decoding, seed: int) -> list[GenerationResult]:
        return [self._complete(conversation, decoding, seed + index) for index, conversation in enumerate(conversations)]
