"""Curation on the database: idempotent all-or-nothing imports, the keyboard-first review queue,
import jobs run by the Celery task, the commands, dialogues from comment chains, attribution export."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotation import selectors
from annotation.models import Example, ExampleRevision, ImportJob, Status
from annotation.datasets.models import DatasetRow
from annotation.services import curation
from annotation.datasets.services import freeze_dataset
from annotation.tasks import run_import_job
from tests.dumps import answer, question, write_site
from tests.timing import scaled

pytestmark = pytest.mark.django_db

PHYSICS, COOKING = "physics.stackexchange.com", "cooking.stackexchange.com"


@pytest.fixture
def dump(tmp_path):
    rows = []
    for i in range(3):
        rows += [question(2 * i + 1, f"Why does optical phenomenon {i} happen at dusk?", score=90 - i), answer(2 * i + 2, 2 * i + 1)]
    write_site(tmp_path, PHYSICS, rows,
               comments=[{"Id": "7", "PostId": "2", "Score": "1", "Text": "Does it work at dawn too?", "UserId": "11"},
                         {"Id": "8", "PostId": "2", "Score": "2", "Text": "Yes, by symmetry of the path through air.", "UserId": "22"}],
               users=[{"Id": "22", "DisplayName": "Grace"}])
    write_site(tmp_path, COOKING, [question(1, "How long should an egg be boiled for a soft yolk?"), answer(2, 1)])
    return tmp_path


def import_dump(path, user=None, **params):
    return curation.import_and_save(importer="stackexchange", path=str(path), params={"title_prompt_share": 1.0, **params}, user=user)


def test_import_creates_candidates_with_provenance_and_a_rerun_creates_none(dump, researcher):
    first = import_dump(dump, researcher)
    assert (first.created, first.existing) == (4, 0)
    examples = Example.objects.order_by("source_key")
    assert {e.status for e in examples} == {Status.CANDIDATE}
    assert [e.source for e in examples] == ["stackexchange_other"] + ["stackexchange_stem"] * 3
    example = examples.get(source_key=f"stackexchange:{PHYSICS}:1")
    assert example.provenance["licence"] == "CC BY-SA 3.0" and example.provenance["author"] == "Grace"
    assert example.turns.count() == 2 and example.revisions.get().action == ExampleRevision.Action.IMPORTED
    again = import_dump(dump, researcher)
    assert (again.created, again.existing) == (0, 4) and Example.objects.count() == 4


def test_rejected_candidates_are_not_proposed_again(dump, researcher):
    import_dump(dump, researcher)
    example = Example.objects.get(source_key=f"stackexchange:{COOKING}:1")
    curation.reject_candidate(example_id=example.pk, user=researcher, expected_version=example.version)
    import_dump(dump, researcher)
    assert Example.objects.get(source_key=example.source_key).status == Status.REJECTED
    assert Example.objects.count() == 4


def test_a_broken_file_in_the_batch_leaves_the_database_untouched(dump, researcher):
    posts = dump / COOKING / "Posts.xml"
    posts.write_bytes(posts.read_bytes()[:-40])
    with pytest.raises(curation.InputError) as stopped:
        import_dump(dump, researcher)
    assert "cooking" in stopped.value.file
    assert not Example.objects.exists()


def test_a_failure_inside_the_database_write_rolls_back_the_whole_batch(dump, researcher, monkeypatch):
    batch = curation.IMPORTERS["stackexchange"].run(dump, curation.build_params("stackexchange", {}))
    batch.candidates[-1].split = "nonsense"  # violates the split check constraint in the last chunk
    monkeypatch.setattr(curation, "SAVE_BATCH", 1)
    with pytest.raises(Exception):
        curation.save_candidates(candidates=batch.candidates, user=researcher)
    assert not Example.objects.exists()


def test_accepting_a_candidate_moves_the_quota(dump, researcher):
    import_dump(dump, researcher)
    example = Example.objects.filter(source="stackexchange_stem").first()

    def approved() -> int:
        return next(c.approved for c in selectors.quota_dashboard().cells if c.quota.source == "stackexchange_stem" and not c.quota.flag)

    assert approved() == 0
    curation.accept_candidate(example_id=example.pk, user=researcher, expected_version=example.version)
    example.refresh_from_db()
    assert example.status == Status.APPROVED and example.reviewed_by == researcher and approved() == 1
    with pytest.raises(curation.ValidationError):
        curation.accept_candidate(example_id=example.pk, user=researcher, expected_version=example.version)


def test_review_page_shows_cleaned_text_beside_the_raw_diff(client, dump, researcher, django_assert_max_num_queries):
    import_dump(dump, researcher)
    client.force_login(researcher)
    with django_assert_max_num_queries(14):
        page = client.get(reverse("annotation:candidate_review")).content.decode()
    assert 'data-key="a"' in page and 'data-key="e"' in page and 'data-key="r"' in page
    assert "Diff against the raw text" in page and 'class="del">&lt;p&gt;Shorter wavelengths' in page
    assert 'id="quota-table"' in page and "4 waiting" in page
    filtered = client.get(reverse("annotation:candidate_review"), {"community": COOKING}).content.decode()
    assert "How long should an egg be boiled" in filtered and "1 waiting" in filtered


def test_a_keystroke_decision_over_htmx_returns_the_next_candidate_and_fresh_quotas(client, dump, researcher):
    import_dump(dump, researcher)
    client.force_login(researcher)
    first = selectors.candidate_queue(source="stackexchange_stem").first()
    response = client.post(reverse("annotation:candidate_decide", args=[first.pk]),
                           {"decision": "accept", "version": first.version, "source": "stackexchange_stem"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "2 waiting" in body
    assert 'id="curation-quotas" hx-swap-oob="true"' in body and "Accepted" in body
    assert Example.objects.get(pk=first.pk).status == Status.APPROVED
    second = selectors.candidate_queue(source="stackexchange_stem").first()
    stale = client.post(reverse("annotation:candidate_decide", args=[second.pk]),
                        {"decision": "reject", "version": second.version - 1}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 409 and Example.objects.get(pk=second.pk).status == Status.CANDIDATE
    client.post(reverse("annotation:candidate_decide", args=[second.pk]), {"decision": "reject", "version": second.version})
    assert Example.objects.get(pk=second.pk).status == Status.REJECTED


def test_a_comment_chain_becomes_a_multi_turn_candidate_once(client, dump, researcher):
    import_dump(dump, researcher)
    example = Example.objects.get(source_key=f"stackexchange:{PHYSICS}:1")
    client.force_login(researcher)
    response = client.post(reverse("annotation:candidate_dialogue", args=[example.pk]))
    dialogue = Example.objects.get(source_key=f"{example.source_key}:dialogue")
    assert response.url == reverse("annotation:example_edit", args=[dialogue.pk])
    assert dialogue.is_multi_turn and dialogue.status == Status.CANDIDATE
    assert [t.text for t in dialogue.turns.all()][2:] == ["Does it work at dawn too?", "Yes, by symmetry of the path through air."]
    client.post(reverse("annotation:candidate_dialogue", args=[example.pk]))
    assert Example.objects.filter(is_multi_turn=True).count() == 1
    lonely = Example.objects.get(source_key=f"stackexchange:{COOKING}:1")
    with pytest.raises(curation.ValidationError):
        curation.start_dialogue(example_id=lonely.pk, user=researcher)


def test_import_job_started_from_the_browser_runs_as_a_task_and_reports(client, dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    client.force_login(researcher)
    response = client.post(reverse("annotation:import_start"),
                           {"kind": "stackexchange", "path": PHYSICS, "seed": "4", "parameters": '{"stem_target": 2}'})
    job = ImportJob.objects.get()
    assert response.url == reverse("annotation:import_job", args=[job.pk]) and job.state == ImportJob.State.QUEUED
    assert job.parameters == {"stem_target": 2, "seed": 4}
    polling = client.get(reverse("annotation:import_job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in polling
    assert run_import_job.apply(args=[job.pk]).get() == ImportJob.State.SUCCEEDED
    job.refresh_from_db()
    assert (job.created_count, job.percent, job.bytes_done) == (2, 100, job.bytes_total)
    assert job.report["rejected"]["not_sampled"] == 1
    done = client.get(reverse("annotation:import_job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in done and "not_sampled" in done
    # A re-delivered task finds the job finished and creates nothing.
    run_import_job.apply(args=[job.pk])
    assert Example.objects.count() == 2


def test_a_job_on_a_broken_dump_fails_with_file_and_line_and_saves_nothing(dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    posts = dump / PHYSICS / "Posts.xml"
    posts.write_bytes(posts.read_bytes()[:-40])
    job = curation.create_import_job(kind="stackexchange", path=PHYSICS, parameters={}, user=researcher)
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and "Posts.xml, line" in job.error and not Example.objects.exists()


def test_import_paths_must_stay_inside_the_dumps_folder(client, dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump / PHYSICS
    client.force_login(researcher)
    response = client.post(reverse("annotation:import_start"), {"kind": "stackexchange", "path": "../cooking.stackexchange.com"})
    assert response.status_code == 422 and not ImportJob.objects.exists()
    unknown = client.post(reverse("annotation:import_start"), {"kind": "stackexchange", "path": ".", "parameters": '{"tempreature": 2}'})
    assert unknown.status_code == 422 and "tempreature" in unknown.content.decode()


SITES_FILE_PAYLOADS = ["/etc/passwd", "../../../../../../etc/passwd", "/nonexistent/sites.json", "../outside.json", "escape/sites.json"]


def test_a_site_list_from_the_browser_must_lie_in_the_dumps_folder_and_never_says_what_exists_outside(
        client, dump, researcher, settings, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "sites.json").write_text("{not json")  # exists outside, and would say so when read
    settings.LIMA_DUMPS_DIR = dump
    (dump / "escape").symlink_to(outside)
    client.force_login(researcher)
    messages = {}
    for sites_file in SITES_FILE_PAYLOADS:
        with pytest.raises(curation.ValidationError) as error:
            curation.create_import_job(kind="stackexchange", path=PHYSICS, parameters={"sites_file": sites_file}, user=researcher)
        messages[sites_file] = error.value.message_dict["parameters"]
        response = client.post(reverse("annotation:import_start"),
                               {"kind": "stackexchange", "path": PHYSICS, "parameters": json.dumps({"sites_file": sites_file})})
        assert response.status_code == 422 and "sites_file" in response.content.decode()
    assert not ImportJob.objects.exists()
    # Outside the folder (parent paths, a symlink out of it) the answer is the same, whether the file exists or not.
    outside_messages = {tuple(messages[p]) for p in ("../../../../../../etc/passwd", "../outside.json", "escape/sites.json")}
    assert outside_messages == {(f"sites_file must lie under {dump.resolve()}",)}
    # Inside it, a missing file is named as missing below the folder (which is what "/etc/passwd" means there).
    for sites_file in ("/etc/passwd", "/nonexistent/sites.json"):
        assert messages[sites_file] == [f"{sites_file!r} does not exist under {dump.resolve()}"]


def test_a_stored_job_naming_a_site_list_outside_the_dumps_folder_fails_without_reading_it(dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    job = ImportJob.objects.create(kind="stackexchange", path=PHYSICS, parameters={"sites_file": "../../../../../../etc/passwd"},
                                   created_by=researcher)
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.error == f"sites_file must lie under {dump.resolve()}"


def test_a_site_list_inside_the_dumps_folder_is_used(dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    (dump / "lists").mkdir()
    (dump / "lists" / "sites.json").write_text(json.dumps({"stem": [], "other": [], "excluded": [PHYSICS, COOKING]}))
    job = curation.create_import_job(kind="stackexchange", path=".", parameters={"sites_file": "lists/sites.json"}, user=researcher)
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED and job.created_count == 0  # every site excluded by that list


def test_commands_print_a_per_rule_summary_and_are_idempotent(dump, researcher):
    out = io.StringIO()
    call_command("import_stackexchange", str(dump), "--no-progress", "--user", researcher.username, "--stem-target", "2",
                 "--site-categories", "cooking.stackexchange.com=excluded", stdout=out)
    text = out.getvalue()
    assert "read 3, kept 2" in text and "rejected by not_sampled: 1" in text and "created 2 candidates" in text
    out = io.StringIO()
    call_command("import_stackexchange", str(dump), "--no-progress", "--stem-target", "2",
                 "--site-categories", "cooking.stackexchange.com=excluded", stdout=out)
    assert "created 0 candidates; 2 were already imported" in out.getvalue()
    dry = io.StringIO()
    call_command("import_stackexchange", str(dump), "--no-progress", "--dry-run", stdout=dry)
    assert "would create 2 candidates; 2 were already imported" in dry.getvalue() and Example.objects.count() == 2
    real = io.StringIO()
    call_command("import_stackexchange", str(dump), "--no-progress", stdout=real)  # the dry run said what this does
    assert "created 2 candidates; 2 were already imported" in real.getvalue() and Example.objects.count() == 4


def test_command_stops_on_bad_input_naming_file_and_line(tmp_path):
    (tmp_path / "wikihow.jsonl").write_text('{"title": "How to Cook Rice", "text": "Rinse')
    with pytest.raises(CommandError, match=r"stopped, nothing was saved: .*wikihow.jsonl, line 1"):
        call_command("import_wikihow", str(tmp_path / "wikihow.jsonl"), "--no-progress")


def test_every_importer_command_saves_candidates(tmp_path):
    from tests.dumps import ni_task, write_ndjson, write_ni_task, write_wikihow_csv

    write_wikihow_csv(tmp_path / "wh" / "wikihowAll.csv", [{"headline": "h", "title": "How to Cook Rice", "text": "Rinse the rice. " * 30}])
    write_ndjson(tmp_path / "rd" / "RS_2020.zst", [{"id": "q1", "subreddit": "AskReddit", "title": "What is your favourite tree?", "score": 9}],
                 compress=True)
    write_ni_task(tmp_path / "ni", "task001_summary", ni_task())
    for command, folder in (("import_wikihow", "wh"), ("import_reddit", "rd"), ("import_natural_instructions", "ni")):
        call_command(command, str(tmp_path / folder), "--no-progress", stdout=io.StringIO())
    assert sorted(Example.objects.values_list("source", "split")) == [
        ("natural_instructions", "train"), ("reddit_askreddit", "test"), ("wikihow", "train")]


def test_freezing_keeps_attribution_beside_an_unchanged_gair_lima_export(client, dump, researcher):
    import_dump(dump, researcher)
    for example in Example.objects.filter(split="train"):
        curation.accept_candidate(example_id=example.pk, user=researcher, expected_version=example.version)
    dataset = freeze_dataset(name="lima-train-se", split="train", user=researcher)
    row = DatasetRow.objects.filter(dataset=dataset).order_by("position").first()
    assert row.attribution["licence"] == "CC BY-SA 3.0" and row.attribution["url"].startswith("https://")
    client.force_login(researcher)
    jsonl = b"".join(client.get(reverse("datasets:dataset_export", args=[dataset.pk, "jsonl"])).streaming_content).decode()
    assert all(set(json.loads(line)) == {"conversations", "source"} for line in jsonl.splitlines())
    credits = b"".join(client.get(reverse("datasets:dataset_attribution", args=[dataset.pk])).streaming_content).decode()
    lines = credits.splitlines()
    assert lines[0] == "position,source,community,url,author,licence,post_id" and len(lines) == 5
    assert f"https://{PHYSICS}/a/2,Grace,CC BY-SA 3.0,2" in credits


@pytest.mark.django_db(transaction=True)
def test_import_started_in_the_browser_runs_on_a_real_celery_worker(client, researcher, start_worker, settings):
    import shutil
    import time
    import uuid
    from pathlib import Path

    # The worker process reads the same LIMA_VAR_DIR, so the dump goes where both look.
    name = f"test-{uuid.uuid4().hex[:8]}"
    root = Path(settings.VAR_DIR) / "dumps" / name
    write_site(root, PHYSICS, [question(1, "Why is the sky blue during the day?"), answer(2, 1)])
    try:
        start_worker()
        client.force_login(researcher)
        client.post(reverse("annotation:import_start"), {"kind": "stackexchange", "path": name})
        job = ImportJob.objects.get()
        deadline = time.monotonic() + scaled(120)
        while not job.finished and time.monotonic() < deadline:
            time.sleep(0.5)
            job.refresh_from_db()
        assert job.state == ImportJob.State.SUCCEEDED, job.error or job.state
        assert job.created_count == 1 and Example.objects.get().source_key == f"stackexchange:{PHYSICS}:1"
        assert "Created 1 candidate;" in client.get(reverse("annotation:import_job", args=[job.pk])).content.decode()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_job_that_hits_an_unexpected_error_ends_failed_with_the_message(dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    # A category the importer does not know raises a plain ValueError deep inside it (not an InputError):
    # the job used to stay "Running 0%" forever.
    job = ImportJob.objects.create(kind="stackexchange", path=PHYSICS, created_by=researcher,
                                   parameters={"site_categories": {PHYSICS: "astronomy"}})
    assert run_import_job.apply(args=[job.pk]).get() == ImportJob.State.FAILED
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.finished_at is not None
    assert job.error == ("the import stopped on an unexpected error: ValueError: site 'physics.stackexchange.com': "
                         "category must be stem, other or excluded, not 'astronomy'")


def test_a_running_job_without_progress_for_too_long_is_marked_failed(researcher, settings):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.tasks import fail_stale_import_jobs

    settings.LIMA_IMPORT_STALE_SECONDS = 600
    now = timezone.now()
    stale = ImportJob.objects.create(kind="wikihow", path="w.csv", created_by=researcher, state=ImportJob.State.RUNNING,
                                     started_at=now - timedelta(hours=2), heartbeat_at=now - timedelta(minutes=11))
    alive = ImportJob.objects.create(kind="wikihow", path="w.csv", created_by=researcher, state=ImportJob.State.RUNNING,
                                     started_at=now - timedelta(hours=2), heartbeat_at=now - timedelta(minutes=9))
    queued = ImportJob.objects.create(kind="wikihow", path="w.csv", created_by=researcher)
    assert fail_stale_import_jobs.apply().get() == 1
    stale.refresh_from_db()
    assert stale.state == ImportJob.State.FAILED and stale.finished_at is not None
    assert stale.error.startswith("no progress for 10 minutes: the worker running this import stopped")
    assert ImportJob.objects.get(pk=alive.pk).state == ImportJob.State.RUNNING
    assert ImportJob.objects.get(pk=queued.pk).state == ImportJob.State.QUEUED
    assert any(entry["task"] == "annotation.tasks.fail_stale_import_jobs" for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_a_running_job_reports_its_heartbeat_with_its_progress(dump, researcher, settings):
    settings.LIMA_DUMPS_DIR = dump
    job = curation.create_import_job(kind="stackexchange", path=PHYSICS, parameters={}, user=researcher)
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED and job.heartbeat_at is not None and job.heartbeat_at >= job.started_at


def test_a_dump_of_an_unknown_site_exits_non_zero_naming_the_site_and_the_fix(tmp_path):
    write_site(tmp_path, "dump-2024", [question(1, "Why is the sky blue during the day?"), answer(2, 1)])
    with pytest.raises(CommandError, match=r"stopped, nothing was saved: .*unknown Stack Exchange site "
                                           r"'dump-2024.stackexchange.com'.*--site HOST"):
        call_command("import_stackexchange", str(tmp_path / "dump-2024"), "--no-progress")
    out = io.StringIO()
    call_command("import_stackexchange", str(tmp_path / "dump-2024"), "--no-progress", "--site", PHYSICS, stdout=out)
    assert "created 1 candidates" in out.getvalue()
    assert Example.objects.get().provenance["community"] == PHYSICS
