from .external import ExternalJudgment, ExternalJudgmentSet
from .judging import Assignment, ComparisonItem, Judgment, LLMJudge, LLMJudgeRun, OrderedVerdict, Rating, SafetyGrade, Study, Verdict

__all__ = [
    "Assignment",
    "ComparisonItem",
    "ExternalJudgment",
    "ExternalJudgmentSet",
    "Judgment",
    "LLMJudge",
    "LLMJudgeRun",
    "OrderedVerdict",
    "Rating",
    "SafetyGrade",
    "Study",
    "Verdict",
]
