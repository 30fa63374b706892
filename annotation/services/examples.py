"""Writes to examples: create, save with optimistic locking, submit, review. Each runs in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation import paper
from annotation.models import Example, ExampleRevision, Role, Status, Turn, conversation_hash
from annotation.selectors import can_approve_example, can_edit_example, can_review_example

# Autosaves by the same person within this window update one history entry instead of adding one per keystroke pause.
AUTOSAVE_COALESCE = timedelta(minutes=10)


@dataclass(frozen=True)
class TurnInput:
    role: str
    text: str


@dataclass
class ExampleDraft:
    """What an editor submits: the example's fields and its ordered turns."""

    split: str
    source: str
    is_refusal: bool = False
    is_sensitive: bool = False
    title: str = ""
    turns: list[TurnInput] = field(default_factory=list)


class EditConflict(Exception):
    """Someone saved the example since this editor loaded it; carries both versions for the user to compare."""

    def __init__(self, *, current: Example, current_snapshot: dict, submitted: ExampleDraft, expected_version: int):
        self.current = current
        self.current_snapshot = current_snapshot
        self.submitted = submitted
        self.expected_version = expected_version
        super().__init__(f"example {current.pk} is at version {current.version}, the edit was made on version {expected_version}")


class ApprovalNeedsAnotherReviewer(PermissionDenied):
    """The reviewer changed the version they try to approve."""


def snapshot(example: Example, turns: list[Turn] | list[TurnInput] | None = None) -> dict:
    if turns is None:
        turns = list(example.turns.all())
    return {
        "split": example.split,
        "source": example.source,
        "status": example.status,
        "is_refusal": example.is_refusal,
        "is_sensitive": example.is_sensitive,
        "title": example.title,
        "turns": [{"role": t.role, "text": t.text} for t in turns],
    }


def default_turns(split: str) -> list[TurnInput]:
    """A new example starts with the turns its split needs: a prompt, plus a response in training."""
    turns = [TurnInput(Role.USER, "")]
    if split == paper.TRAIN:
        turns.append(TurnInput(Role.ASSISTANT, ""))
    return turns


def _write_turns(example: Example, turns: list[TurnInput]) -> list[Turn]:
    example.turns.all().delete()
    return Turn.objects.bulk_create(
        Turn(example=example, position=position, role=turn.role, text=turn.text) for position, turn in enumerate(turns)
    )


def _record(example: Example, *, action: str, user, turns, comment: str = "") -> None:
    state = snapshot(example, turns)
    if action == ExampleRevision.Action.EDITED:
        last = example.revisions.order_by("-version").first()
        if (
            last is not None
            and last.action == ExampleRevision.Action.EDITED
            and last.user_id == getattr(user, "pk", None)
            and timezone.now() - last.created_at < AUTOSAVE_COALESCE
        ):
            ExampleRevision.objects.filter(pk=last.pk).update(version=example.version, snapshot=state)
            return
    ExampleRevision.objects.create(
        example=example, version=example.version, action=action, user=user, snapshot=state, comment=comment
    )


def create_example(*, user, split: str, source: str, author_group: str = "", is_refusal: bool = False,
                   title: str = "", turns: list[TurnInput] | None = None, reuse_untouched: bool = False) -> Example:
    """A new draft; with `reuse_untouched`, the user's empty draft of the same split and source if there is one
    (a double click, or "New example" clicked again, does not leave empty drafts behind)."""
    turns = turns if turns is not None else default_turns(split)
    with transaction.atomic():
        if reuse_untouched and not title and not any(turn.text.strip() for turn in turns):
            if (existing := untouched_draft(user=user, split=split, source=source)) is not None:
                return existing
        example = Example.objects.create(
            split=split, source=source, author_group=author_group, is_refusal=is_refusal, title=title,
            created_by=user, text_edited_by=user, status=Status.DRAFT, is_multi_turn=_is_multi_turn(turns),
            content_hash=conversation_hash(turn.text for turn in turns),
        )
        written = _write_turns(example, turns)
        _record(example, action=ExampleRevision.Action.CREATED, user=user, turns=written)
    return example


def _is_multi_turn(turns) -> bool:
    return sum(1 for t in turns if t.role == Role.USER) > 1


def _content(state: dict) -> dict:
    """What a reviewer approves: everything in a snapshot but the status."""
    return {key: value for key, value in state.items() if key != "status"}


def save_example(*, example_id: int, user, expected_version: int, draft: ExampleDraft,
                 action: str = ExampleRevision.Action.EDITED, edit_session: str = "") -> Example:
    """Save an edit made on `expected_version`; raises EditConflict if someone else saved meanwhile.

    A newer version saved by the same editor tab (`edit_session`) is not a conflict: that tab's own
    autosave and button requests can arrive out of order. A save that changes the content makes
    the saver its text editor (who may then not approve it); an autosave that changes nothing does not.
    """
    with transaction.atomic():
        example = Example.objects.select_for_update().get(pk=example_id)
        if not can_edit_example(user, example):
            raise PermissionDenied("this example cannot be edited by you in its current state")
        same_tab = bool(edit_session) and example.edit_session == edit_session and example.version > expected_version
        if example.version != expected_version and not same_tab:
            raise EditConflict(
                current=example, current_snapshot=snapshot(example), submitted=draft, expected_version=expected_version
            )
        status = Status.DRAFT if example.status == Status.REJECTED and example.created_by_id == user.pk else example.status
        title = draft.title[:200]
        changed = _content(snapshot(example)) != _content(
            snapshot(Example(split=draft.split, source=draft.source, is_refusal=draft.is_refusal, is_sensitive=draft.is_sensitive,
                             title=title), draft.turns))
        content = {"text_edited_by": user, "content_hash": conversation_hash(t.text for t in draft.turns)} if changed else {}
        Example.objects.filter(pk=example.pk).update(
            split=draft.split, source=draft.source, is_refusal=draft.is_refusal, is_sensitive=draft.is_sensitive, title=title,
            is_multi_turn=_is_multi_turn(draft.turns), status=status, version=F("version") + 1, updated_at=timezone.now(),
            edit_session=edit_session, **content,
        )
        example.refresh_from_db()
        written = _write_turns(example, draft.turns)
        _record(example, action=action, user=user, turns=written)
    return example


def structural_errors(draft: ExampleDraft) -> dict[str, str]:
    """What makes an example impossible to submit (style is only a warning; this is structure)."""
    errors: dict[str, str] = {}
    if not draft.turns:
        errors["turns"] = "An example needs at least a prompt."
        return errors
    for index, turn in enumerate(draft.turns):
        expected = Role.USER if index % 2 == 0 else Role.ASSISTANT
        if turn.role != expected:
            errors[f"turn-{index}"] = f"Turn {index + 1} should be a {expected} turn: turns alternate, starting with the user."
        elif not turn.text.strip():
            errors[f"turn-{index}"] = f"Turn {index + 1} is empty."
    last = draft.turns[-1].role
    if draft.split == paper.TRAIN and last != Role.ASSISTANT:
        errors.setdefault("turns", "A training example ends with an assistant response.")
    if draft.split in (paper.DEV, paper.TEST) and last != Role.USER:
        errors.setdefault("turns", "Dev and test examples are prompts: they end with a user turn, and the model answers.")
    return errors


def submit_example(*, example_id: int, user, expected_version: int, draft: ExampleDraft, edit_session: str = "") -> Example:
    errors = structural_errors(draft)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        example = save_example(example_id=example_id, user=user, expected_version=expected_version, draft=draft,
                               edit_session=edit_session)
        if example.status not in (Status.DRAFT, Status.REJECTED, Status.CANDIDATE):
            return example
        Example.objects.filter(pk=example.pk).update(status=Status.SUBMITTED, version=F("version") + 1, updated_at=timezone.now())
        example.refresh_from_db()
        _record(example, action=ExampleRevision.Action.SUBMITTED, user=user, turns=None)
    return example


def review_example(*, example_id: int, reviewer, expected_version: int, approve: bool, comment: str = "") -> Example:
    """Approve or reject a submitted example; rejecting needs a comment the author will read.

    Four eyes: whoever last changed the content cannot approve it, so a reviewer who edited a
    submission leaves the approval to someone else (they may still reject it).
    """
    if not approve and not comment.strip():
        raise ValidationError({"comment": "Say what the author should change."})
    with transaction.atomic():
        example = Example.objects.select_for_update().get(pk=example_id)
        if not can_review_example(reviewer, example):
            raise PermissionDenied("you cannot review this example")
        if approve and not can_approve_example(reviewer, example):
            raise ApprovalNeedsAnotherReviewer("you changed this version yourself: another reviewer has to approve it")
        if example.version != expected_version:
            raise EditConflict(current=example, current_snapshot=snapshot(example), submitted=None, expected_version=expected_version)
        status = Status.APPROVED if approve else Status.REJECTED
        Example.objects.filter(pk=example.pk).update(
            status=status, reviewed_by=reviewer, review_comment=comment.strip(), reviewed_at=timezone.now(),
            version=F("version") + 1, updated_at=timezone.now(),
        )
        example.refresh_from_db()
        action = ExampleRevision.Action.APPROVED if approve else ExampleRevision.Action.REJECTED
        _record(example, action=action, user=reviewer, turns=None, comment=comment.strip())
    return example


def draft_deletion_refusal(example: Example, user) -> str | None:
    """Why this example may not be deleted by this user, or None: only one's own drafts go (anything submitted
    has a reviewer's work on it, anything approved may sit in a snapshot)."""
    if example.created_by_id != user.pk:
        return "only the author of a draft can delete it."
    if example.status != Status.DRAFT:
        return f"it is {example.get_status_display().lower()}, and only drafts can be deleted."
    return None


@dataclass(frozen=True)
class BulkRefusal:
    example_id: int
    label: str
    reason: str

    def __str__(self) -> str:
        return f"#{self.example_id} “{self.label}”: {self.reason}"


class BulkReviewRefused(ValidationError):
    """Some of the chosen examples cannot take the decision; nothing was decided. Lists each one and why."""

    def __init__(self, refusals: list[BulkRefusal]):
        self.refusals = refusals
        super().__init__([str(refusal) for refusal in refusals])


MAX_BULK = 500


def bulk_review(*, reviewer, versions: dict[int, int], approve: bool, comment: str = "") -> list[Example]:
    """Approve or reject many submitted examples with one comment, all or nothing.

    Every example gets the same checks as one decided alone (four eyes: nobody approves their own example or a
    version they changed; the version seen must be the current one); if any fails, none is decided and the
    refusal names each example and its reason, so the reviewer can untick those and send the rest.
    """
    if not versions:
        raise ValidationError({"examples": "choose at least one example"})
    if len(versions) > MAX_BULK:
        raise ValidationError({"examples": f"at most {MAX_BULK} examples at once"})
    if not approve and not comment.strip():
        raise ValidationError({"comment": "Say what the authors should change: rejecting needs a comment."})
    decided = []
    with transaction.atomic():
        examples = {example.pk: example for example in Example.objects.select_for_update().filter(pk__in=list(versions)).order_by("pk")}
        refusals = []
        for example_id, version in sorted(versions.items()):
            example = examples.get(example_id)
            if example is None:
                refusals.append(BulkRefusal(example_id, "?", "no such example"))
            elif example.status != Status.SUBMITTED:
                refusals.append(BulkRefusal(example_id, example.label, f"it is {example.get_status_display().lower()}, not submitted"))
            elif not can_review_example(reviewer, example):
                refusals.append(BulkRefusal(example_id, example.label, "you cannot review it (your own example, or not visible to you)"))
            elif approve and not can_approve_example(reviewer, example):
                refusals.append(BulkRefusal(example_id, example.label, "you changed this version yourself: another reviewer approves it"))
            elif example.version != version:
                refusals.append(BulkRefusal(example_id, example.label, "it changed since the list was shown; reload"))
        if refusals:
            raise BulkReviewRefused(refusals)
        for example_id, version in sorted(versions.items()):
            decided.append(review_example(example_id=example_id, reviewer=reviewer, expected_version=version, approve=approve,
                                          comment=comment))
    return decided


def delete_draft(*, example_id: int, user) -> None:
    with transaction.atomic():
        example = Example.objects.select_for_update().get(pk=example_id)
        if (refusal := draft_deletion_refusal(example, user)) is not None:
            raise PermissionDenied(refusal)
        example.delete()


def untouched_draft(*, user, split: str, source: str) -> Example | None:
    """The user's newest draft of this split and source that nobody has written in yet (still at version 1 with
    empty turns): "New example" opens it again instead of piling up empty drafts."""
    candidates = (Example.objects.filter(created_by=user, split=split, source=source, status=Status.DRAFT, version=1)
                  .exclude(turns__text__regex=r"\S").order_by("-pk"))
    return candidates.first()
