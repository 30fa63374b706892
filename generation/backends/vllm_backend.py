"""vLLM backend: offline batched generation with vllm.LLM on a GPU worker (the `gpu` queue).

The whole chunk goes to one `LLM.generate` call so vLLM's continuous batching schedules it.
Prompts are tokenised with the checkpoint's tokenizer and LIMA's chat template, then passed as
token ids, so vLLM sees exactly what the transformers backend and the trainer see.
"""

from __future__ import annotations

import time

from generation.backends import BackendConfig, BackendError, GenerationResult, messages_of
from generation.backends.hf import config_sha256, library_versions
from tokenization.chat import EOT_TOKEN
from generation.decoding import Decoding


class VLLMBackend:
    def __init__(self, config: BackendConfig):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise BackendError("vllm is not installed on this worker; install the `gpu` extra on a GPU host") from exc
        self.config = config
        try:
            self.llm = LLM(model=config.location, tensor_parallel_size=config.tensor_parallel_size,
                           **dict(config.option("llm_kwargs", ())))
        except Exception as exc:  # vLLM raises many types for a checkpoint that does not load
            raise BackendError(f"vLLM could not load {config.location!r}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.tokenizer.chat_template = config.chat_template
        self.context = self.llm.llm_engine.model_config.max_model_len
        eot = self.tokenizer.convert_tokens_to_ids(EOT_TOKEN)
        self.stop_ids = [i for i in (self.tokenizer.eos_token_id, eot) if isinstance(i, int) and i != self.tokenizer.unk_token_id]

    def environment(self) -> dict:
        import vllm

        return {"backend": "vllm", "model_path": self.config.location, "config_sha256": config_sha256(self.config.location),
                "tensor_parallel_size": self.config.tensor_parallel_size, "vllm": vllm.__version__, **library_versions()}

    def close(self) -> None:
        """Free the engine and its GPU memory before the worker loads another model (generation/backends get_backend)."""
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        del self.llm
        cleanup_dist_env_and_memory()

    def generate(self, conversations: list[list[str]], decoding: Decoding, seed: int) -> list[GenerationResult]:
        from vllm import SamplingParams, TokensPrompt

        results: list[GenerationResult | None] = [None] * len(conversations)
        prompts, indices, params = [], [], []
        for index, conversation in enumerate(conversations):
            ids = self.tokenizer.apply_chat_template(messages_of(conversation), tokenize=True)
            if len(ids) >= self.context:
                results[index] = GenerationResult(error=f"prompt is {len(ids):,} tokens; the model's context is {self.context:,}",
                                                  prompt_tokens=len(ids))
                continue
            prompts.append(TokensPrompt(prompt_token_ids=ids))
            indices.append(index)
            # A seed per prompt makes each response reproducible whatever else shares its batch.
            params.append(SamplingParams(
                temperature=decoding.temperature, top_p=decoding.top_p, repetition_penalty=decoding.repetition_penalty,
                max_tokens=min(decoding.max_new_tokens, self.context - len(ids)), stop_token_ids=self.stop_ids,
                seed=seed + index,
            ))
        if prompts:
            started = time.perf_counter()
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
            latency = int((time.perf_counter() - started) * 1000 / len(prompts))
            for index, output in zip(indices, outputs):
                completion = output.outputs[0]
                results[index] = GenerationResult(
                    text=completion.text.strip(), prompt_tokens=len(output.prompt_token_ids),
                    completion_tokens=len(completion.token_ids), finish_reason=completion.finish_reason or "",
                    latency_ms=latency,
                )
        return results  # type: ignore[return-value]
