from .curation import ImportJob
from .datasets import Dataset, DatasetRow
from .judging import Assignment, ComparisonItem, Judgment, LLMJudgeRun, OrderedVerdict, Rating, Study, Verdict
from .examples import AuthorGroup, AuthorProfile, Example, ExampleRevision, Quota, Role, Status, Turn

__all__ = [
    "Assignment",
    "ComparisonItem",
    "Judgment",
    "LLMJudgeRun",
    "OrderedVerdict",
    "Rating",
    "Study",
    "Verdict",
    "AuthorGroup",
    "AuthorProfile",
    "Dataset",
    "DatasetRow",
    "Example",
    "ExampleRevision",
    "ImportJob",
    "Quota",
    "Role",
    "Status",
    "Turn",
]
from .external import ExternalJudgment, ExternalJudgmentSet  # noqa: E402

__all__ += ["ExternalJudgment", "ExternalJudgmentSet"]
