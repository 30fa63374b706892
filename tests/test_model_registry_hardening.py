"""The model registry and outbound requests against a hostile researcher: key variables, endpoint URLs,
redirects, error bodies, headers, the shared rate limit, and checkpoint directories.

Each payload list below is what the registry was tried with; the tests say what each one now gets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from rest_framework.test import APIClient

from generation.backends import BackendConfig
from generation.backends.openai_compat import OpenAICompatibleBackend
from generation.backends.outbound import SharedRateLimit, endpoint_key
from generation.decoding import Decoding
from generation.models import ModelSpec, Response
from generation.services import runs
from tests.builders import prompt_snapshot
from tests.fake_openai import FakeOpenAI
from tokenization.chat import CHAT_TEMPLATE

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(researcher):
    client = APIClient()
    client.force_authenticate(researcher)
    return client


def register(api, **fields):
    return api.post("/api/models/", {"name": f"m-{uuid.uuid4().hex[:8]}", **fields}, format="json")


def openai_model(api, **fields):
    return register(api, backend="openai", served_model_name="gpt-4", **{"location": "https://api.example.com/v1", **fields})


# --- key variables ---------------------------------------------------------------------------

REFUSED_KEY_VARIABLES = ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "PATH", "HOME", "AWS_SECRET_ACCESS_KEY",
                         "OPENAI_API_KEY", "lima_openai_api_key", "LIMA_OPENAI_API_KEY_FILE", "LIMA_X_API_KEY; cat /etc/passwd",
                         "LIMA_${SECRET_KEY}_API_KEY"]


def test_a_model_key_may_only_name_an_allowed_variable(api, client, researcher):
    for name in REFUSED_KEY_VARIABLES:
        response = openai_model(api, api_key_env=name)
        assert response.status_code == 400 and set(response.json()) == {"api_key_env"}, (name, response.content)
    assert openai_model(api, api_key_env="LIMA_OPENAI_API_KEY").status_code == 201
    client.force_login(researcher)
    page = client.post(reverse("generation:model_list"), {
        "name": "gpt-4-form", "backend": "openai", "location": "https://api.example.com/v1", "served_model_name": "gpt-4",
        "api_key_env": "SECRET_KEY", "requests_per_minute": 60, "top_p": 0.9, "temperature": 0.7, "repetition_penalty": 1.2,
        "max_new_tokens": 2048, "chat_template": CHAT_TEMPLATE,
    })
    assert page.status_code == 422 and "SECRET_KEY is one of the server&#x27;s own settings" in page.content.decode()
    assert not ModelSpec.objects.filter(name="gpt-4-form").exists()


def test_widening_the_allow_list_never_hands_out_the_servers_own_settings(api, settings):
    settings.LIMA_API_KEY_ENV_ALLOWED = ["*"]
    for name in ("SECRET_KEY", "DATABASE_URL", "CELERY_RESULT_BACKEND", "LIMA_RATE_LIMIT_STORAGE"):
        assert openai_model(api, api_key_env=name).status_code == 400, name
    assert openai_model(api, api_key_env="ANTHROPIC_API_KEY").status_code == 201


def test_a_stored_model_naming_a_secret_sends_nothing(openai_server, researcher):
    """A row written before the allow-list (or by hand) is refused by the worker, before any request."""
    model = ModelSpec.objects.create(name="old-row", backend="openai", location=openai_server, served_model_name="gpt-4",
                                     api_key_env="SECRET_KEY")
    run = runs.start_run(run=runs.create_run(model=model, dataset=prompt_snapshot(user=researcher, n=2), user=researcher))
    runs.generate_missing(run_id=run.pk, row_ids=list(run.dataset.rows.values_list("id", flat=True)))
    assert FakeOpenAI.seen == []
    errors = set(Response.objects.filter(run=run).values_list("error", flat=True))
    assert errors == {"endpoint refused: SECRET_KEY is one of the server's own settings, never an API key"}
    assert django_settings.SECRET_KEY not in str(errors)


# --- endpoint URLs ---------------------------------------------------------------------------

REFUSED_URLS = {
    "file:///etc/passwd": "http:// or https://",
    "ftp://api.example.com/v1": "http:// or https://",
    "gopher://127.0.0.1:6379/_FLUSHALL": "http:// or https://",
    "http://": "names no host",
    "http://user:secret@api.example.com/v1": "credentials do not belong in the URL",
    "http://127.0.0.1:8000/v1": "127.0.0.1 is a loopback address",
    "http://localhost:6379/v1": "localhost resolves to 127.0.0.1 is a loopback address",
    "http://2130706433/v1": "resolves to 127.0.0.1 is a loopback address",
    "http://0x7f000001/v1": "resolves to 127.0.0.1 is a loopback address",
    "http://[::1]:8000/v1": "::1 is a loopback address",
    "http://[::ffff:127.0.0.1]/v1": "is a loopback address",
    "http://0.0.0.0:8000/v1": "not a unicast host address",
    "http://10.0.0.5/v1": "10.0.0.5 is a private address",
    "http://172.16.0.1/v1": "is a private address",
    "http://192.168.1.1/v1": "is a private address",
    "http://100.64.0.1/v1": "is a private address",
    "http://[fd00::1]/v1": "is a private address",
    "http://169.254.169.254/latest/meta-data/": "link-local address (cloud metadata services answer there)",
    "http://[::ffff:169.254.169.254]/": "link-local address",
    "http://[fe80::1]/v1": "link-local address",
    "http://224.0.0.1/v1": "not a unicast host address",
    "http://api.example.com:99999/v1": "not a valid URL",
}


def test_endpoint_urls_must_be_public_http(api):
    for url, reason in REFUSED_URLS.items():
        response = openai_model(api, location=url)
        assert response.status_code == 400 and set(response.json()) == {"location"}, (url, response.content)
        assert reason in response.json()["location"][0], (url, response.json())
    # A public address, and a name that does not resolve from the web server (the worker checks again when it connects).
    for url in ("https://8.8.8.8/v1", "https://api.example.com/v1"):
        assert openai_model(api, location=url).status_code == 201, url


def test_private_endpoints_when_allowed_but_never_link_local(api, settings):
    settings.LIMA_ALLOW_PRIVATE_ENDPOINTS = True
    for url in ("http://127.0.0.1:8000/v1", "http://10.0.0.5/v1", "http://localhost:8000/v1", "http://[fd00::1]/v1"):
        assert openai_model(api, location=url).status_code == 201, url
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/v1", "http://0.0.0.0/v1"):
        assert openai_model(api, location=url).status_code == 400, url


def backend(url, *, allow_private=True, api_key="sk-test", rpm=6000, storage="memory://", **options) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(BackendConfig(
        backend="openai", location=url, chat_template=CHAT_TEMPLATE, served_model_name=f"gpt-4-{uuid.uuid4().hex[:6]}",
        api_key=api_key, requests_per_minute=rpm, rate_limit_storage=storage, allow_private_endpoints=allow_private,
        options=tuple(options.items()),
    ))


def ask(backend: OpenAICompatibleBackend):
    return backend.generate([["Hi?"]], Decoding(), seed=1)[0]


def test_the_worker_connects_only_to_checked_addresses(openai_server):
    """The same rules when the worker connects (a name can resolve differently there, or later)."""
    port = openai_server.split(":")[2].split("/")[0]
    for url in (openai_server, f"http://localhost:{port}/v1", f"http://2130706433:{port}/v1"):
        result = ask(backend(url, allow_private=False))
        assert result.error.startswith("refused to contact ") and "is a loopback address" in result.error, result.error
    assert FakeOpenAI.seen == []
    assert "link-local" in ask(backend("http://169.254.169.254/v1", allow_private=True)).error
    assert ask(backend(openai_server, allow_private=True)).text == "Echo: Hi?"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed_so_the_key_never_reaches_a_second_url(openai_server, status):
    FakeOpenAI.script = [(status, {"Location": "/steal"}, b"")]
    result = ask(backend(openai_server))
    assert [(seen["method"], seen["path"]) for seen in FakeOpenAI.seen] == [("POST", "/v1/chat/completions")]
    assert "redirects are not followed" in result.error and result.error.startswith(f"HTTP {status} ")


def test_error_bodies_show_the_status_and_a_short_reason_never_the_page(openai_server):
    FakeOpenAI.script = [(403, {"Content-Type": "text/html"}, b"<html>Django admin: SESSION-TOKEN-8731 users: alice, bob</html>")]
    assert ask(backend(openai_server)).error == "HTTP 403 Forbidden from 127.0.0.1 (after 1 attempt)"
    long_reason = "This model's maximum context length is 4096 tokens.\n\x1b[31m" + "x" * 500
    FakeOpenAI.script = [(400, {"Content-Type": "application/json"}, json.dumps({"error": {"message": long_reason}}).encode())]
    error = ask(backend(openai_server)).error
    assert error.startswith("HTTP 400 Bad Request: This model's maximum context length is 4096 tokens. [31mxxx")
    assert len(error) < 200 and "\n" not in error and "\x1b" not in error
    FakeOpenAI.script = [(404, {"Content-Type": "application/json"}, b'{"users": ["alice"], "message": "private data"}')]
    assert ask(backend(openai_server)).error == "HTTP 404 Not Found from 127.0.0.1 (after 1 attempt)"


def test_only_the_configured_key_leaves_not_what_the_sdk_finds_in_the_environment(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ambient")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-ambient")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-ambient")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer sk-custom\nX-Internal-Token: internal")
    assert ask(backend(openai_server, api_key="")).text and ask(backend(openai_server, api_key="sk-test")).text
    keyless, keyed = FakeOpenAI.seen
    assert keyless["auth"] is None and keyed["auth"] == "Bearer sk-test"
    for sent in (keyless, keyed):
        assert not {"openai-organization", "openai-project", "x-internal-token"} & set(sent["headers"])
        assert not any(name.startswith("x-stainless") for name in sent["headers"])


# --- the shared rate limit -------------------------------------------------------------------

WORKER = """
import sys
from generation.backends.outbound import SharedRateLimit

class Exhausted(Exception):
    pass

def refuse(seconds):
    raise Exhausted

limit = SharedRateLimit(per_minute=4, endpoint_key=sys.argv[2], storage_uri=sys.argv[1], sleep=refuse)
sent = 0
try:
    for _ in range(4):
        limit.wait()
        sent += 1
except Exhausted:
    pass
print(sent)
"""


def test_worker_processes_share_one_rate(settings):
    """Three worker processes, each wanting the whole budget of 4 requests a minute: 4 go out in all."""
    assert settings.LIMA_RATE_LIMIT_STORAGE == settings.CELERY_BROKER_URL  # Redis, as in production
    key = uuid.uuid4().hex
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, settings.LIMA_RATE_LIMIT_STORAGE, key],
                                cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    sent = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert sum(sent) == 4, sent


def test_every_attempt_counts_against_the_rate_retries_included(openai_server, settings):
    FakeOpenAI.script = [503, 429]
    model = backend(openai_server, rpm=100, storage=settings.LIMA_RATE_LIMIT_STORAGE)
    assert ask(model).text and len(FakeOpenAI.seen) == 3
    limit = SharedRateLimit(per_minute=100, storage_uri=settings.LIMA_RATE_LIMIT_STORAGE,
                            endpoint_key=endpoint_key(model.config.location, model.config.served_model_name))
    assert limit.limiter.get_window_stats(limit.item, *limit.identifiers).remaining == 97


# --- checkpoint directories ------------------------------------------------------------------


@pytest.fixture
def model_root_dirs(tiny_model):
    """Directories inside the model root (LIMA_VAR_DIR/models): empty, config only, broken config."""
    root = Path(django_settings.LIMA_MODEL_ROOTS[0]) / f"test-{uuid.uuid4().hex[:8]}"
    (root / "empty").mkdir(parents=True)
    (root / "config-only").mkdir()
    (root / "config-only" / "config.json").write_text((Path(tiny_model) / "config.json").read_text())
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    (root / "escape").symlink_to("/etc")
    yield root
    shutil.rmtree(root)


OUTSIDE_PATHS = ["/etc", "/etc/passwd", "/", "/root/.ssh", "/nonexistent/model", "relative/model"]


def test_model_directories_must_lie_under_the_model_roots_and_load(api, model_root_dirs, tiny_model, tmp_path):
    outside_copy = tmp_path / "tiny-copy"  # a loadable model, but outside the roots
    shutil.copytree(tiny_model, outside_copy)
    payloads = [*OUTSIDE_PATHS, str(outside_copy), f"{django_settings.LIMA_MODEL_ROOTS[0]}/../../../etc",
                str(model_root_dirs / "escape"), str(model_root_dirs / "escape" / "passwd")]
    answers = {}
    for backend_name in ("transformers", "vllm"):
        for location in payloads:
            response = register(api, backend=backend_name, location=location)
            assert response.status_code == 400 and set(response.json()) == {"location"}, (location, response.content)
            answers[location] = response.json()["location"][0]
    roots = ", ".join(str(Path(root).resolve()) for root in
                      [*django_settings.LIMA_MODEL_ROOTS, django_settings.LIMA_MODEL_DIR, django_settings.LIMA_TRAINING_DIR])
    outside = {answer for location, answer in answers.items() if location != "relative/model"}
    assert outside == {f"model directories must lie under {roots} (LIMA_MODEL_ROOTS)"}  # exists or not, one answer
    assert answers["relative/model"] == f"an absolute path under {roots}"
    for name, reason in (("missing", "no such directory"), ("empty", "it has no config.json"),
                         ("broken", "its config.json does not load"), ("config-only", "its tokenizer does not load")):
        response = register(api, backend="transformers", location=str(model_root_dirs / name))
        assert response.status_code == 400, name
        assert response.json()["location"][0].startswith(f"{model_root_dirs / name} is not a loadable checkpoint directory: {reason}")
    assert register(api, backend="transformers", location=str(tiny_model)).status_code == 201


def test_the_registration_form_refuses_a_directory_outside_the_roots(client, researcher):
    client.force_login(researcher)
    page = client.post(reverse("generation:model_list"), {
        "name": "etc", "backend": "transformers", "location": "/etc", "requests_per_minute": 60, "top_p": 0.9,
        "temperature": 0.7, "repetition_penalty": 1.2, "max_new_tokens": 2048, "chat_template": CHAT_TEMPLATE,
    })
    assert page.status_code == 422 and "model directories must lie under" in page.content.decode()
    assert not ModelSpec.objects.filter(name="etc").exists()


def test_a_stored_model_outside_the_roots_fails_with_one_message_and_loads_nothing(researcher):
    model = ModelSpec.objects.create(name="etc-row", backend="transformers", location="/etc")
    run = runs.start_run(run=runs.create_run(model=model, dataset=prompt_snapshot(user=researcher, n=3), user=researcher))
    runs.generate_missing(run_id=run.pk, row_ids=list(run.dataset.rows.values_list("id", flat=True)))
    errors = set(Response.objects.filter(run=run).values_list("error", flat=True))
    assert len(errors) == 1 and errors.pop().startswith("model location refused: model directories must lie under ")
