"""Reddit importer: Pushshift NDJSON, plain and .zst; WritingPrompts stories and AskReddit test prompts (no database)."""

from __future__ import annotations

import pytest

from annotation.importers import reddit
from annotation.importers.batch import InputError
from annotation.importers.reddit import RedditParams, import_reddit
from tests.dumps import write_ndjson

STORY = "The dragon had never held knitting needles before, but the winter was long. " * 12


def submission(post_id: str, title: str, *, subreddit="WritingPrompts", score=500, **fields) -> dict:
    return {"id": post_id, "subreddit": subreddit, "title": title, "selftext": "", "score": score, "author": f"op_{post_id}",
            "permalink": f"/r/{subreddit}/comments/{post_id}/slug/", "over_18": False, "created_utc": 1500000000, **fields}


def comment(comment_id: str, post_id: str, *, score=100, body=STORY, author="writer", parent=None) -> dict:
    return {"id": comment_id, "link_id": f"t3_{post_id}", "parent_id": parent or f"t3_{post_id}", "body": body, "score": score,
            "author": author, "subreddit": "WritingPrompts"}


def dump(tmp_path, submissions, comments, *, compress=False):
    suffix = ".zst" if compress else ".ndjson"
    write_ndjson(tmp_path / f"RS_2019-04{suffix}", submissions, compress=compress)
    write_ndjson(tmp_path / f"RC_2019-04{suffix}", comments, compress=compress)
    return tmp_path


@pytest.mark.parametrize("compress", [False, True])
def test_writing_prompt_gets_its_top_voted_story(tmp_path, compress):
    root = dump(tmp_path, [submission("a1", "[WP] A dragon learns to knit")],
                [comment("c1", "a1", score=50, body="A weaker story. " * 60), comment("c2", "a1", score=900),
                 comment("c3", "a1", score=5000, author="AutoModerator", body="Rules: " * 100),
                 comment("c4", "a1", score=7000, parent="t1_c2", body="A reply to a story. " * 50)], compress=compress)
    [candidate] = import_reddit(root).candidates
    assert candidate.conversations == ["A dragon learns to knit", STORY.strip()]
    assert candidate.source == "reddit_writingprompts" and candidate.split == "train"
    assert candidate.provenance["comment_id"] == "c2" and candidate.provenance["author"] == "writer"
    assert candidate.provenance["url"] == "https://www.reddit.com/r/WritingPrompts/comments/a1/slug/"


def test_askreddit_top_posts_become_test_prompts_without_responses(tmp_path):
    root = dump(tmp_path, [submission(f"q{i}", f"What is the best advice you ever got, number {i}?", subreddit="AskReddit", score=i)
                           for i in range(5)], [])
    batch = import_reddit(root, RedditParams(askreddit_target=2))
    assert [(c.split, c.source, len(c.conversations)) for c in batch.candidates] == [("test", "reddit_askreddit", 1)] * 2
    assert [c.provenance["score"] for c in batch.candidates] == [4, 3]
    assert batch.report.rejected[reddit.NOT_SAMPLED] == 3


def test_posts_without_the_prompt_tag_nsfw_or_removed_are_rejected(tmp_path):
    root = dump(tmp_path, [
        submission("a1", "[WP] A dragon learns to knit"),
        submission("a2", "Meta: new rules for the subreddit"),
        submission("a3", "[WP] Something spicy", over_18=True),
        submission("a4", "[WP] A removed prompt", selftext="[removed]"),
        submission("z9", "A post elsewhere", subreddit="aww"),
    ], [comment(f"c{i}", f"a{i}") for i in range(1, 5)])
    batch = import_reddit(root)
    assert [c.provenance["post_id"] for c in batch.candidates] == ["a1"]
    assert batch.report.read == 4
    assert (batch.report.rejected[reddit.NOT_A_WRITING_PROMPT], batch.report.rejected[reddit.NSFW],
            batch.report.rejected[reddit.REMOVED]) == (1, 1, 1)


def test_stories_outside_the_length_bounds_or_missing_are_rejected(tmp_path):
    root = dump(tmp_path, [submission("a1", "[WP] Short"), submission("a2", "[WP] Long"), submission("a3", "[WP] Nobody wrote")],
                [comment("c1", "a1", body="Too short."), comment("c2", "a2", body="Far too long. " * 600)])
    batch = import_reddit(root)
    assert batch.candidates == []
    assert (batch.report.rejected[reddit.STORY_TOO_SHORT], batch.report.rejected[reddit.STORY_TOO_LONG],
            batch.report.rejected[reddit.NO_STORY]) == (1, 1, 1)


def test_most_upvoted_prompts_are_taken_first(tmp_path):
    subs = [submission(f"a{i}", f"[WP] Prompt number {i}", score=score) for i, score in enumerate([10, 900, 300])]
    root = dump(tmp_path, subs, [comment(f"c{i}", f"a{i}") for i in range(3)])
    batch = import_reddit(root, RedditParams(writingprompts_target=2))
    assert [c.provenance["score"] for c in batch.candidates] == [900, 300]


def test_a_malformed_line_is_skipped_and_reported(tmp_path):
    root = dump(tmp_path, [submission("a1", "[WP] A dragon learns to knit"), '{"id": "broken", ', {"id": "a2", "subreddit": "WritingPrompts"}],
                [comment("c1", "a1")])
    batch = import_reddit(root)
    assert len(batch.candidates) == 1
    assert [(p.file.endswith("RS_2019-04.ndjson"), p.line) for p in batch.report.skipped] == [(True, 2), (True, 3)]


def test_truncated_zst_stops_the_import(tmp_path):
    root = dump(tmp_path, [submission(f"a{i}", f"[WP] Prompt {i}") for i in range(200)], [comment("c1", "a1")], compress=True)
    path = root / "RS_2019-04.zst"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as stopped:
        import_reddit(root)
    assert stopped.value.file.endswith("RS_2019-04.zst") and stopped.value.line


def test_plain_file_cut_mid_record_stops_the_import(tmp_path):
    root = dump(tmp_path, [submission("a1", "[WP] A dragon learns to knit")], [comment("c1", "a1")])
    path = root / "RC_2019-04.ndjson"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError) as stopped:
        import_reddit(root)
    assert stopped.value.line == 1 and "truncated" in stopped.value.message


def test_non_utf8_dump_stops_the_import(tmp_path):
    path = tmp_path / "RS_2019-04.ndjson"
    path.write_bytes(b'{"id": "a1", "subreddit": "WritingPrompts", "title": "[WP] Caf\xe9", "score": 3}\n')
    with pytest.raises(InputError) as stopped:
        import_reddit(tmp_path)
    assert "UTF-8" in stopped.value.message and stopped.value.line == 1


def test_file_kind_is_told_by_content_when_the_name_does_not_say(tmp_path):
    write_ndjson(tmp_path / "a.ndjson", [comment("c1", "a1")])
    write_ndjson(tmp_path / "b.ndjson", [submission("a1", "[WP] A dragon learns to knit")])
    [candidate] = import_reddit(tmp_path).candidates
    assert candidate.provenance["comment_id"] == "c1"
