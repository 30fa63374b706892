"""Demo data for `make run`: one account per role, a few examples in every state, two demo "models" whose
hand-written answers make a judging study that reads like a real one, and a small Stack Exchange dump in the
dumps folder so curation can be tried."""

import io
import json
import shutil
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import AuthorProfile, Example, Status
from annotation.datasets.services import import_examples
from annotation.datasets.lima_format import parse_jsonl

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_FILE = DEMO_DIR / "demo_examples.jsonl"
# Hand-written answers of two demo assistants (one careful, one careless) to the demo test prompts.
DEMO_RESPONSES = DEMO_DIR / "demo_responses.jsonl"
# A small Stack Exchange dump written for the project (two sites), copied into the dumps folder.
DEMO_DUMP = DEMO_DIR / "dumps" / "stackexchange-sample"
DEMO_STUDY = "Demo: assistant A vs assistant B"

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
                author = User.objects.get(username="author")
                import_examples(rows=rows[6:9], user=author, status=Status.SUBMITTED, author_group="A", provenance={"file": "demo"})
                # An import has no author; these three stand for what the demo author wrote and sent for review.
                Example.objects.filter(status=Status.SUBMITTED, provenance__file="demo").update(created_by=author, text_edited_by=author)
                import_examples(rows=rows[9:], user=researcher, status=Status.APPROVED, provenance={"file": "demo"})
            self._demo_generation(User.objects.get(username="researcher"))
            self._demo_study(User.objects.get(username="researcher"), User.objects.get(username="annotator"))
        self._demo_dump()
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

    def _demo_study(self, researcher, annotator) -> None:
        """Two imported demo models over the demo test prompts and an open pairwise study for the demo annotator."""
        from annotation.datasets.models import Dataset
        from annotation.evaluation.models import Study
        from annotation.evaluation.services.judging import open_study
        from generation.models import Backend, ModelSpec
        from generation.services.imported import import_responses

        if Study.objects.filter(name=DEMO_STUDY).exists():
            return
        dataset = Dataset.objects.get(name="demo-test-prompts")
        by_model: dict[str, list[dict]] = {}
        for line in DEMO_RESPONSES.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            by_model.setdefault(record.pop("model"), []).append(record)
        runs = []
        for name, records in sorted(by_model.items()):
            model, _ = ModelSpec.objects.get_or_create(
                name=name, defaults={"backend": Backend.IMPORTED, "description": "Demo answers written by hand for the judging demo."})
            stream = io.BytesIO("".join(json.dumps(record) + "\n" for record in records).encode())
            runs.append(import_responses(model=model, dataset=dataset, stream=stream, user=researcher).run)
        target, baseline = runs
        study = Study.objects.create(
            name=DEMO_STUDY, public_title="Which answer helps more?", dataset=dataset, target_run=target, overlap=1,
            agreement_subset=2, created_by=researcher,
            guidelines="Read the prompt and both answers. Pick the answer you would rather receive, or say that neither is "
                       "better. Judge helpfulness, correctness and tone; length alone is not a virtue.",
        )
        study.baseline_runs.add(baseline)
        study.annotators.add(annotator, researcher)
        open_study(study=study)

    def _demo_dump(self) -> None:
        """The sample dump in the dumps folder, so the Imports page has something to import ("sample/...")."""
        from annotation.services.curation import dumps_dir

        target = dumps_dir() / "sample" / "stackexchange"
        if not target.exists():
            shutil.copytree(DEMO_DUMP, target)
            self.stdout.write(f"Sample Stack Exchange dump: {target} (import it from the Imports page as sample/stackexchange)")
