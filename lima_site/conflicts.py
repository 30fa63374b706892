"""The services' one exception for "not in this state": what was asked is well formed and allowed to this person,
but the object's state refuses it (a closed study takes no verdicts, a completed run has nothing to retry). Below
every app (no Django, no DRF), so services raise it; the API's exception handler (lima_site.api) answers 409 with its
message, and the UI views word it for the page they render."""


class Conflict(Exception):
    """The object's state does not allow the action; the message says why, for the person who asked."""
