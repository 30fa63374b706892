"""Demo data for `make run`: one account per role and a few examples in every state."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import AuthorProfile, Example, Status
from annotation.datasets.services import import_examples
from annotation.datasets.lima_format import parse_jsonl

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "demo_examples.jsonl"

# (username, password, role group, author group, staff)
ACCOUNTS = [
    ("author", "author-demo-pass", "author", "A", False),
    ("testauthor", "testauthor-demo-pass", "author", "B", False),
    ("annotator", "annotator-demo-pass", "annotator", "", False),
    ("researcher", "researcher-demo-pass", "researcher", "", False),
    ("admin", "admin-demo-pass", None, "", True),
]


class Command(BaseCommand):
    help = "Create the demo accounts (one per role) and demo examples; safe to run twice."

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            for username, password, role, group, staff in ACCOUNTS:
                user, created = User.objects.get_or_create(username=username, defaults={"is_staff": staff, "is_superuser": staff})
                if created:
                    user.set_password(password)
                    user.save()
                if role:
                    user.groups.add(Group.objects.get(name=role))
                if group:
                    AuthorProfile.objects.get_or_create(user=user, defaults={"group": group})
            if not Example.objects.exists():
                with DEMO_FILE.open("rb") as stream:
                    rows = parse_jsonl(stream)
                researcher = User.objects.get(username="researcher")
                import_examples(rows=rows[:6], user=researcher, status=Status.APPROVED, provenance={"file": "demo"})
                import_examples(rows=rows[6:9], user=User.objects.get(username="author"), status=Status.SUBMITTED, author_group="A", provenance={"file": "demo"})
                import_examples(rows=rows[9:], user=researcher, status=Status.APPROVED, provenance={"file": "demo"})
            self._demo_generation(User.objects.get(username="researcher"))
        self.stdout.write(self.style.SUCCESS("Demo accounts (username / password):"))
        for username, password, role, group, staff in ACCOUNTS:
            label = role or "staff admin"
            if group:
                label += f", group {group}"
            self.stdout.write(f"  {username:<11} / {password:<22} ({label})")

    def _demo_generation(self, researcher) -> None:
        """The tiny local model in the registry and a frozen snapshot of the demo test prompts."""
        from django.conf import settings

        from annotation.datasets.models import Dataset
        from annotation.datasets.services import freeze_dataset
        from generation.models import ModelSpec

        ModelSpec.objects.get_or_create(
            name="tiny-llama",
            defaults={"backend": "transformers", "location": str(settings.LIMA_MODEL_DIR), "max_new_tokens": 64,
                      "description": "Random-weight LLaMA-architecture model built locally (make run); answers are noise."},
        )
        if not Dataset.objects.filter(name="demo-test-prompts").exists():
            freeze_dataset(name="demo-test-prompts", split="test", user=researcher, description="The demo test prompts.")
