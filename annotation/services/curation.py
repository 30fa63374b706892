"""Curation writes: save an importer's candidates (all or nothing, idempotent), decide on candidates,
start multi-turn dialogues from comment chains, and run import jobs for the browser."""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from annotation.importers.batch import Candidate, CandidateBatch, InputError, Progress
from annotation.input_limits import InputLimits
from annotation.importers.natural_instructions import NaturalInstructionsParams, import_natural_instructions
from annotation.importers.reddit import RedditParams, import_reddit
from annotation.importers.stackexchange import StackExchangeParams, comment_dialogue, import_stackexchange, site_host
from annotation.importers.wikihow import WikiHowParams, import_wikihow
from annotation.models import Example, ExampleRevision, ImportJob, Role, Status, Turn, conversation_hash
from annotation.services.examples import EditConflict, snapshot

SAVE_BATCH = 500
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Importer:
    run: Callable[..., CandidateBatch]
    params: type


IMPORTERS: dict[str, Importer] = {
    ImportJob.Kind.STACKEXCHANGE: Importer(import_stackexchange, StackExchangeParams),
    ImportJob.Kind.WIKIHOW: Importer(import_wikihow, WikiHowParams),
    ImportJob.Kind.REDDIT: Importer(import_reddit, RedditParams),
    ImportJob.Kind.NATURAL_INSTRUCTIONS: Importer(import_natural_instructions, NaturalInstructionsParams),
}


@dataclass(frozen=True)
class CurationResult:
    created: int
    existing: int
    report: dict


def build_params(importer: str, raw: dict):
    """The importer's parameter object from plain values (a form, a command line, a job's JSON)."""
    if importer not in IMPORTERS:
        raise ValidationError({"kind": f"unknown importer {importer!r}"})
    cls = IMPORTERS[importer].params
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValidationError({"parameters": f"unknown parameters for {importer}: {', '.join(unknown)}"})
    values = {}
    for name, value in raw.items():
        default = cls.__dataclass_fields__[name].default
        if default is dataclasses.MISSING:
            default = fields[name].default_factory()
        try:
            if isinstance(default, bool):
                value = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, (int, float)):
                value = type(default)(value)
            elif isinstance(default, tuple):
                value = tuple(v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip())
            elif isinstance(default, dict) and not isinstance(value, dict):
                raise ValueError("expected an object")
        except (TypeError, ValueError) as exc:
            raise ValidationError({"parameters": f"{name}: {exc}"}) from exc
        values[name] = value
    return cls(**values)


def save_candidates(*, candidates: list[Candidate], user) -> tuple[int, int]:
    """Write the candidates not yet in the database, in one transaction; returns (created, already there).

    Matching on `source_key` makes a re-run a no-op and keeps every earlier decision (a rejected
    candidate is not proposed again). A concurrent import of the same keys loses on the unique
    constraint and rolls back whole.
    """
    unique: dict[str, Candidate] = {}
    for candidate in candidates:
        unique.setdefault(candidate.source_key, candidate)
    with transaction.atomic():
        existing = set(Example.objects.filter(source_key__in=list(unique)).values_list("source_key", flat=True))
        fresh = [candidate for key, candidate in unique.items() if key not in existing]
        for start in range(0, len(fresh), SAVE_BATCH):
            batch = fresh[start:start + SAVE_BATCH]
            examples = Example.objects.bulk_create(
                Example(
                    split=c.split, source=c.source, status=Status.CANDIDATE, title=c.title, created_by=user,
                    is_multi_turn=len(c.conversations) > 2, provenance=c.provenance, source_key=c.source_key,
                    content_hash=conversation_hash(c.conversations),
                )
                for c in batch
            )
            turns = [
                [Turn(example=example, position=i, role=Role.USER if i % 2 == 0 else Role.ASSISTANT, text=text)
                 for i, text in enumerate(c.conversations)]
                for example, c in zip(examples, batch)
            ]
            Turn.objects.bulk_create(turn for example_turns in turns for turn in example_turns)
            ExampleRevision.objects.bulk_create(
                ExampleRevision(example=example, version=1, action=ExampleRevision.Action.IMPORTED, user=user,
                                snapshot=snapshot(example, example_turns),
                                comment=f"{c.provenance.get('importer', '')} import")
                for example, c, example_turns in zip(examples, batch, turns)
            )
    return len(fresh), len(existing)


def would_save(candidates: list[Candidate]) -> tuple[int, int]:
    """What `save_candidates` would do, read-only: (would create, already there), for a dry run."""
    keys = {candidate.source_key for candidate in candidates}
    existing = Example.objects.filter(source_key__in=list(keys)).count()
    return len(keys) - existing, existing


def import_and_save(*, importer: str, path: str, params: dict, user, progress: Progress | None = None,
                    dry_run: bool = False) -> CurationResult:
    """Run one importer over a dump and save its batch; an InputError leaves the database untouched."""
    parameters = build_params(importer, params)
    batch = IMPORTERS[importer].run(path, parameters, progress=progress, limits=InputLimits.from_settings())
    if dry_run:
        created, existing = would_save(batch.candidates)
    else:
        created, existing = save_candidates(candidates=batch.candidates, user=user)
    return CurationResult(created=created, existing=existing, report=batch.report.as_dict())


# --- deciding on candidates --------------------------------------------------------------------


def _decide(*, example_id: int, user, expected_version: int, status: str, action: str, comment: str) -> Example:
    with transaction.atomic():
        example = Example.objects.select_for_update().get(pk=example_id)
        if example.version != expected_version:
            raise EditConflict(current=example, current_snapshot=snapshot(example), submitted=None,
                               expected_version=expected_version)
        if example.status != Status.CANDIDATE:
            raise ValidationError({"status": f"this example is {example.get_status_display().lower()}, not a candidate"})
        now = timezone.now()
        Example.objects.filter(pk=example.pk).update(
            status=status, reviewed_by=user, reviewed_at=now, review_comment=comment, version=F("version") + 1, updated_at=now,
        )
        example.refresh_from_db()
        ExampleRevision.objects.create(example=example, version=example.version, action=action, user=user,
                                       snapshot=snapshot(example), comment=comment)
    return example


def accept_candidate(*, example_id: int, user, expected_version: int) -> Example:
    """A curator's accept makes the candidate part of the dataset mix (approved)."""
    return _decide(example_id=example_id, user=user, expected_version=expected_version, status=Status.APPROVED,
                   action=ExampleRevision.Action.APPROVED, comment="accepted in curation")


def reject_candidate(*, example_id: int, user, expected_version: int, comment: str = "") -> Example:
    """Rejected candidates stay (with their source key) so a re-import never proposes them again."""
    return _decide(example_id=example_id, user=user, expected_version=expected_version, status=Status.REJECTED,
                   action=ExampleRevision.Action.REJECTED, comment=comment.strip() or "rejected in curation")


def undo_decision(*, example_id: int, user, expected_version: int) -> Example:
    """Put a candidate accepted or rejected in curation back in the queue, as long as nothing changed it since
    (`expected_version` is the version the decision made); the history keeps both the decision and its undoing."""
    with transaction.atomic():
        example = Example.objects.select_for_update().get(pk=example_id)
        if example.version != expected_version:
            raise EditConflict(current=example, current_snapshot=snapshot(example), submitted=None,
                               expected_version=expected_version)
        last, before = (list(example.revisions.order_by("-version", "-id")[:2]) + [None, None])[:2]
        decided = last is not None and last.action in (ExampleRevision.Action.APPROVED, ExampleRevision.Action.REJECTED)
        if not decided or before is None or before.snapshot.get("status") != Status.CANDIDATE:
            raise ValidationError({"status": "only a curation decision still in force can be undone"})
        now = timezone.now()
        Example.objects.filter(pk=example.pk).update(
            status=Status.CANDIDATE, reviewed_by=None, reviewed_at=None, review_comment="", version=F("version") + 1, updated_at=now)
        example.refresh_from_db()
        ExampleRevision.objects.create(example=example, version=example.version, action=ExampleRevision.Action.EDITED, user=user,
                                       snapshot=snapshot(example), comment=f"undid “{last.get_action_display().lower()}” in curation")
    return example


def start_dialogue(*, example_id: int, user) -> Example:
    """A multi-turn candidate from a Stack Exchange answer's comment chain (LIMA built 20 of its 30 dialogues
    this way, then edited them into the assistant style); a second call returns the same dialogue."""
    example = Example.objects.prefetch_related("turns").get(pk=example_id)
    key = f"{example.source_key}:dialogue" if example.source_key else ""
    if key and (existing := Example.objects.filter(source_key=key).first()):
        return existing
    turns = [turn.text for turn in example.turns.all()]
    provenance = example.provenance or {}
    conversation = comment_dialogue(
        prompt=turns[0] if turns else "", response=turns[1] if len(turns) > 1 else "",
        comments=provenance.get("comments") or [], answerer_id=provenance.get("author_user_id") or None,
    )
    if conversation is None:
        raise ValidationError("this answer's comments hold no follow-up question answered by the answerer")
    candidate = Candidate(
        source_key=key, source=example.source, split=example.split, conversations=conversation,
        title=f"{example.title} (dialogue)"[:200], community=provenance.get("community", ""),
        provenance={**provenance, "dialogue_from": example.pk, "raw_response": "\n\n".join(c["text"] for c in provenance.get("comments", []))},
    )
    save_candidates(candidates=[candidate], user=user)
    return Example.objects.get(source_key=key)


# --- import jobs (the browser's way to run an importer) ----------------------------------------


def dumps_dir() -> Path:
    """Where the server reads dumps from; the browser names paths below it, never arbitrary server paths."""
    return Path(getattr(settings, "LIMA_DUMPS_DIR", Path(settings.VAR_DIR) / "dumps")).resolve()


def resolve_dump_path(relative: str, *, field: str = "path", what: str = "the dump") -> Path:
    """A path named by the browser, resolved below the dumps folder; outside it, one message whether or not
    the file exists."""
    root = dumps_dir()
    path = (root / relative.strip().lstrip("/")).resolve()
    if path != root and root not in path.parents:
        raise ValidationError({field: f"{what} must lie under {root}"})
    if not path.exists():
        raise ValidationError({field: f"{relative!r} does not exist under {root}"})
    return path


# Importer parameters that name a file the server reads (the Stack Exchange site list): from the browser,
# like the dump itself, they name a file below the dumps folder.
FILE_PARAMETERS = ("sites_file",)


def resolve_file_parameters(parameters: dict) -> dict:
    """The parameters with each file parameter resolved below the dumps folder (ValidationError otherwise)."""
    resolved = dict(parameters)
    for name in FILE_PARAMETERS:
        value = parameters.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise ValidationError({"parameters": f"{name}: a path below the dumps folder"})
        resolved[name] = str(resolve_dump_path(value, field="parameters", what=name))
    return resolved


# What each importer reads, by file name, when a dump is uploaded from the browser.
UPLOAD_NAMES = {
    ImportJob.Kind.STACKEXCHANGE: ("Posts.xml", "Comments.xml", "Users.xml"),
    ImportJob.Kind.WIKIHOW: ("*.csv", "*.json", "*.jsonl", "*.ndjson"),
    ImportJob.Kind.REDDIT: ("*.zst", "*.ndjson", "*.jsonl", "*.json"),
    ImportJob.Kind.NATURAL_INSTRUCTIONS: ("task*.json",),
}


def store_uploaded_dump(*, kind: str, files: list, site: str, limit: int) -> str:
    """Move uploaded dump files (already streamed to temporary files) to a fresh folder under the dumps folder;
    returns its path relative to the dumps folder. All or nothing: a refused file leaves no folder behind.

    A Stack Exchange upload is one site: its Posts.xml (and optionally Comments.xml and Users.xml), with the
    site named, since the uploaded files carry no folder name to take it from.
    """
    if kind not in UPLOAD_NAMES:
        raise ValidationError({"kind": f"unknown importer {kind!r}"})
    if not files:
        raise ValidationError({"files": "choose the dump file(s) to upload"})
    patterns, errors, names = UPLOAD_NAMES[kind], [], []
    for upload in files:
        name = Path(upload.name or "").name
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            errors.append(f"{name!r} is not a file this importer reads (expected {', '.join(patterns)})")
        elif upload.size > limit:
            errors.append(f"{name} is {upload.size:,} bytes, over the {limit:,} an uploaded dump may be "
                          f"(LIMA_MAX_DUMP_UPLOAD_BYTES)")
        elif name in names:
            errors.append(f"{name} was chosen twice")
        names.append(name)
    if kind == ImportJob.Kind.STACKEXCHANGE:
        if "Posts.xml" not in names:
            errors.append("a Stack Exchange upload needs the site's Posts.xml")
        if not site.strip():
            raise ValidationError({"site": "name the site these files come from, e.g. physics.stackexchange.com", **(
                {"files": errors} if errors else {})})
    if errors:
        raise ValidationError({"files": errors})
    root = dumps_dir()
    folder = root / "uploads" / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    target = folder / site_host(site.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")) \
        if kind == ImportJob.Kind.STACKEXCHANGE else folder
    try:
        target.mkdir(parents=True)
        for upload, name in zip(files, names):
            destination = target / name
            if hasattr(upload, "temporary_file_path"):
                shutil.move(upload.temporary_file_path(), destination)
            else:
                with destination.open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValidationError({"files": f"the upload could not be stored: {exc.strerror or exc}"}) from exc
    return str(folder.relative_to(root))


def upload_import_job(*, kind: str, files: list, site: str, parameters: dict, user, limit: int) -> ImportJob:
    """An uploaded dump stored under the dumps folder and its import job queued; a refused upload keeps nothing."""
    if kind == ImportJob.Kind.STACKEXCHANGE and site.strip():
        parameters = {**parameters, "site": site.strip()}
    build_params(kind, resolve_file_parameters(parameters))  # bad parameters refuse the upload before it is stored
    relative = store_uploaded_dump(kind=kind, files=files, site=site, limit=limit)
    try:
        return create_import_job(kind=kind, path=relative, parameters=parameters, user=user)
    except Exception:
        shutil.rmtree(dumps_dir() / relative, ignore_errors=True)
        raise


def create_import_job(*, kind: str, path: str, parameters: dict, user) -> ImportJob:
    build_params(kind, resolve_file_parameters(parameters))
    resolve_dump_path(path)
    return ImportJob.objects.create(kind=kind, path=path, parameters=parameters, created_by=user)


def run_import_job(*, job_id: int) -> ImportJob:
    """Run a queued job; a finished job is left as it is, so a re-delivered task does nothing twice.

    Every failure ends the job as Failed with its message, an unexpected one too (with its type, and
    logged with the traceback); only a lost database is left to the task's retries.
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.finished:
        return job
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING, started_at=now, heartbeat_at=now, error="")

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(bytes_done=done, bytes_total=total, heartbeat_at=timezone.now())

    try:
        result = import_and_save(importer=job.kind, path=str(resolve_dump_path(job.path)),
                                 params=resolve_file_parameters(job.parameters), user=job.created_by, progress=progress)
    except (OperationalError, InterfaceError):
        raise
    except (InputError, ValidationError) as exc:
        message = str(exc) if isinstance(exc, InputError) else "; ".join(exc.messages)
        ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED, error=message, finished_at=timezone.now())
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.FAILED, error=f"the import stopped on an unexpected error: {type(exc).__name__}: {exc}"[:5000],
            finished_at=timezone.now())
    else:
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.SUCCEEDED, created_count=result.created, existing_count=result.existing,
            report=result.report, finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def fail_stale_import_jobs() -> int:
    """Mark running jobs whose progress stopped LIMA_IMPORT_STALE_SECONDS ago as failed (their worker died:
    killed, out of memory, restarted); without this they show "Running" forever. Returns how many."""
    stale_after = timedelta(seconds=settings.LIMA_IMPORT_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    minutes = round(stale_after.total_seconds() / 60)
    return ImportJob.objects.filter(state=ImportJob.State.RUNNING, heartbeat_at__lt=cutoff).update(
        state=ImportJob.State.FAILED, finished_at=timezone.now(),
        error=f"no progress for {minutes} minutes: the worker running this import stopped (LIMA_IMPORT_STALE_SECONDS); start it again")
