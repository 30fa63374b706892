"""transformers backend: AutoModelForCausalLM.generate, batched with left padding (CPU or GPU).

This is the embedded default and the CI path; it loads the tiny model exactly as it would load a
real LLaMA checkpoint.
"""

from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path

from generation.backends import BackendConfig, BackendError, GenerationResult, messages_of
from tokenization.chat import EOT_TOKEN
from generation.decoding import Decoding


def library_versions() -> dict:
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__}


def config_sha256(location: str) -> str | None:
    path = Path(location) / "config.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


class TransformersBackend:
    def __init__(self, config: BackendConfig):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.location)
            self.model = AutoModelForCausalLM.from_pretrained(config.location)
        except (OSError, ValueError) as exc:
            raise BackendError(f"model at {config.location!r} does not load: {exc}") from exc
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.chat_template = config.chat_template
        self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        eot = self.tokenizer.convert_tokens_to_ids(EOT_TOKEN)
        self.stop_ids = [i for i in (self.tokenizer.eos_token_id, eot) if isinstance(i, int) and i != self.tokenizer.unk_token_id]

    def environment(self) -> dict:
        return {"backend": "transformers", "model_path": str(self.config.location),
                "config_sha256": config_sha256(self.config.location), "device": self.device, **library_versions()}

    def encode(self, conversation: list[str]) -> list[int]:
        return self.tokenizer.apply_chat_template(messages_of(conversation), tokenize=True, return_dict=False)

    def generate(self, conversations: list[list[str]], decoding: Decoding, seed: int) -> list[GenerationResult]:
        import torch

        results: list[GenerationResult | None] = [None] * len(conversations)
        batch: list[tuple[int, list[int]]] = []
        for index, conversation in enumerate(conversations):
            ids = self.encode(conversation)
            if len(ids) >= self.context:
                results[index] = GenerationResult(
                    error=f"prompt is {len(ids):,} tokens; the model's context is {self.context:,}", prompt_tokens=len(ids)
                )
            else:
                batch.append((index, ids))
        if not batch:
            return results  # type: ignore[return-value]
        longest = max(len(ids) for _, ids in batch)
        max_new = min(decoding.max_new_tokens, self.context - longest)
        padded = self.tokenizer.pad({"input_ids": [ids for _, ids in batch]}, return_tensors="pt", padding=True)
        torch.manual_seed(seed)
        started = time.perf_counter()
        with torch.no_grad():
            output = self.model.generate(
                input_ids=padded["input_ids"].to(self.device),
                attention_mask=padded["attention_mask"].to(self.device),
                do_sample=decoding.temperature > 0,
                temperature=decoding.temperature if decoding.temperature > 0 else None,
                top_p=decoding.top_p,
                repetition_penalty=decoding.repetition_penalty,
                max_new_tokens=max_new,
                eos_token_id=self.stop_ids,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        # One batched call: its latency is shared evenly by the prompts in it.
        latency = int((time.perf_counter() - started) * 1000 / len(batch))
        width = padded["input_ids"].shape[1]
        for (index, ids), row in zip(batch, output):
            new = row[width:].tolist()
            stopped = next((i for i, token in enumerate(new) if token in self.stop_ids), None)
            tokens = new if stopped is None else new[:stopped]
            results[index] = GenerationResult(
                text=self.tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                prompt_tokens=len(ids),
                completion_tokens=len(tokens),
                finish_reason="stop" if stopped is not None else "length",
                latency_ms=latency,
            )
        return results  # type: ignore[return-value]
