"""Statistics of a judging study, LIMA section 3 (no Django import; vectorised with numpy).

Inputs are plain records, so judgments from the database, from an import
(`annotation.evaluation.judgment_import`) or from a test all go through the same code:

- `PairwiseJudgment`: one annotator's verdict on one comparison item (one prompt, the target
  model's response against one baseline's), in model terms: target better, tie, baseline better.
- `GradeRecord`: one annotator's absolute Fail / Pass / Excellent grade of one response.
- `JudgeAnswer`: the LLM judge's answer for one item in one presentation order.

Every result is a dataclass with an explicit `insufficient` flag and a `message`; a statistic
that cannot be computed is `None`, never NaN. `report_as_dict` turns a report into JSON-ready
dicts.

The modules, each importing only those above it:

- `tables`: the input records, the verdict and grade names and codes, and `JudgmentTable`
  (judgments as integer-coded columns, built once and shared between statistics);
- `bootstrap`: `Interval` and the seeded cluster bootstrap;
- `win_rates`: Figure 1 per baseline;
- `agreement`: annotator-pair, group-pair and per-annotator agreement;
- `bias`: the LLM judge's position bias, side preference and length bias;
- `ratings`: the distribution of absolute grades;
- `report`: all of the above as one `StatisticsReport`, and `report_as_dict`.

Everything public is re-exported here, so callers write `from annotation.evaluation import stats`
and `stats.statistics_report(...)`. The functions `agreement` and `win_rates` share their
modules' names; here the names are the functions.

Choices, stated once:

- Win/tie/loss shares count every judgment: an item judged by three annotators contributes
  three verdicts (Figure 1 pools all annotators the same way). The confidence intervals come
  from a cluster bootstrap over prompts, so the judgments of one prompt are resampled together
  and the interval reflects prompt-to-prompt variation, not only annotator noise.
- Agreement needs one verdict per (item, annotator); repeated verdicts by the same annotator on
  the same item are dropped after the first and counted in `duplicates_ignored`.
- Group-pair agreement is the micro-average over all pairs of verdicts on a shared item (with
  LIMA's design, 50 items judged by everyone, this equals the average of the annotator pairs).
"""

from .agreement import (
    AgreementReport,
    AnnotatorAgreement,
    GroupPairAgreement,
    PairAgreement,
    agreement,
    annotator_summaries,
    tie_discounted_accuracy,
)
from .bias import LengthBias, LengthBin, PositionBias, SidePreference, length_bias, position_bias, side_preference
from .bootstrap import DEFAULT_RESAMPLES, Interval
from .ratings import RatingDistribution, rating_distribution
from .report import (
    DEFAULT_LLM_GROUPS,
    HUMAN_GROUP_LABEL,
    LLM_GROUP_LABEL,
    StatisticsReport,
    report_as_dict,
    statistics_report,
)
from .tables import (
    BASELINE,
    GRADES,
    TARGET,
    TIE,
    VERDICTS,
    GradeName,
    GradeRecord,
    JudgeAnswer,
    JudgmentTable,
    PairwiseJudgment,
    VerdictName,
)
from .win_rates import BaselineOutcome, win_rates

__all__ = [
    "BASELINE",
    "DEFAULT_LLM_GROUPS",
    "DEFAULT_RESAMPLES",
    "GRADES",
    "HUMAN_GROUP_LABEL",
    "LLM_GROUP_LABEL",
    "TARGET",
    "TIE",
    "VERDICTS",
    "AgreementReport",
    "AnnotatorAgreement",
    "BaselineOutcome",
    "GradeName",
    "GradeRecord",
    "GroupPairAgreement",
    "Interval",
    "JudgeAnswer",
    "JudgmentTable",
    "LengthBias",
    "LengthBin",
    "PairAgreement",
    "PairwiseJudgment",
    "PositionBias",
    "RatingDistribution",
    "SidePreference",
    "StatisticsReport",
    "VerdictName",
    "agreement",
    "annotator_summaries",
    "length_bias",
    "position_bias",
    "rating_distribution",
    "report_as_dict",
    "side_preference",
    "statistics_report",
    "tie_discounted_accuracy",
    "win_rates",
]
