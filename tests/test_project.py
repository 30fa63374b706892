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


def test_docker_compose_runs_the_production_shaped_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "gpu-worker", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "gpu-worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        assert set(services[name]["depends_on"]) >= {"postgres", "redis"}
    assert "-Q gpu" in " ".join(services["gpu-worker"]["command"]) or "gpu" in services["gpu-worker"]["command"]
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "beat" in services["beat"]["command"]


def test_htmx_is_vendored_not_fetched():
    base = (ROOT / "templates" / "base.html").read_text()
    assert "static 'vendor/htmx.min.js'" in base and "https://" not in base
    assert (ROOT / "static" / "vendor" / "htmx.min.js").stat().st_size > 10_000
