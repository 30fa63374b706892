"""Build the tiny LLaMA-architecture model + tokenizer into LIMA_MODEL_DIR (no download)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.local_model import build_tiny_model, is_built

PROJECT_TEXT = [
    Path(settings.BASE_DIR) / "annotation" / "demo" / "demo_examples.jsonl",
    Path(settings.BASE_DIR) / "README.md",
]


def corpus() -> list[str]:
    """The project's own demo text: demo conversations plus the README."""
    texts = []
    for path in PROJECT_TEXT:
        if not path.exists():
            continue
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                texts.extend(json.loads(line)["conversations"])
        else:
            texts.extend(p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip())
    return texts


class Command(BaseCommand):
    help = "Build the tiny random-weight LLaMA model and its locally trained tokenizer."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.LIMA_MODEL_DIR))
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="Rebuild even if a model is already there.")

    def handle(self, *args, out, seed, force, **options):
        out_dir = Path(out)
        if is_built(out_dir) and not force:
            self.stdout.write(f"Tiny model already built in {out_dir}")
            return
        manifest = build_tiny_model(out_dir, corpus(), seed=seed)
        self.stdout.write(self.style.SUCCESS(
            f"Built {manifest['architecture']} with {manifest['parameters']:,} parameters, "
            f"vocabulary {manifest['vocab_size']:,}, in {out_dir}"
        ))
