"""People pages for researchers: the team list with workloads, create or invite, edit groups, pools and studies,
deactivate; and the public page where an invited person sets their password."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from annotation.evaluation.models import Study
from lima_site.forms import copy_errors_to_form
from lima_site.orchestration import people
from lima_site.orchestration.forms_people import NewPersonForm, PersonForm, PoolToStudyForm
from lima_site.roles import RESEARCHER, role_required

PAGE_SIZE = 50
ROLE_FILTERS = [("", "Everyone"), ("author", "Authors"), ("annotator", "Annotators"), (RESEARCHER, "Researchers"), ("pool", "In a pool")]


def _list_page(request, *, form=None, pool_form=None, status=200):
    filters = {"search": request.GET.get("q", "").strip()[:100], "role": request.GET.get("role", ""),
               "active": request.GET.get("active", "")}
    if filters["role"] not in dict(ROLE_FILTERS):
        filters["role"] = ""
    page = Paginator(people.people(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orchestration/people.html", {
        "page": page, "filters": filters, "role_filters": ROLE_FILTERS, "form": form or NewPersonForm(),
        "pool_form": pool_form or PoolToStudyForm(), "pools": people.pools(),
    }, status=status)


@role_required("manage_people")
def people_list(request):
    if request.method != "POST":
        return _list_page(request)
    form = NewPersonForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form=form, status=422)
    try:
        user, invite = people.create_person(username=form.cleaned_data["username"], person=form.person(),
                                            password=form.cleaned_data["password"], actor=request.user)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _list_page(request, form=form, status=422)
    if invite:
        request.session["lima_invite"] = {"user": user.pk, "url": request.build_absolute_uri(invite)}
    messages.success(request, f"{user.username} created.")
    return redirect("team:person_detail", pk=user.pk)


def _person(pk: int):
    return get_object_or_404(get_user_model().objects.filter(llm_judge__isnull=True).prefetch_related("groups")
                             .select_related("author_profile"), pk=pk)


def _initial(user) -> dict:
    profile = getattr(user, "author_profile", None)
    return {"email": user.email, "first_name": user.first_name, "last_name": user.last_name,
            "roles": [role for role in people.person_roles(user) if role in people.ASSIGNABLE_ROLES],
            "author_group": profile.group if profile else "", "pools": ", ".join(people.person_pools(user))}


def _detail_page(request, user, *, form=None, status=200):
    invite = request.session.pop("lima_invite", None)
    return render(request, "orchestration/person_detail.html", {
        "person": user, "roles": people.person_roles(user), "pools": people.person_pools(user),
        "work": people.person_work(user), "form": form or PersonForm(initial=_initial(user)),
        "editable": not (user.is_staff or user.is_superuser),
        "invite_url": invite["url"] if invite and invite.get("user") == user.pk else "",
    }, status=status)


@role_required("manage_people")
def person_detail(request, pk: int):
    user = _person(pk)
    if request.method != "POST":
        return _detail_page(request, user)
    form = PersonForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, user, form=form, status=422)
    person = form.person()
    try:
        people.update_person(user=user, person=person, actor=request.user)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _detail_page(request, user, form=form, status=422)
    messages.success(request, f"{user.username} updated.")
    return redirect("team:person_detail", pk=user.pk)


@require_POST
@role_required("manage_people")
def person_active(request, pk: int):
    user = _person(pk)
    active = request.POST.get("active") == "yes"
    try:
        people.set_active(user=user, active=active, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, f"{user.username} stays {'inactive' if active else 'active'}: " + " ".join(
            exc.messages if isinstance(exc, ValidationError) else [str(exc)]) + ".")
    else:
        messages.success(request, f"{user.username} {'reactivated' if active else 'deactivated: they can no longer log in; their work stays'}.")
    return redirect("team:person_detail", pk=user.pk)


@require_POST
@role_required("manage_people")
def person_invite(request, pk: int):
    """A fresh one-time link (the earlier one keeps working until a password is set)."""
    user = _person(pk)
    if user.is_staff or user.is_superuser or not user.is_active:
        messages.error(request, "Invite links are for active authors and annotators.")
    elif user.has_usable_password():
        # A link for an account that has a password would let whoever holds it take the account over (and, for
        # an annotator, judge in their name): only accounts that never set one get a link.
        messages.error(request, "This account already has a password: its owner changes it under Change password, "
                                "and a staff admin can reset it. Invite links are for accounts that never set one.")
    else:
        request.session["lima_invite"] = {"user": user.pk, "url": request.build_absolute_uri(people.invite_path(user))}
    return redirect("team:person_detail", pk=user.pk)


@require_POST
@role_required("manage_people")
def person_study_remove(request, pk: int, study_pk: int):
    user = _person(pk)
    study = get_object_or_404(Study, pk=study_pk)
    people.remove_from_study(user=user, study=study)
    messages.success(request, f"{user.username} no longer judges in “{study.name}” (verdicts given stay).")
    return redirect("team:person_detail", pk=user.pk)


@require_POST
@role_required("manage_people")
def pool_to_study(request):
    form = PoolToStudyForm(request.POST)
    if not form.is_valid():
        return _list_page(request, pool_form=form, status=422)
    try:
        added = people.add_pool_to_study(pool=form.cleaned_data["pool"], study=form.cleaned_data["study"])
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _list_page(request, pool_form=form, status=422)
    messages.success(request, f"{added} annotator{'s' if added != 1 else ''} of pool “{form.cleaned_data['pool']}” added to "
                              f"“{form.cleaned_data['study'].name}”.")
    return redirect("team:people")


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """Django's set-password-by-token page: the link works once (the token covers the password hash)."""

    template_name = "orchestration/invite_accept.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set: log in with it.")
        return response
