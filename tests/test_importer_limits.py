"""Importers stop on input built to exhaust memory: an endless line (plain or in a .zst), a .zst that expands
too far, a Posts.xml of stray elements, a task file over the size limit. Each stops with its file and line,
after reading only up to the limit (small limits here; `make bench` measures the full-size bombs' memory)."""

from __future__ import annotations

import json

import pytest

from annotation.importers.batch import InputError
from annotation.importers.natural_instructions import import_natural_instructions
from annotation.importers.reddit import import_reddit
from annotation.importers.stackexchange import import_stackexchange
from annotation.importers.wikihow import import_wikihow
from annotation.input_limits import InputLimits
from tests.dumps import question, write_site
from tests.hostile_inputs import posts_xml_element_bomb, zst_line_bomb, zst_ratio_bomb

SMALL = InputLimits(max_line_bytes=16 * 1024, max_decompression_ratio=50, max_xml_elements=1000, max_file_bytes=64 * 1024)


def test_a_zst_holding_one_endless_line_stops_at_the_line_limit(tmp_path):
    bomb = zst_line_bomb(tmp_path / "RS_2023-01.zst", line_bytes=8 * 1024 * 1024)
    assert bomb.stat().st_size < 2048
    with pytest.raises(InputError) as caught:
        # A ratio cap high enough to let the line limit act (at the default, 1,000, the ratio would stop it first).
        import_reddit(tmp_path, limits=InputLimits(max_line_bytes=16 * 1024, max_decompression_ratio=10**6))
    assert str(caught.value) == f"{bomb}, line 1: the line is longer than 16 KiB (LIMA_MAX_LINE_BYTES)"


def test_a_zst_that_expands_too_far_stops_with_the_ratio(tmp_path):
    bomb = zst_ratio_bomb(tmp_path / "RS_2023-01.zst", decompressed_bytes=4 * 1024 * 1024)
    with pytest.raises(InputError, match=r"decompresses to more than 50 times its size .*LIMA_MAX_DECOMPRESSION_RATIO"):
        import_reddit(bomb, limits=SMALL)


def test_a_plain_ndjson_line_over_the_limit_stops_the_import(tmp_path):
    dump = tmp_path / "RS_2023-01.ndjson"
    dump.write_text(json.dumps({"id": "a", "subreddit": "AskReddit", "title": "x" * 20_000, "score": 1}) + "\n")
    with pytest.raises(InputError, match="line 1: the line is longer than 16 KiB"):
        import_reddit(dump, limits=SMALL)


def test_a_posts_xml_of_stray_elements_stops_at_the_first_one(tmp_path):
    posts = posts_xml_element_bomb(tmp_path / "cooking.stackexchange.com" / "Posts.xml", elements=50_000)
    with pytest.raises(InputError) as caught:
        import_stackexchange(tmp_path, limits=SMALL)
    assert str(caught.value) == (f"{posts}, line 2: unexpected element <a> (a Stack Exchange dump holds only <row> elements "
                                 f"under its root)")


def test_a_posts_xml_with_more_rows_than_the_limit_stops(tmp_path):
    write_site(tmp_path, "cooking.stackexchange.com", [question(i, f"Why does water boil {i}?", score=1) for i in range(1, 1200)])
    with pytest.raises(InputError, match="line 1003: more than 1,000 rows .LIMA_MAX_XML_ELEMENTS."):
        import_stackexchange(tmp_path, limits=SMALL)


def test_a_posts_xml_row_over_the_line_limit_stops(tmp_path):
    write_site(tmp_path, "cooking.stackexchange.com", [question(1, "Why does water boil?", body="<p>" + "x" * 40_000 + "</p>")])
    with pytest.raises(InputError, match="line 3: the line is longer than 16 KiB"):
        import_stackexchange(tmp_path, limits=SMALL)


def test_a_wikihow_csv_line_over_the_limit_stops(tmp_path):
    dump = tmp_path / "wikihowAll.csv"
    dump.write_text("headline,title,text\nh,How to Brew Tea,short\nh,How to Wait," + "x" * 20_000 + "\n")
    with pytest.raises(InputError, match="line 3: the line is longer than 16 KiB"):
        import_wikihow(dump, limits=SMALL)


def test_a_task_file_over_the_size_limit_is_not_read_whole(tmp_path):
    task = tmp_path / "tasks" / "task001_big.json"
    task.parent.mkdir()
    task.write_text(json.dumps({"Definition": ["x" * 100_000], "Categories": ["Summarization"], "Instances": []}))
    with pytest.raises(InputError, match="larger than 64 KiB, the most one file may be read whole"):
        import_natural_instructions(task.parent, limits=SMALL)


@pytest.mark.parametrize("value", ['"\\ud800"', "[" * 5000 + "]" * 5000, "9" * 5000, '"a\\u0000b"'])
def test_a_pushshift_record_the_database_cannot_store_is_skipped_with_its_line(tmp_path, value):
    dump = tmp_path / "RS_2023-01.ndjson"
    good = {"id": "b", "subreddit": "AskReddit", "title": "Why is the sky blue?", "score": 10}
    dump.write_text('{"id": "a", "subreddit": "AskReddit", "title": %s, "score": 5}\n%s\n' % (value, json.dumps(good)))
    batch = import_reddit(dump)
    assert batch.report.skipped_count == 1 and batch.report.skipped[0].line == 1
    assert [candidate.conversations for candidate in batch.candidates] == [["Why is the sky blue?"]]
