"""vLLM backend on a GPU: the tiny model through vllm.LLM, as a real checkpoint would go (marked `gpu`)."""

import pytest
from django.conf import settings

from generation.backends import BackendConfig, get_backend
from tokenization.chat import CHAT_TEMPLATE
from generation.decoding import Decoding

pytestmark = pytest.mark.gpu


def vllm_backend():
    options = (("llm_kwargs", (("gpu_memory_utilization", 0.3), ("max_model_len", 2048), ("enforce_eager", True))),)
    return get_backend(BackendConfig(backend="vllm", location=str(settings.LIMA_MODEL_DIR), chat_template=CHAT_TEMPLATE,
                                     options=options))


def test_vllm_generates_one_response_per_prompt_with_lima_decoding():
    backend = vllm_backend()
    results = backend.generate([["Hello?"], ["Tell me about Lisbon?", "Sure.", "And the trams?"]], Decoding(max_new_tokens=16), seed=0)
    assert len(results) == 2 and all(not r.error and r.completion_tokens for r in results)
    assert results[1].prompt_tokens > results[0].prompt_tokens


def test_vllm_seeds_make_responses_reproducible_whatever_the_batch():
    backend = vllm_backend()
    alone = backend.generate([["Tell me about tea?"]], Decoding(max_new_tokens=16), seed=4)[0].text
    batched = backend.generate([["Tell me about tea?"], ["Other prompt?"]], Decoding(max_new_tokens=16), seed=4)[0].text
    assert alone == batched


def test_vllm_rejects_a_prompt_longer_than_the_context_alone():
    results = vllm_backend().generate([["word " * 5000], ["Fine?"]], Decoding(max_new_tokens=4), seed=0)
    assert "context" in results[0].error and not results[1].error


def test_a_worker_holding_one_vllm_model_frees_its_gpu_memory_before_loading_the_next():
    """Epoch after epoch on one GPU worker: with LIMA_WORKER_LOADED_MODELS=1, loading the second checkpoint
    closes the first engine, so the memory in use returns to what one model needs instead of doubling."""
    import torch

    from generation.backends import _LOADED, loaded_configs

    _LOADED.clear()
    options = (("llm_kwargs", (("gpu_memory_utilization", 0.3), ("max_model_len", 2048), ("enforce_eager", True))),)
    first, second = (BackendConfig(backend="vllm", location=str(settings.LIMA_MODEL_DIR), chat_template=CHAT_TEMPLATE + marker,
                                   options=options) for marker in ("{# epoch-1 #}", "{# epoch-2 #}"))
    free_before = torch.cuda.mem_get_info()[0]
    get_backend(first, capacity=1).generate([["Hello?"]], Decoding(max_new_tokens=4), seed=0)
    one_model = free_before - torch.cuda.mem_get_info()[0]
    assert one_model > 0
    result = get_backend(second, capacity=1).generate([["Hello?"]], Decoding(max_new_tokens=4), seed=0)[0]
    assert not result.error and loaded_configs() == [second]
    # Both engines at once would take about twice `one_model` (each reserves 30% of the GPU).
    assert free_before - torch.cuda.mem_get_info()[0] < 1.5 * one_model
    _LOADED.clear()
