"""The tiny model and the generation backends, called directly (no Celery)."""

import pytest
from django.conf import settings

from generation.backends import BackendConfig, BackendError, get_backend
from generation.backends.openai_compat import OpenAICompatibleBackend
from tokenization.chat import CHAT_TEMPLATE, EOT_TOKEN, render_conversation
from generation.decoding import Decoding
from tests.fake_openai import FakeOpenAI


def tiny_config(**overrides) -> BackendConfig:
    return BackendConfig(backend="transformers", location=str(settings.LIMA_MODEL_DIR), chat_template=CHAT_TEMPLATE, **overrides)


def test_tiny_model_loads_through_the_path_a_real_checkpoint_uses():
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(settings.LIMA_MODEL_DIR)
    assert config.architectures == ["LlamaForCausalLM"] and config.model_type == "llama"
    model = AutoModelForCausalLM.from_pretrained(settings.LIMA_MODEL_DIR)
    assert sum(p.numel() for p in model.parameters()) < 5_000_000
    tokenizer = AutoTokenizer.from_pretrained(settings.LIMA_MODEL_DIR)
    eot = tokenizer.convert_tokens_to_ids(EOT_TOKEN)
    assert eot != tokenizer.unk_token_id and eot != tokenizer.eos_token_id
    messages = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == render_conversation(["Hi?", "Hello."])
    assert tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False).count(eot) == 2


def test_transformers_backend_batches_and_reports_tokens_and_finish_reason():
    backend = get_backend(tiny_config())
    results = backend.generate([["Short?"], ["A longer prompt about Lisbon?", "Sure.", "And the trams?"]], Decoding(max_new_tokens=8), seed=3)
    assert all(not r.error for r in results)
    assert results[1].prompt_tokens > results[0].prompt_tokens  # the whole dialogue prefix is the prompt
    assert all(r.completion_tokens <= 8 and r.finish_reason in {"stop", "length"} for r in results)


def test_same_seed_same_responses():
    backend = get_backend(tiny_config())
    prompts = [["Tell me about tea?"], ["And coffee?"]]
    first = [r.text for r in backend.generate(prompts, Decoding(max_new_tokens=12), seed=7)]
    again = [r.text for r in backend.generate(prompts, Decoding(max_new_tokens=12), seed=7)]
    other = [r.text for r in backend.generate(prompts, Decoding(max_new_tokens=12), seed=8)]
    assert first == again and first != other


def test_prompt_longer_than_the_context_fails_alone():
    backend = get_backend(tiny_config())
    results = backend.generate([["word " * 6000], ["A normal prompt?"]], Decoding(max_new_tokens=4), seed=0)
    assert "the model's context is 4,096" in results[0].error
    assert not results[1].error and results[1].completion_tokens


def test_a_model_path_that_does_not_load_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="does not load"):
        get_backend(BackendConfig(backend="transformers", location=str(tmp_path / "nope"), chat_template=CHAT_TEMPLATE))


def openai_backend(url, *, allow_private_endpoints=True, **options):
    config = BackendConfig(backend="openai", location=url, chat_template=CHAT_TEMPLATE, served_model_name="gpt-4",
                           api_key="sk-test", requests_per_minute=6000, allow_private_endpoints=allow_private_endpoints,
                           options=tuple(options.items()))
    return OpenAICompatibleBackend(config)


def test_openai_backend_sends_lima_decoding_and_the_key(openai_server):
    results = openai_backend(openai_server).generate([["Hi?", "Hello.", "How are you?"]], Decoding(), seed=1)
    assert results[0].text == "Echo: How are you?" and results[0].completion_tokens == 3
    sent = FakeOpenAI.seen[0]
    assert sent["auth"] == "Bearer sk-test"
    assert [m["role"] for m in sent["body"]["messages"]] == ["user", "assistant", "user"]
    assert (sent["body"]["top_p"], sent["body"]["temperature"], sent["body"]["repetition_penalty"]) == (0.9, 0.7, 1.2)


def test_openai_backend_retries_server_errors_with_backoff(openai_server):
    FakeOpenAI.script = [503, 429]
    result = openai_backend(openai_server).generate([["Hi?"]], Decoding(), seed=1)[0]
    assert not result.error and len(FakeOpenAI.seen) == 3


def test_openai_backend_gives_up_on_client_errors_and_reports_them(openai_server):
    FakeOpenAI.script = [400]
    results = openai_backend(openai_server).generate([["Bad?"], ["Fine?"]], Decoding(), seed=1)
    assert results[0].error == "HTTP 400 Bad Request from 127.0.0.1 (after 1 attempt)"
    assert results[1].text == "Echo: Fine?"


def test_openai_backend_reports_an_unreachable_endpoint():
    result = openai_backend("http://127.0.0.1:9/v1", max_attempts=2).generate([["Hi?"]], Decoding(), seed=1)[0]
    assert "cannot reach" in result.error and "after 2 attempts" in result.error


def test_a_worker_keeps_a_bounded_number_of_loaded_models_dropping_the_least_recently_used():
    import gc
    import weakref

    from generation.backends import _LOADED, loaded_configs

    _LOADED.clear()
    first, second, third = (tiny_config(served_model_name=name) for name in ("first", "second", "third"))
    loaded_first = get_backend(first, capacity=1)
    gone = weakref.ref(loaded_first.model)
    del loaded_first
    get_backend(second, capacity=1)
    gc.collect()
    # Capacity 1 (the default): loading the second model released the first, weights and all.
    assert loaded_configs() == [second] and gone() is None
    # Capacity 2: a model used again becomes the most recent, so the one left unused goes first.
    get_backend(first, capacity=2)
    assert get_backend(second, capacity=2) is get_backend(second, capacity=2)
    get_backend(third, capacity=2)
    assert loaded_configs() == [second, third]
    _LOADED.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("bound", [1, 2])
def test_the_worker_holds_as_many_models_as_lima_worker_loaded_models_says(bound, settings, researcher):
    from generation.backends import _LOADED, loaded_configs
    from generation.models import GenerationRun, RunStatus
    from generation.services import runs
    from tests.builders import prompt_snapshot, tiny_model_spec

    _LOADED.clear()
    settings.LIMA_WORKER_LOADED_MODELS = bound
    dataset = prompt_snapshot(user=researcher, n=1)
    for name in ("epoch-1", "epoch-2"):
        model = tiny_model_spec(name=name, max_new_tokens=2)
        model.chat_template += f"{{# {name} #}}"  # two checkpoints: two configurations (the same tiny weights)
        model.save()
        run = runs.create_run(model=model, dataset=dataset, user=researcher)
        GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
        runs.generate_missing(run_id=run.pk, row_ids=list(dataset.rows.values_list("id", flat=True)))
    assert len(loaded_configs()) == bound
    _LOADED.clear()
