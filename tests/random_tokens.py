"""What a page carries that is random on every request, taken out before a test looks for words or ids in it.

Django's masked CSRF token is 64 random letters and digits on every page (in `hx-headers` and each form): looked
through as text it holds "nan" (one page in 480), "runid" or a run of digits now and then. A UUID's hex digits
hold runs of decimal digits. Neither says anything about a model, a run or a side, so checks that read a whole
page for a forbidden word or id read it without them.
"""

import re

CSRF_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
UUID = re.compile(r"(?<![0-9A-Fa-f])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Fa-f])")


def without_random_tokens(text: str) -> str:
    return UUID.sub("<uuid>", CSRF_TOKEN.sub("<token>", text))
