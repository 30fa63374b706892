from .conversations import Conversation, ConversationStudy, ConversationTurn, TurnRating
from .external import ExternalJudgment, ExternalJudgmentSet
from .judging import Assignment, ComparisonItem, Judgment, LLMJudge, LLMJudgeRun, OrderedVerdict, Rating, SafetyGrade, Study, Verdict

__all__ = [
    "Conversation",
    "ConversationStudy",
    "ConversationTurn",
    "TurnRating",
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
