"""Blindness and object-level access, checked by crawling as a user would.

An annotator's session starts at the home page and follows every same-origin link, HTMX URL and
API link it can reach, submits every verdict form until its queue is empty, undoes, and reads the
judging API. Every page body, every HTML attribute, every JSON value and every response header it
meets is searched for what would unblind it: model names, checkpoint paths, served model ids, run
ids, response ids, model ids, file names, the study's researcher-facing name, and other annotators'
reasons. Ids are made recognisable by moving the id sequences of runs, responses and models to
numbers nothing else on a page can produce.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from django.db import connection
from django.urls import reverse

from annotation.models import Status
from annotation.evaluation.models import Judgment, Rating
from annotation.evaluation.services import judging
from generation.models import GenerationRun, ModelSpec, Response
from tests.builders import example, pairwise_study
from tests.random_tokens import without_random_tokens

pytestmark = pytest.mark.django_db

# Far from any count, page number or progress figure a page can show.
ID_BASES = {"generation_modelspec": 7_310_000, "generation_generationrun": 8_420_000, "generation_response": 9_530_000}
URL_ATTRIBUTES = ("href", "src", "action", "hx-get", "hx-post", "hx-put", "hx-delete", "hx-patch", "data-url", "formaction")
NEVER_FOLLOW = ("/accounts/logout/", "/static/")


@pytest.fixture
def distinctive_ids(db):
    """Move the id sequences (PostgreSQL) so a leaked id is unmistakable; put them back afterwards."""
    assert connection.vendor == "postgresql", "this test needs PostgreSQL (DATABASE_URL)"
    with connection.cursor() as cursor:
        saved = {}
        for table, base in ID_BASES.items():
            cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
            sequence = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
            saved[sequence] = cursor.fetchone()
            cursor.execute("SELECT setval(%s, %s, false)", [sequence, base])
    yield
    with connection.cursor() as cursor:
        for sequence, (last_value, is_called) in saved.items():
            cursor.execute("SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM " + sequence + ")), %s)",
                           [sequence, last_value, is_called])


@pytest.fixture
def world(distinctive_ids, researcher, make_user):
    """Two studies (pairwise and absolute) an annotator is in, one they are not in, and secrets to look for."""
    me, other, outsider = (make_user("annotator", username=name) for name in ("crawler", "neighbour", "outsider"))
    pairwise = pairwise_study(researcher=researcher, annotators=[me, other], prompts=4, baselines=("zq-baseline-davinci",),
                              agreement_subset=2, overlap=1, name="zq-secret-study lima-65b vs davinci", open_it=False)
    absolute = pairwise_study(researcher=researcher, annotators=[me], prompts=3, kind="absolute", agreement_subset=0,
                              name="zq-secret-absolute lima-65b ratings", open_it=False)
    hidden = pairwise_study(researcher=researcher, annotators=[outsider], prompts=2, name="zq-not-yours", open_it=False)
    for study, title in ((pairwise, "Which answer is better?"), (absolute, "Rate each answer"), (hidden, "Another study")):
        study.public_title = title
        study.save(update_fields=["public_title"])
    ModelSpec.objects.filter(name="lima-65b").update(
        name="zq-target-lima", backend="transformers", location="/srv/checkpoints/zq-weights-dir",
        served_model_name="zq-served-id", description="zq-model-description")
    GenerationRun.objects.update(environment={"model_path": "/srv/checkpoints/zq-weights-dir", "source_file": "zq-upload.jsonl"})
    # Responses that name themselves, their vendor and the registered models, as real ones do: the scrubber must
    # take every one of these out before an annotator sees them (a scrubber that does nothing leaks them all).
    for response in Response.objects.select_related("run__model", "row"):
        Response.objects.filter(pk=response.pk).update(text=(
            f"I am {response.run.model.name}, made by OpenAI. ChatGPT here: answer {response.row.position} follows. "
            "Speaking as davinci, I think tea needs three minutes."))
    for study in (pairwise, absolute, hidden):
        judging.open_study(study=study)
    # The neighbour judges first, with a reason the crawler must never see.
    while (assignment := judging.current_assignment(study=pairwise, annotator=other)) is not None:
        judging.record_judgment(study=pairwise, item_public_id=assignment.item.public_id, annotator=other, side="a",
                                reason="zq-neighbour-reason")
    # ("openai" is not searched for: the API schema names the `openai` backend, which reveals nothing.)
    secrets = {"zq-", "lima-65b", "davinci", "/srv/checkpoints", ".jsonl", "chatgpt"}
    ids = {str(pk) for model in (ModelSpec, GenerationRun, Response) for pk in model.objects.values_list("pk", flat=True)}
    assert all(int(pk) >= min(ID_BASES.values()) for pk in ids)
    return {"me": me, "other": other, "outsider": outsider, "studies": (pairwise, absolute), "hidden": hidden,
            "secrets": secrets, "ids": ids}


@dataclass
class Crawl:
    client: object
    secrets: set[str]
    ids: set[str]
    seen: set[str] = field(default_factory=set)
    pages: int = 0
    checked_values: int = 0
    leaks: list[str] = field(default_factory=list)

    def check(self, where: str, value: str) -> None:
        self.checked_values += 1
        lowered = value.lower()
        for secret in self.secrets:
            if secret in lowered:
                self.leaks.append(f"{where}: {secret!r} in {value[:160]!r}")
        for number in re.findall(r"\d{7,}", without_random_tokens(value)):
            if number in self.ids:
                self.leaks.append(f"{where}: id {number} in {value[:160]!r}")

    def fetch(self, method: str, url: str, data=None, **headers):
        response = getattr(self.client, method)(url, data or {}, **headers)
        self.pages += 1
        where = f"{method.upper()} {url} ({response.status_code})"
        self.check(f"{where} url", url)
        for header, value in response.headers.items():
            self.check(f"{where} header {header}", value)
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content).decode(errors="replace")
        else:
            body = response.content.decode(errors="replace")
        links = self.read(where, url, response.get("Content-Type", ""), body)
        return response, body, links

    def read(self, where: str, url: str, content_type: str, body: str) -> list[str]:
        links: list[str] = []
        if "json" in content_type:
            self.walk_json(where, json.loads(body) if body.strip() else None, links)
        elif "html" in content_type and body.strip():
            self.check(f"{where} text", body)
            document = lxml.html.fromstring(body)
            for element in document.iter():
                if not isinstance(element.tag, str):
                    continue
                for name, value in element.attrib.items():
                    self.check(f"{where} <{element.tag} {name}>", value)
                    if name in URL_ATTRIBUTES:
                        links.append(urljoin(url, value))
        else:
            self.check(f"{where} body", body)
        return links

    def walk_json(self, where: str, value, links: list[str]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                self.check(f"{where} key", str(key))
                self.walk_json(where, inner, links)
        elif isinstance(value, list):
            for inner in value:
                self.walk_json(where, inner, links)
        elif value is not None:
            self.check(f"{where} value", str(value))
            if isinstance(value, str) and (value.startswith("/") or value.startswith("http://testserver/")):
                links.append(value)

    def follow(self, start: list[str]) -> None:
        queue = deque(start)
        while queue:
            url = queue.popleft()
            parts = urlsplit(url)
            if parts.netloc not in ("", "testserver") or not parts.path.startswith("/"):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path in self.seen or path.startswith(NEVER_FOLLOW):
                continue
            self.seen.add(path)
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response, _, links = self.fetch("get", path, **headers)
                if response.status_code == 200:
                    queue.extend(links)


def crawl_as_annotator(client, world) -> Crawl:
    """Everything the crawler can reach, then every verdict form until its queues are empty."""
    me = world["me"]
    client.force_login(me)
    crawl = Crawl(client=client, secrets=world["secrets"], ids=world["ids"])
    starts = ["/", reverse("evaluation:judge_home"), "/api/", "/api/schema/"]
    for study in world["studies"]:
        starts += [reverse("evaluation:judge", args=[study.public_id]), reverse("api:judging", args=[study.public_id])]
    crawl.follow(starts)

    # Judge everything through the page's own forms, as the keyboard does; undo once; use the API for some items.
    for study in world["studies"]:
        judge_url = reverse("evaluation:judge", args=[study.public_id])
        choices = ("a", "b", "tie") if study.kind == "pairwise" else ("fail", "pass", "excellent")
        submitted = 0
        while True:
            _, page, _ = crawl.fetch("get", judge_url, HTTP_HX_REQUEST="true")
            match = re.search(r'name="item" value="([0-9a-f-]{36})"', page)
            if not match:
                break
            form = {"item": match.group(1), "choice": choices[submitted % 3], "reason": "my own reason"}
            response, _, _ = crawl.fetch("post", reverse("evaluation:judge_submit", args=[study.public_id]), form, HTTP_HX_REQUEST="true")
            assert response.status_code == 200
            if submitted == 0:
                crawl.fetch("post", reverse("evaluation:judge_undo", args=[study.public_id]), HTTP_HX_REQUEST="true")
            submitted += 1
            api = reverse("api:judging", args=[study.public_id])
            response, body, _ = crawl.fetch("get", api)
            if submitted >= 2 and json.loads(body)["item"]:
                crawl.fetch("post", api, {"item": json.loads(body)["item"], "choice": choices[0]})
        crawl.follow([judge_url + "?after=done"])  # the finished page and its links
        assert submitted >= 2
    return crawl


def test_an_annotator_can_reach_nothing_that_names_a_model_run_response_or_file(client, world):
    me = world["me"]
    crawl = crawl_as_annotator(client, world)
    assert not crawl.leaks, "\n".join(crawl.leaks[:20])
    # The crawl really went places and really read what it could have leaked.
    assert crawl.pages >= 30 and crawl.checked_values >= 2000, (crawl.pages, crawl.checked_values)
    assert {"/", reverse("evaluation:judge_home"), "/api/"} <= crawl.seen
    assert Judgment.objects.filter(annotator=me).count() + Rating.objects.filter(annotator=me).count() == sum(
        s.items.filter(assignments__annotator=me).count() for s in world["studies"])
    print(f"blindness crawl: {crawl.pages} responses, {len(crawl.seen)} URLs, {crawl.checked_values} values checked")


def test_the_crawl_catches_a_leak_a_researcher_could_cause(client, world):
    """The crawl can fail: a title naming a model and guidelines quoting a response id are both reported."""
    pairwise, _ = world["studies"]
    response_id = Response.objects.filter(run=pairwise.target_run).values_list("pk", flat=True).first()
    pairwise.public_title = "Is zq-target-lima better?"
    pairwise.guidelines = f"See response {response_id} for an example."
    pairwise.save(update_fields=["public_title", "guidelines"])
    leaks = crawl_as_annotator(client, world).leaks
    assert any("'zq-'" in leak and "/judge/" in leak for leak in leaks), leaks[:5]
    assert any(f"id {response_id}" in leak for leak in leaks), leaks[:5]


def test_an_annotator_cannot_judge_or_read_items_that_are_not_theirs(client, world):
    pairwise, _ = world["studies"]
    me, other = world["me"], world["other"]
    # The neighbour took every item with room left; the agreement items are shared, the others are full and never mine.
    theirs = pairwise.items.filter(assignments__annotator=other, is_shared=False).exclude(assignments__annotator=me).first()
    assert theirs is not None
    client.force_login(me)
    before = Judgment.objects.count()
    page = client.post(reverse("evaluation:judge_submit", args=[pairwise.public_id]),
                       {"item": str(theirs.public_id), "choice": "b"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 409 and "not assigned" in page.content.decode().lower()
    api = client.post(reverse("api:judging", args=[pairwise.public_id]), {"item": str(theirs.public_id), "choice": "b"})
    assert api.status_code == 403
    assert Judgment.objects.count() == before
    # Undo takes back only one's own verdict: the neighbour's stay.
    client.post(reverse("evaluation:judge_undo", args=[pairwise.public_id]), HTTP_HX_REQUEST="true")
    assert Judgment.objects.filter(annotator=other).count() == pairwise.items.filter(assignments__annotator=other).count()
    # A study one is not in: the page, the API and a submit are refused, and its title is not shown anywhere.
    hidden = world["hidden"]
    for response in (client.get(reverse("evaluation:judge", args=[hidden.public_id])),
                     client.get(reverse("api:judging", args=[hidden.public_id])),
                     client.post(reverse("evaluation:judge_submit", args=[hidden.public_id]),
                                 {"item": str(hidden.items.first().public_id), "choice": "a"})):
        assert response.status_code in (403, 409), response.status_code
        assert "zq-" not in response.content.decode()
    assert "Another study" not in client.get(reverse("evaluation:judge_home")).content.decode()
    assert not Judgment.objects.filter(item__study=hidden).exists()


def test_test_split_authors_reach_no_training_example_by_any_url(client, author, test_author, researcher, settings):
    settings.LIMA_BLIND_TEST_AUTHORS = True
    train = example(user=author, turns=("zq-train-prompt?", "zq-train-response."), status=Status.SUBMITTED)
    test = example(user=test_author, split="test", turns=("A test prompt?",), status=Status.SUBMITTED)
    client.force_login(test_author)
    object_urls = [reverse(f"annotation:{name}", args=[train.pk])
                   for name in ("example_detail", "example_edit", "example_history", "example_autosave", "example_submit",
                                "example_delete", "review_decide")]
    object_urls.append(reverse("annotation:example_turns", args=[train.pk, "add"]))
    for url in object_urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (403, 404, 405), (method, url, response.status_code)
            assert "zq-train" not in response.content.decode()
    for page in ("example_list", "review_queue", "dashboard"):
        body = client.get(reverse(f"annotation:{page}")).content.decode()
        assert "zq-train" not in body, page
    assert "A test prompt?" in client.get(reverse("annotation:example_list")).content.decode()
    train.refresh_from_db()
    assert train.status == Status.SUBMITTED and [t.text for t in train.turns.all()] == ["zq-train-prompt?", "zq-train-response."]
    # And the other way round: group A never reads the test prompts.
    client.force_login(author)
    assert client.get(reverse("annotation:example_detail", args=[test.pk])).status_code == 404
    assert "A test prompt?" not in client.get(reverse("annotation:review_queue")).content.decode()
