"""What the workers are doing and what waits: Celery's own view (inspect), the broker's queue lengths, and the
app's jobs as the database records them (generation runs, LLM judges, imports, training), with the stuck ones
called out. Reads only; the jobs page (views_jobs.py) renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from annotation.evaluation.models import Judgment, LLMJudgeRun
from annotation.models import ImportJob
from generation.models import GenerationRun, RunStatus
from lima_site import queues
from training.models import ACTIVE_STATES, TrainingRun

# How long Celery's remote control waits for the workers' replies: one page load waits at most this.
INSPECT_TIMEOUT = 1.0


def stuck_after() -> timedelta:
    """A running job without progress (a new response, verdict, import heartbeat or Slurm poll) for this long is stuck."""
    return timedelta(minutes=settings.LIMA_JOB_STUCK_MINUTES)


# --- Celery: workers and queues ----------------------------------------------------------------


@dataclass
class CeleryTask:
    """A task a worker holds: running (active), prefetched (reserved) or waiting for its ETA (scheduled)."""

    worker: str
    state: str
    name: str
    queue: str
    description: str
    url: str = ""
    started: datetime | None = None
    eta: str = ""
    run_id: int | None = None  # the task's first argument where it is a job's id


@dataclass
class QueueState:
    name: str
    description: str
    waiting: int | None  # messages in the broker not yet taken by a worker; None: the broker did not say
    consumers: list[str] = field(default_factory=list)  # workers consuming this queue (from inspect)
    running: int = 0
    reserved: int = 0


@dataclass
class CeleryView:
    queues: list[QueueState]
    tasks: list[CeleryTask]
    workers: list[str]
    inspect_error: str = ""  # why no worker could be asked (the embedded broker has no remote control)
    broker_error: str = ""


JUDGE_CHUNK_TASK = "annotation.evaluation.tasks.llm_judge_chunk"


def _describe(name: str, args, first: int | None) -> tuple[str, str]:
    """A researcher's reading of a task and a link to its job, from the task name and arguments."""
    args = args if isinstance(args, (list, tuple)) else []
    size = len(args[1]) if len(args) > 1 and isinstance(args[1], (list, tuple)) else None
    if name == "generation.tasks.generate_chunk" and first is not None:
        return f"Generation run #{first}: a chunk of {size} prompts", reverse("generation:run_detail", args=[first])
    if name == JUDGE_CHUNK_TASK and first is not None:
        return f"LLM judge run #{first}: a chunk of {size} items", ""  # linked to its study by _link_judge_tasks
    if name == "annotation.tasks.run_import_job" and first is not None:
        return f"Import job #{first}", reverse("annotation:import_job", args=[first])
    if name == "training.tasks.refresh_run" and first is not None:
        return f"Training run #{first}: refresh from the scheduler", reverse("training:run_detail", args=[first])
    return name.rsplit(".", 1)[-1].replace("_", " ").capitalize(), ""


def _first_id(args) -> int | None:
    return args[0] if isinstance(args, (list, tuple)) and args and isinstance(args[0], int) else None


def _task(worker: str, state: str, info: dict, *, eta: str = "") -> CeleryTask:
    name = info.get("name") or info.get("type") or "?"
    run_id = _first_id(info.get("args"))
    description, url = _describe(name, info.get("args"), run_id)
    started = info.get("time_start")
    return CeleryTask(
        worker=worker, state=state, name=name, queue=(info.get("delivery_info") or {}).get("routing_key") or "",
        description=description, url=url, eta=eta, run_id=run_id,
        started=datetime.fromtimestamp(started, tz=dt_timezone.utc) if isinstance(started, (int, float)) else None,
    )


def _queue_lengths(app) -> tuple[dict[str, int | None], str]:
    """Waiting messages per queue, asked of the broker with a passive declare (Redis and the SQLAlchemy transport
    both answer it); a queue the broker has never seen has none waiting."""
    lengths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            for name in queues.ALL:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # the broker does not know the queue (nothing was ever sent to it)
                    lengths[name] = 0
                    channel = connection.channel()
    except Exception as exc:
        return {name: None for name in queues.ALL}, f"the broker did not answer: {type(exc).__name__}: {exc}"
    return lengths, ""


def _link_judge_tasks(tasks: list[CeleryTask]) -> None:
    """An LLM judge's chunk names its judge run, whose page is its study's: one query for all of them."""
    judge_tasks = [task for task in tasks if task.name == JUDGE_CHUNK_TASK and task.run_id is not None]
    if not judge_tasks:
        return
    studies = dict(LLMJudgeRun.objects.filter(pk__in={task.run_id for task in judge_tasks}).values_list("pk", "study_id"))
    for task in judge_tasks:
        if task.run_id in studies:
            task.url = reverse("evaluation:study_detail", args=[studies[task.run_id]])


def celery_view(app=None) -> CeleryView:
    """Every queue with its waiting count and consumers, and every task the workers hold (running first)."""
    if app is None:
        from lima_site.celery import app
    lengths, broker_error = _queue_lengths(app)
    tasks: list[CeleryTask] = []
    consumers: dict[str, list[str]] = {}
    inspect_error = ""
    try:
        # The first call waits the whole timeout (it cannot know how many workers there are); the others ask
        # those workers by name and return as soon as each has answered.
        active_queues = app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
        if active_queues:
            inspector = app.control.inspect(timeout=INSPECT_TIMEOUT, destination=list(active_queues), limit=len(active_queues))
            active, reserved, scheduled = inspector.active() or {}, inspector.reserved() or {}, inspector.scheduled() or {}
        else:
            active, reserved, scheduled = {}, {}, {}
    except Exception as exc:
        active_queues, active, reserved, scheduled = {}, {}, {}, {}
        inspect_error = f"Celery's remote control failed: {type(exc).__name__}: {exc}"
    if not active_queues and not inspect_error:
        inspect_error = (
            f"No worker answered within {INSPECT_TIMEOUT:g} s: none is running, a worker with the solo pool (as in "
            "`make run`) is busy with a task and answers only between tasks, or the broker cannot carry Celery's remote "
            "control (the embedded SQLAlchemy broker cannot; Redis can). Queue lengths and the jobs below come from the "
            "broker and the database and are current either way.")
    for worker, worker_queues in active_queues.items():
        for queue in worker_queues:
            consumers.setdefault(queue.get("name", ""), []).append(worker)
    for worker, infos in active.items():
        tasks.extend(_task(worker, "running", info) for info in infos)
    for worker, infos in reserved.items():
        tasks.extend(_task(worker, "reserved", info) for info in infos)
    for worker, entries in scheduled.items():
        tasks.extend(_task(worker, "scheduled", entry.get("request") or {}, eta=entry.get("eta") or "") for entry in entries)
    _link_judge_tasks(tasks)
    states = []
    for name in queues.ALL:
        held = [task for task in tasks if task.queue == name]
        states.append(QueueState(
            name=name, description=queues.DESCRIPTIONS[name], waiting=lengths.get(name), consumers=sorted(consumers.get(name, [])),
            running=sum(task.state == "running" for task in held), reserved=sum(task.state != "running" for task in held)))
    return CeleryView(queues=states, tasks=tasks, workers=sorted(active_queues), inspect_error=inspect_error, broker_error=broker_error)


# --- the app's own jobs, as the database has them ------------------------------------------------


@dataclass
class AppJob:
    kind: str
    label: str
    url: str
    state: str
    queue: str
    done: int
    total: int
    started: datetime | None
    last_progress: datetime | None
    stuck: bool = False
    note: str = ""

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


def _stuck(state_running: bool, last: datetime | None, now: datetime) -> bool:
    return state_running and last is not None and now - last > stuck_after()


def app_jobs(*, now: datetime | None = None) -> list[AppJob]:
    """Unfinished generation runs, LLM judges, imports and training runs, stuck ones first; four queries whatever their number."""
    now = now or timezone.now()
    minutes = settings.LIMA_JOB_STUCK_MINUTES
    jobs: list[AppJob] = []
    runs = (GenerationRun.objects.filter(status__in=(RunStatus.PENDING, RunStatus.RUNNING)).select_related("model", "dataset")
            .annotate(done=Count("responses"), last=Max("responses__created_at")).order_by("created_at"))
    for run in runs:
        last = run.last or run.started_at
        running = run.status == RunStatus.RUNNING
        jobs.append(AppJob(
            kind="Generation", label=f"Run #{run.pk}: {run.model} on {run.dataset}", url=reverse("generation:run_detail", args=[run.pk]),
            state=run.get_status_display(), queue=run.model.queue, done=run.done, total=run.total, started=run.started_at,
            last_progress=last, stuck=_stuck(running, last, now),
            note=f"no new response for {minutes}+ minutes" if _stuck(running, last, now) else ""))
    last_verdict = (Judgment.objects.filter(item__study=OuterRef("study"), annotator=OuterRef("judge_user"))
                    .order_by("-created_at").values("created_at")[:1])
    judges = (LLMJudgeRun.objects.filter(status="running").select_related("model", "study")
              .annotate(asked=Count("verdicts"), last=Subquery(last_verdict)).order_by("created_at"))
    for judge in judges:
        last = judge.last or judge.created_at
        jobs.append(AppJob(
            kind="LLM judge", label=f"Judge #{judge.pk}: {judge.model} on study “{judge.study}”",
            url=reverse("evaluation:study_detail", args=[judge.study_id]), state="Running", queue=judge.model.judge_queue,
            done=judge.asked, total=2 * judge.total, started=judge.created_at, last_progress=last, stuck=_stuck(True, last, now),
            note=f"no new verdict for {minutes}+ minutes" if _stuck(True, last, now) else ""))
    for job in ImportJob.objects.filter(state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING)).order_by("created_at"):
        running = job.state == ImportJob.State.RUNNING
        last = job.heartbeat_at or job.started_at
        jobs.append(AppJob(
            kind="Import", label=f"Import #{job.pk}: {job.get_kind_display()} {job.path}", url=reverse("annotation:import_job", args=[job.pk]),
            state=job.get_state_display(), queue=queues.IMPORTS, done=job.bytes_done, total=job.bytes_total, started=job.started_at,
            last_progress=last, stuck=_stuck(running, last, now),
            note=f"no progress for {minutes}+ minutes" if _stuck(running, last, now) else ""))
    for run in TrainingRun.objects.filter(state__in=ACTIVE_STATES).order_by("created_at"):
        last = run.polled_at or run.submitted_at
        jobs.append(AppJob(
            kind="Training", label=f"Training run {run.name} ({run.get_launcher_display()}{' job ' + run.job_id if run.job_id else ''})",
            url=reverse("training:run_detail", args=[run.pk]), state=f"{run.get_state_display()}"
            + (f" · {run.scheduler_state}" if run.scheduler_state else ""), queue="Slurm" if run.launcher == "slurm" else "local",
            done=0, total=0, started=run.submitted_at, last_progress=last, stuck=_stuck(True, last, now),
            note=f"not polled for {minutes}+ minutes: is beat running?" if _stuck(True, last, now) else ""))
    return sorted(jobs, key=lambda job: (not job.stuck, job.started or now))

