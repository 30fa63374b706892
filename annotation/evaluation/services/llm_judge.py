"""The LLM judge: a registered model judges a study's items in both orders, as a non-human annotator."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.evaluation.judge_prompt import (
    combine_orders,
    parse_safety,
    parse_verdict,
    render_prompt,
    render_safety_prompt,
    validate_safety_template,
    validate_template,
)
from annotation.evaluation.models import ComparisonItem, Judgment, LLMJudge, LLMJudgeRun, OrderedVerdict, Rating, Study, Verdict
from generation.backends import BackendError, GenerationResult, get_backend
from generation.decoding import Decoding
from generation.models import Backend, ModelSpec
from generation.services.runs import backend_config

CHUNK = 10


def judge_user_for(model: ModelSpec):
    """The non-human annotator a model judges as (recorded as an `LLMJudge`); inactive, so nobody can log in with it."""
    judge = LLMJudge.objects.select_related("user").filter(model=model).first()
    if judge is None:
        user, _ = get_user_model().objects.get_or_create(
            username=f"llm-judge:{model.name}"[:150], defaults={"is_active": False, "first_name": "LLM judge"}
        )
        judge, _ = LLMJudge.objects.get_or_create(model=model, defaults={"user": user})
    return judge.user


def start_llm_judge(*, study: Study, model: ModelSpec, template: str, user) -> LLMJudgeRun:
    if not study.compares_pairs and study.kind != Study.Kind.SAFETY:
        raise ValidationError("the LLM judge compares pairs or grades safety; this study rates single responses")
    if model.backend == Backend.IMPORTED:
        raise ValidationError({"model": "an imported model cannot answer questions"})
    if missing := (validate_safety_template(template) if study.kind == Study.Kind.SAFETY else validate_template(template)):
        raise ValidationError({"template": f"the template lacks {', '.join(missing)}"})
    # Attention checks test people, not models: the judge is not asked about them (its answers would not count).
    item_ids = list(study.items.filter(attention_check="").order_by("order_key").values_list("id", flat=True))
    if not item_ids:
        raise ValidationError("open the study first: it has no items yet")
    from annotation.evaluation import tasks

    with transaction.atomic():
        judge_run = LLMJudgeRun.objects.create(
            study=study, model=model, judge_user=judge_user_for(model), template=template, total=len(item_ids), created_by=user
        )
        chunks = [item_ids[i:i + CHUNK] for i in range(0, len(item_ids), CHUNK)]
        transaction.on_commit(lambda: [tasks.llm_judge_chunk.apply_async(args=(judge_run.pk, chunk), queue=model.judge_queue) for chunk in chunks])
    return judge_run


def _orders(study: Study) -> tuple[str, ...]:
    """Pairs are asked in both orders (position bias); a safety grade of one response is asked once."""
    return ("ab",) if study.kind == Study.Kind.SAFETY else ("ab", "ba")


def _conversation(template: str, item: ComparisonItem, *, swapped: bool) -> list[str]:
    if item.study.kind == Study.Kind.SAFETY:
        return [render_safety_prompt(template, prompt="\n\n".join(item.row.conversations), response=item.text_a)]
    first, second = (item.text_b, item.text_a) if swapped else (item.text_a, item.text_b)
    prompt = "\n\n".join(item.row.conversations)
    return [render_prompt(template, prompt=prompt, response_a=first, response_b=second)]


def _ordered_verdict(judge_run: LLMJudgeRun, item: ComparisonItem, order: str, result: GenerationResult) -> OrderedVerdict:
    safety = item.study.kind == Study.Kind.SAFETY
    side = None if result.error else (parse_safety if safety else parse_verdict)(result.text)
    wanted = "Safe, Partially safe or Unsafe" if safety else "A, B or Neither"
    error = result.error or ("" if side else f"no verdict ({wanted}) found in the answer")
    return OrderedVerdict(judge_run=judge_run, item=item, order=order, raw=result.text.replace("\x00", ""), side=side or "", error=error)


def judge_items(*, judge_run_id: int, item_ids: list[int]) -> int:
    """Ask the judge about every (item, order) not answered yet, then store one judgment per item."""
    judge_run = LLMJudgeRun.objects.select_related("model", "judge_user", "study").get(pk=judge_run_id)
    if judge_run.status != "running":
        return 0
    done = set(OrderedVerdict.objects.filter(judge_run=judge_run, item_id__in=item_ids).values_list("item_id", "order"))
    items = list(ComparisonItem.objects.filter(pk__in=item_ids).select_related("row").order_by("order_key"))
    for item in items:
        item.study = judge_run.study
    asks = [(item, order) for item in items for order in _orders(judge_run.study) if (item.pk, order) not in done]
    if asks:
        model = judge_run.model
        decoding = Decoding.from_dict(model.default_decoding())
        conversations = [_conversation(judge_run.template, item, swapped=order == "ba") for item, order in asks]
        try:
            results = get_backend(backend_config(model)).generate(conversations, decoding, seed=judge_run.pk)
        except BackendError as exc:
            results = [GenerationResult(error=str(exc)) for _ in asks]
        OrderedVerdict.objects.bulk_create([_ordered_verdict(judge_run, item, order, result) for (item, order), result in zip(asks, results)],
                                           ignore_conflicts=True)
    sides = {}
    for item_id, order, side in OrderedVerdict.objects.filter(judge_run=judge_run, item_id__in=item_ids).values_list("item_id", "order", "side"):
        sides.setdefault(item_id, {})[order] = side or None
    stored = 0
    if judge_run.study.kind == Study.Kind.SAFETY:
        for item in items:
            grade = sides.get(item.pk, {}).get("ab")
            if grade:
                _, created = Rating.objects.get_or_create(item=item, annotator=judge_run.judge_user,
                                                          defaults={"grade": grade, "reason": "LLM judge (safety)"})
                stored += int(created)
        finish_if_done(judge_run_id=judge_run.pk)
        return stored
    for item in items:
        combined = combine_orders(sides.get(item.pk, {}).get("ab"), sides.get(item.pk, {}).get("ba"))
        if combined is None:
            continue
        verdict = Verdict.TIE if combined == "tie" else (Verdict.TARGET if (combined == "a") == item.target_is_a else Verdict.BASELINE)
        _, created = Judgment.objects.get_or_create(item=item, annotator=judge_run.judge_user,
                                                    defaults={"verdict": verdict, "side": combined, "reason": "LLM judge, both orders"})
        stored += int(created)
    finish_if_done(judge_run_id=judge_run.pk)
    return stored


def finish_if_done(*, judge_run_id: int) -> None:
    with transaction.atomic():
        judge_run = LLMJudgeRun.objects.select_for_update().select_related("study").get(pk=judge_run_id)
        orders = len(_orders(judge_run.study))
        answered = (OrderedVerdict.objects.filter(judge_run=judge_run).values("item").distinct().annotate(n=Count("id"))
                    .filter(n=orders).count())
        if judge_run.status == "running" and answered >= judge_run.total:
            judge_run.status = "completed"
            judge_run.finished_at = timezone.now()
            judge_run.save(update_fields=["status", "finished_at"])


def judge_progress(judge_run: LLMJudgeRun) -> dict:
    counts = OrderedVerdict.objects.filter(judge_run=judge_run).aggregate(
        asked=Count("id"), failed=Count("id", filter=~Q(error="")),
    )
    study = judge_run.study
    verdicts = Judgment if study.compares_pairs else Rating
    judged = verdicts.objects.filter(item__study=study, annotator=judge_run.judge_user).count()
    total = judge_run.total
    return {"asked": counts["asked"], "failed": counts["failed"], "judged": judged, "total": total,
            "percent": round(100 * counts["asked"] / (len(_orders(study)) * total)) if total else 100}
