"""The API's JSON parser (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's own turns only ValueError into 400: a body of 100,000 nested arrays (RecursionError) was a 500,
and a lone surrogate (`"\\ud800"`) or a NUL parsed fine and failed later, when PostgreSQL refused the
text. This one reads at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes and parses with
annotation.input_limits.load_json, so each of those is a 400 that names the problem.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from annotation.input_limits import JsonProblem, load_json


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if stream is None:
            body = b""
        else:
            body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise ParseError(f"JSON parse error - the body is larger than {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)")
        try:
            return load_json(body.decode(encoding))
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - not {encoding} ({exc.reason} at byte {exc.start})") from None
        except JsonProblem as problem:
            raise ParseError(f"JSON parse error - {problem}") from None
