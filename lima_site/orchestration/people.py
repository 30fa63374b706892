"""The team, managed by researchers in the app: authors (LIMA's groups A and B) and annotators (in pools), their
studies, deactivation, and each one's workload. Writes are services in one transaction; reads are selectors whose
query count does not grow with the number of people.

Roles stay Django groups (lima_site/roles.py). An annotator pool is a Django group named "pool: <name>": a set of
annotators a researcher adds to a study in one step (e.g. the paper's crowd workers, or the authors who also judged).
An invitation is Django's password-reset token for the new account: a one-time link (it stops working once a
password is set, as the token covers the password hash) that the researcher passes on; no mail server is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotation.evaluation.models import Assignment, Judgment, Rating, Study
from annotation.evaluation.selectors import AnnotatorProgress, annotator_progress
from annotation.models import AuthorGroup, AuthorProfile, Example, Status
from lima_site.roles import ANNOTATOR, AUTHOR, RESEARCHER

POOL_PREFIX = "pool: "
# What a researcher may make someone here: authors and annotators. Researchers and staff are made in the admin,
# so this page can never raise anyone's privileges.
ASSIGNABLE_ROLES = (AUTHOR, ANNOTATOR)
POOL_NAME = re.compile(r"^[\w][\w .-]{0,59}$")


def pool_group_name(name: str) -> str:
    return POOL_PREFIX + name


def parse_pool_names(text: str) -> list[str]:
    """Comma-separated pool names, each checked: letters, digits, spaces, dots, dashes, up to 60 characters."""
    names = []
    for raw in text.split(","):
        name = " ".join(raw.split())
        if not name:
            continue
        if not POOL_NAME.match(name):
            raise ValidationError({"pools": f"pool {name!r}: use letters, digits, spaces, dots and dashes (at most 60)"})
        if name.lower() not in [n.lower() for n in names]:
            names.append(name)
    return names


def invite_path(user) -> str:
    """The one-time set-password link of an account (valid until a password is set or PASSWORD_RESET_TIMEOUT)."""
    return reverse("team:invite_accept", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                 "token": default_token_generator.make_token(user)})


# --- writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    roles: tuple[str, ...]
    author_group: str = ""
    pools: tuple[str, ...] = ()
    studies: tuple[Study, ...] = ()
    email: str = ""
    first_name: str = ""
    last_name: str = ""


def _check(person: PersonInput) -> None:
    errors: dict[str, str] = {}
    if not person.roles or set(person.roles) - set(ASSIGNABLE_ROLES):
        errors["roles"] = "choose author, annotator or both"
    if AUTHOR in person.roles and person.author_group not in AuthorGroup.values:
        errors["author_group"] = "an author writes for group A (train + dev) or group B (test prompts)"
    if person.author_group and AUTHOR not in person.roles:
        errors["author_group"] = "only authors have an author group"
    if (person.pools or person.studies) and ANNOTATOR not in person.roles:
        errors["pools" if person.pools else "studies"] = "pools and studies are for annotators"
    closed = [study.name for study in person.studies if study.state == Study.State.CLOSED]
    if closed:
        errors["studies"] = f"closed studies take no annotators: {', '.join(closed)}"
    if errors:
        raise ValidationError(errors)


def _apply(user, person: PersonInput) -> None:
    """Roles, author group, pools and studies as given (the person's other groups, e.g. researcher, stay)."""
    role_groups = {group.name: group for group in Group.objects.filter(name__in=ASSIGNABLE_ROLES)}
    for role in ASSIGNABLE_ROLES:
        if role in person.roles:
            user.groups.add(role_groups[role])
        else:
            user.groups.remove(role_groups[role])
    if person.author_group:
        AuthorProfile.objects.update_or_create(user=user, defaults={"group": person.author_group})
    else:
        AuthorProfile.objects.filter(user=user).delete()
    wanted = [Group.objects.get_or_create(name=pool_group_name(name))[0] for name in person.pools]
    user.groups.remove(*user.groups.filter(name__startswith=POOL_PREFIX).exclude(pk__in=[g.pk for g in wanted]))
    user.groups.add(*wanted)
    for study in person.studies:
        study.annotators.add(user)


def create_person(*, username: str, person: PersonInput, password: str = "", actor) -> tuple[object, str]:
    """Create an author or annotator; returns (user, invite path). Without a password the account has none until
    the person follows the invite link; with one, it is checked by the project's password validators."""
    User = get_user_model()
    username = username.strip()
    if not username:
        raise ValidationError({"username": "a username is needed"})
    _check(person)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"{username!r} is taken (usernames are compared ignoring case)"})
    candidate = User(username=username, email=person.email, first_name=person.first_name, last_name=person.last_name)
    if password:
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        if password:
            candidate.set_password(password)
        else:
            candidate.set_unusable_password()
        candidate.full_clean(exclude=["password"])
        candidate.save()
        _apply(candidate, person)
    return candidate, "" if password else invite_path(candidate)


def _editable(user, actor) -> None:
    if user.is_staff or user.is_superuser:
        raise PermissionDenied("staff accounts are managed in the admin")


def update_person(*, user, person: PersonInput, actor) -> None:
    _editable(user, actor)
    _check(person)
    with transaction.atomic():
        type(user).objects.select_for_update().get(pk=user.pk)
        type(user).objects.filter(pk=user.pk).update(email=person.email, first_name=person.first_name, last_name=person.last_name)
        _apply(user, person)


def set_active(*, user, active: bool, actor) -> None:
    """Deactivate (they can no longer log in; their work stays) or reactivate. Nobody deactivates themselves, and
    the last active researcher stays, so the team can always be managed."""
    _editable(user, actor)
    User = get_user_model()
    with transaction.atomic():
        # Lock every active researcher: two researchers deactivating each other at once cannot leave none.
        researchers = list(User.objects.select_for_update().filter(groups__name=RESEARCHER, is_active=True)
                           .order_by("pk").values_list("pk", flat=True))
        if not active:
            if user.pk == actor.pk:
                raise ValidationError("you cannot deactivate yourself")
            if user.pk in researchers and len(researchers) <= 1:
                raise ValidationError("this is the last active researcher: someone must be able to manage the team")
        User.objects.filter(pk=user.pk).update(is_active=active)


def remove_from_study(*, user, study: Study) -> None:
    with transaction.atomic():
        study.annotators.remove(user)


def add_pool_to_study(*, pool: str, study: Study) -> int:
    """Add every active annotator of the pool to the study; returns how many were not in it yet."""
    if study.state == Study.State.CLOSED:
        raise ValidationError({"study": "a closed study takes no annotators"})
    User = get_user_model()
    with transaction.atomic():
        members = User.objects.filter(groups__name=pool_group_name(pool), is_active=True).filter(groups__name=ANNOTATOR)
        new = list(members.exclude(studies=study).values_list("pk", flat=True))
        if not members.exists():
            raise ValidationError({"pool": f"pool {pool!r} has no active annotator"})
        study.annotators.add(*new)
    return len(new)


# --- reads ---------------------------------------------------------------------------------------


def _count(queryset, user_field: str) -> Subquery:
    return Coalesce(Subquery(queryset.filter(**{user_field: OuterRef("pk")}).order_by().values(user_field)
                             .annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0))


def people(*, search: str = "", role: str = "", active: str = "") -> QuerySet:
    """Everyone but the LLM judges' accounts, with their groups and workload counts as subqueries: a page of people
    costs the same few queries whatever their number."""
    User = get_user_model()
    queryset = User.objects.filter(llm_judge__isnull=True)
    if search:
        queryset = queryset.filter(Q(username__icontains=search) | Q(email__icontains=search)
                                   | Q(first_name__icontains=search) | Q(last_name__icontains=search))
    if role == "pool":
        queryset = queryset.filter(groups__name__startswith=POOL_PREFIX).distinct()
    elif role:
        queryset = queryset.filter(groups__name=role)
    if active in ("yes", "no"):
        queryset = queryset.filter(is_active=active == "yes")
    return (queryset.select_related("author_profile")
            .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
            .annotate(
                written=_count(Example.objects.exclude(status=Status.CANDIDATE), "created_by"),
                approved=_count(Example.objects.filter(status=Status.APPROVED), "created_by"),
                waiting=_count(Example.objects.filter(status=Status.SUBMITTED), "created_by"),
                reviewed=_count(Example.objects.exclude(reviewed_by=None), "reviewed_by"),
                judged=_count(Judgment.objects.all(), "annotator"),
                rated=_count(Rating.objects.all(), "annotator"),
                open_assignments=_count(Assignment.objects.filter(completed_at__isnull=True), "annotator"),
            ).order_by("-is_active", "username"))


def pools() -> list[tuple[str, int]]:
    """(pool name, active annotators in it)."""
    rows = (Group.objects.filter(name__startswith=POOL_PREFIX)
            .annotate(n=Count("user", filter=Q(user__is_active=True))).order_by("name").values_list("name", "n"))
    return [(name[len(POOL_PREFIX):], n) for name, n in rows]


def person_roles(user) -> list[str]:
    return [group.name for group in user.groups.all() if not group.name.startswith(POOL_PREFIX)]


def person_pools(user) -> list[str]:
    return [group.name[len(POOL_PREFIX):] for group in user.groups.all() if group.name.startswith(POOL_PREFIX)]


@dataclass
class StudyWork:
    study: Study
    progress: AnnotatorProgress
    verdicts: int


@dataclass
class PersonWork:
    """A person's work: examples by status, reviews, and for annotators their progress in each study."""

    examples_by_status: dict[str, int] = field(default_factory=dict)
    reviewed: int = 0
    studies: list[StudyWork] = field(default_factory=list)


def person_work(user) -> PersonWork:
    """Two queries for the examples and reviews, then two per study the person annotates (a handful)."""
    by_status = dict(Example.objects.filter(created_by=user).values_list("status").annotate(n=Count("id")).order_by())
    reviewed = Example.objects.filter(reviewed_by=user).count()
    studies = []
    for study in Study.objects.filter(annotators=user).order_by("-created_at"):
        model = Judgment if study.kind == Study.Kind.PAIRWISE else Rating
        studies.append(StudyWork(study=study, progress=annotator_progress(study=study, annotator=user),
                                 verdicts=model.objects.filter(item__study=study, annotator=user).count()))
    return PersonWork(examples_by_status=by_status, reviewed=reviewed, studies=studies)
