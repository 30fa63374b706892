"""The quota table refreshes every 5 seconds; a target a researcher is typing survives the refresh (it once was
wiped), and the refresh resumes once the field is left as it was."""

import pytest

from annotation.models import Quota

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEXT_POLL = """() => new Promise(resolve => document.addEventListener("htmx:beforeRequest", event => {
  if (event.detail.elt.id === "quota-table") setTimeout(() => resolve(event.defaultPrevented), 1500);
}))"""


def test_a_target_being_typed_survives_the_five_second_refresh(page, live_server, login, researcher):
    quota = Quota.objects.get(split="dev", source="authored", flag="")
    login(page, "researcher1")
    page.goto(f"{live_server.url}/quotas/")
    target = page.locator(f'#quota-table form[action="/quotas/{quota.pk}/"] input[name=target]')
    target.fill("75")
    held_back = page.evaluate(NEXT_POLL)
    assert target.input_value() == "75"  # the typed value is still there after a refresh came due, and still focused
    assert held_back is True
    assert page.evaluate("() => document.activeElement.name") == "target"
    target.fill(str(quota.target))
    page.locator("h1").click()
    assert page.evaluate(NEXT_POLL) is False  # left as it was: the refresh runs again
