"""Project-level guarantees: production settings pass `check --deploy`, compose file is sound."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "x" * 64 + "production-like-secret-key-for-the-check",
        "ALLOWED_HOSTS": "lima.example.org",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lima"),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "LIMA_VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright in tests only; never in production
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "DJANGO_DEBUG": "false", "LIMA_VAR_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def _queues(command: list[str]) -> list[str]:
    """The queues a `celery worker` command consumes (-Q a,b or --queues=a,b)."""
    assert command[:4] == ["celery", "-A", "lima_site", "worker"], command
    for at, word in enumerate(command):
        if word in ("-Q", "--queues"):
            return command[at + 1].split(",")
        if word.startswith("--queues="):
            return word.split("=", 1)[1].split(",")
    raise AssertionError(f"no -Q in {command}")


def test_docker_compose_runs_the_production_shaped_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "gpu-worker", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "gpu-worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        assert set(services[name]["depends_on"]) >= {"postgres", "redis"}
    # vLLM runs only on the GPU worker, which takes nothing else; the CPU workers never take a GPU task.
    assert _queues(services["gpu-worker"]["command"]) == ["gpu"]
    # Short jobs and LLM judging on one worker, long generation and imports on another (lima_site/queues.py).
    assert _queues(services["worker"]["command"]) == ["celery", "judge"]
    assert _queues(services["worker-long"]["command"]) == ["generation", "imports"]
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "beat" in services["beat"]["command"]


def test_the_web_service_runs_gunicorn_with_the_production_guide_settings():
    """docker-compose's web command reads ./gunicorn.conf.py (it ran 4 sync workers while the README advised gthread):
    gunicorn itself says what it would run, from the project root as the image's WORKDIR, on a 1-core and a 16-core box."""
    import shlex

    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    gunicorn_args = shlex.split(web[-1].split("&&")[-1])
    assert gunicorn_args[0] == "gunicorn"
    for cores, expected_workers in ((1, 2), (16, 16)):
        probe = f"import os, sys; os.cpu_count = lambda: {cores}; sys.argv = {['gunicorn', '--print-config', *gunicorn_args[1:]]!r}; " \
                "from gunicorn.app.wsgiapp import run; run()"
        printed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 env={key: value for key, value in os.environ.items()
                                      if key not in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_BIND")})
        assert printed.returncode == 0, printed.stderr
        config = dict(line.split(" = ", 1) for line in printed.stdout.splitlines() if " = " in line)
        config = {key.strip(): value.strip() for key, value in config.items()}
        assert config["worker_class"] == "gthread" and config["workers"] == str(expected_workers), (cores, config)
        assert config["threads"] == "4" and config["timeout"] == "120" and config["bind"] == "['0.0.0.0:8000']"


def _queues_of(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(",")) if "-Q" in command else set()


def test_every_celery_queue_has_a_consumer_in_compose_and_in_make_run():
    """A queue nobody consumes holds its tasks forever: compose's workers together, and `make run`'s one
    embedded worker alone, take every queue of lima_site/queues.py."""
    from lima_site import queues

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed = set().union(*(_queues_of(service.get("command") or []) for service in services.values()))
    assert consumed == set(queues.ALL)
    assert _queues_of(services["worker"]["command"]) >= {queues.DEFAULT, queues.JUDGE}
    assert not _queues_of(services["worker"]["command"]) & {queues.GENERATION, queues.IMPORTS}, "long jobs would hold the judge"
    for name in ("worker-long",):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and set(services[name]["depends_on"]) >= {"postgres", "redis"}
    embedded = (ROOT / "scripts" / "run-embedded.sh").read_text()
    worker_line = next(line for line in embedded.splitlines() if "celery -A lima_site worker" in line)
    assert _queues_of(worker_line.split()) == set(queues.ALL)


def test_htmx_is_vendored_not_fetched():
    base = (ROOT / "templates" / "base.html").read_text()
    assert "static 'vendor/htmx.min.js'" in base and "https://" not in base
    assert (ROOT / "static" / "vendor" / "htmx.min.js").stat().st_size > 10_000
