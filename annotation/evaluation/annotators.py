"""Who an annotator is: a person (author or crowd) or an LLM judge.

Kept apart from the selectors so the exports, which stay free of the statistics stack, read the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model

LLM, AUTHOR, CROWD = "llm", "author", "crowd"


def annotator_groups(user_ids: Iterable[int]) -> dict[int, str]:
    """user id -> annotator group: the one place that decides who is an LLM judge and who is a person.

    An LLM judge is an account with an `LLMJudge` record (made by the LLM judge service); a person
    with an author profile is an author; everyone else is crowd. Study pages, the statistics, the
    exports and the LLM judge all read this, so a deactivated person is never taken for an LLM.
    """
    rows = get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "llm_judge__id", "author_profile__id")
    return {pk: LLM if judge else AUTHOR if author else CROWD for pk, judge, author in rows}
