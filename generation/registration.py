"""What a registered model may point at: its key variable, its endpoint, its checkpoint directory.

Checked when a model is registered (ModelSpec.clean, shared by the form, the API and the checkpoint
poller) and again by the worker before each chunk, so a row written before a rule existed, or by hand,
cannot get around it. Each refusal is one message that never says whether something exists outside
the places a researcher may name.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

from django.conf import settings

from generation.backends.outbound import endpoint_url_problem

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def api_key_env_problem(name: str) -> str | None:
    """A key variable must match LIMA_API_KEY_ENV_ALLOWED and never be one the settings read (SECRET_KEY,
    DATABASE_URL, ...): its value is sent as a Bearer token to the researcher's URL."""
    if not name:
        return None
    allowed = list(settings.LIMA_API_KEY_ENV_ALLOWED)
    if not ENV_NAME.match(name):
        return "the name of an environment variable, e.g. LIMA_OPENAI_API_KEY"
    if name in settings.LIMA_SETTINGS_ENV_NAMES:
        return f"{name} is one of the server's own settings, never an API key"
    if not any(fnmatchcase(name, pattern) for pattern in allowed):
        return f"{name} is not an API-key variable this server hands out; allowed: {', '.join(allowed) or 'none'}"
    return None


def endpoint_problem(url: str) -> str | None:
    return endpoint_url_problem(url, allow_private=settings.LIMA_ALLOW_PRIVATE_ENDPOINTS)


def model_roots() -> list[Path]:
    """LIMA_MODEL_ROOTS, plus the project tokenizer's model and the training runs' checkpoints."""
    roots = [*settings.LIMA_MODEL_ROOTS, settings.LIMA_MODEL_DIR, settings.LIMA_TRAINING_DIR]
    return list(dict.fromkeys(Path(root).resolve() for root in roots))


def model_directory_problem(location: str) -> str | None:
    """A checkpoint directory must lie under LIMA_MODEL_ROOTS once symlinks and `..` are resolved."""
    roots = model_roots()
    where = ", ".join(str(root) for root in roots)
    path = Path(location)
    if not path.is_absolute():
        return f"an absolute path under {where}"
    resolved = path.resolve()
    if not any(resolved == root or root in resolved.parents for root in roots):
        return f"model directories must lie under {where} (LIMA_MODEL_ROOTS)"
    return None


def checkpoint_problem(location: str) -> str | None:
    """Why a checkpoint directory cannot serve a model (outside the roots, or no config and tokenizer that
    load), or None. Loads the config and the tokenizer, never the weights."""
    problem = model_directory_problem(location)
    if problem:
        return problem
    from transformers import AutoConfig, AutoTokenizer

    path = Path(location)
    missing = f"{location} is not a loadable checkpoint directory"
    if not path.is_dir():
        return f"{missing}: no such directory"
    if not (path / "config.json").is_file():
        return f"{missing}: it has no config.json"
    try:
        AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return f"{missing}: its config.json does not load"
    try:
        AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception:  # tokenizer loaders raise many types for missing or broken files
        return f"{missing}: its tokenizer does not load (tokenizer.json or tokenizer.model, with tokenizer_config.json)"
    return None
