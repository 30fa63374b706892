"""The one place that decides who may do what.

Roles are Django groups (`author`, `annotator`, `researcher`); staff may do everything. Views
ask for a *capability* (`role_required("review_examples")`), never for a group directly, so the
access matrix lives in CAPABILITIES below and the tests walk it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils.functional import SimpleLazyObject

AUTHOR, ANNOTATOR, RESEARCHER = "author", "annotator", "researcher"
ROLES = (AUTHOR, ANNOTATOR, RESEARCHER)

CAPABILITIES: dict[str, frozenset[str]] = {
    "author_examples": frozenset({AUTHOR}),
    # Editing is further limited per object (own drafts; submitted examples for reviewers).
    "edit_examples": frozenset({AUTHOR, RESEARCHER}),
    # LIMA's authors review each other's examples; researchers curate everything.
    "review_examples": frozenset({AUTHOR, RESEARCHER}),
    "view_quotas": frozenset({AUTHOR, RESEARCHER}),
    "edit_quotas": frozenset({RESEARCHER}),
    "manage_datasets": frozenset({RESEARCHER}),
    # Importing community dumps and accepting or rejecting the mined candidates.
    "curate_candidates": frozenset({RESEARCHER}),
    "generate": frozenset({RESEARCHER}),
    # Launching, watching and cancelling fine-tuning jobs (Slurm or local), picking checkpoints.
    "train": frozenset({RESEARCHER}),
    # Blind judging: annotators judge; researchers set studies up (and never judge blind themselves).
    "judge": frozenset({ANNOTATOR}),
    "manage_studies": frozenset({RESEARCHER}),
    # The team: invite and create authors and annotators, set their groups and pools, deactivate them, see their work.
    "manage_people": frozenset({RESEARCHER}),
    # Every example of every split, searched and filtered, with bulk review.
    "browse_examples": frozenset({RESEARCHER}),
    # What the Celery queues and the app's long jobs are doing.
    "view_jobs": frozenset({RESEARCHER}),
}


class CapabilityDenied(PermissionDenied):
    """403 for a user without the capability a view needs; the 403 page names it (lima_site.views.permission_denied)."""

    def __init__(self, capability: str):
        self.capability = capability
        super().__init__(f"needs the {capability} capability")


def roles_granting(capability: str) -> list[str]:
    return sorted(CAPABILITIES[capability])


def user_roles(user) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_lima_roles", None)
    if cached is None:
        with connection.cursor() as cursor:  # every request asks: written out, a third of the ORM's cost
            cursor.execute(_roles_sql(user._meta.concrete_model, connection.vendor), [user.pk, *sorted(ROLES)])
            cached = frozenset(name for (name,) in cursor.fetchall())
        user._lima_roles = cached
    return cached


@cache
def _roles_sql(user_model, vendor: str) -> str:
    """The user's role groups (the groups named in ROLES)."""
    del vendor  # the cache key: the SQL is written for the connection's database
    return f"SELECT g.{connection.ops.quote_name('name')} {role_groups_sql(user_model, '%s')}"


def role_groups_sql(user_model, user_id: str) -> str:
    """`FROM ... WHERE ...` over the role groups `g` of the user whose id is the SQL `user_id` (a placeholder or a
    column); the names in ROLES follow as parameters, sorted."""
    groups = user_model._meta.get_field("groups")
    quote = connection.ops.quote_name
    return (f"FROM {quote(groups.related_model._meta.db_table)} g JOIN {quote(groups.m2m_db_table())} m "
            f"ON m.{quote(groups.m2m_reverse_name())} = g.{quote('id')} WHERE m.{quote(groups.m2m_column_name())} = {user_id} "
            f"AND g.{quote('name')} IN ({', '.join(['%s'] * len(ROLES))})")


def can(user, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    return bool(CAPABILITIES[capability] & user_roles(user))


def role_required(capability: str):
    """View decorator: anonymous users go to the login page, others without the capability get 403."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, capability):
                raise CapabilityDenied(capability)
            return view(request, *args, **kwargs)

        wrapped.lima_capability = capability
        return wrapped

    return decorator


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    capability: str


NAVIGATION = (
    NavEntry("My examples", "annotation:example_list", "author_examples"),
    NavEntry("Review", "annotation:review_queue", "review_examples"),
    NavEntry("Quotas", "annotation:dashboard", "view_quotas"),
    NavEntry("Datasets", "datasets:dataset_list", "manage_datasets"),
    NavEntry("Models", "generation:model_list", "generate"),
    NavEntry("Generation", "generation:run_list", "generate"),
    NavEntry("Curation", "annotation:candidate_review", "curate_candidates"),
    NavEntry("Training", "training:run_list", "train"),
    NavEntry("Experiments", "experiments:experiment_list", "train"),
    NavEntry("Judging", "evaluation:judge_home", "judge"),
    NavEntry("Studies", "evaluation:study_list", "manage_studies"),
    NavEntry("Conversations", "conversations:converse_home", "judge"),
    NavEntry("Multi-turn", "conversations:study_list", "manage_studies"),
    NavEntry("Examples", "annotation:example_browse", "browse_examples"),
    NavEntry("People", "team:people", "manage_people"),
    NavEntry("Jobs", "team:jobs", "view_jobs"),
)


def navigation(request):
    """Template context: the navigation entries this user may use, and their roles; worked out only if a template
    reads them (the judging page's HTMX swap, a partial, never does)."""
    user = request.user
    return {
        "nav_entries": SimpleLazyObject(lambda: [entry for entry in NAVIGATION if can(user, entry.capability)]),
        "user_roles": SimpleLazyObject(lambda: sorted(user_roles(user)) + (["staff"] if user.is_authenticated and user.is_staff else [])),
    }
