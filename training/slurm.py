"""Slurm job scripts and states as pure functions (no Django, no subprocess).

The same rendered script runs under `sbatch` and, for the `local` launcher, under bash: outside
Slurm the SLURM_* variables are absent and the script runs the trainer as one process.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from signal import SIGKILL, Signals

# A run's state in the tool, from the scheduler's words. Slurm's own state is kept beside it.
PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMED_OUT, NODE_FAILED, OUT_OF_MEMORY = (
    "pending", "running", "completed", "failed", "cancelled", "timed_out", "node_failed", "out_of_memory",
)
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED, TIMED_OUT, NODE_FAILED, OUT_OF_MEMORY})
# A job that ended early can be submitted again: the trainer resumes after its last complete checkpoint.
RESUMABLE = FINISHED - {COMPLETED}

SLURM_STATES = {
    "PENDING": PENDING, "CONFIGURING": PENDING, "REQUEUED": PENDING, "REQUEUE_HOLD": PENDING, "REQUEUE_FED": PENDING,
    "RESV_DEL_HOLD": PENDING, "SUSPENDED": PENDING, "STOPPED": PENDING,
    "RUNNING": RUNNING, "COMPLETING": RUNNING, "SIGNALING": RUNNING, "STAGE_OUT": RUNNING, "RESIZING": RUNNING,
    "COMPLETED": COMPLETED,
    "FAILED": FAILED, "BOOT_FAIL": FAILED, "DEADLINE": FAILED, "PREEMPTED": FAILED, "SPECIAL_EXIT": FAILED,
    "REVOKED": FAILED,
    "CANCELLED": CANCELLED,
    "TIMEOUT": TIMED_OUT,
    "NODE_FAIL": NODE_FAILED,
    "OUT_OF_MEMORY": OUT_OF_MEMORY,
}

TIME_LIMIT = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$|^\d+-\d{1,2}$|^UNLIMITED$")
SLURM_NAME = re.compile(r"^[A-Za-z0-9_.\-]*$")
# The c10d rendezvous of a multi-node run listens on a port of the job's first node derived from the job id, so
# two jobs that share a first node (nodes not exclusive, or a requeued job beside its successor) do not both ask
# for one fixed port: RENDEZVOUS_PORT_BASE + job id mod RENDEZVOUS_PORTS, below Linux's ephemeral range (32768-).
RENDEZVOUS_PORT_BASE = 15000
RENDEZVOUS_PORTS = 15000
# Slurm signals a time-limited job this long before its end (B: the batch shell only, which asks the
# trainer to checkpoint after its current step; the trainer then exits 75 and the job is requeued).
# Slurm may deliver the signal up to a minute early; a sharded 65B checkpoint takes a few minutes.
# Jobs shorter than MIN_REQUEUE_LIMIT_SECONDS get no signal; shorter ones than 75 minutes get a fifth of their time.
PRE_TIMEOUT_SIGNAL_SECONDS = 900
MIN_REQUEUE_LIMIT_SECONDS = 600
# training.sft's files beside run.json: the request the trap makes, and the trainer's answer once its
# checkpoint is written (a file, as torchrun turns a worker's exit status into its own).
STOP_FILE = "checkpoint-and-requeue"
REQUEUE_FILE = "requeue-requested"


def time_limit_seconds(text: str) -> int | None:
    """Slurm's time formats (minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s) in seconds; None for none or UNLIMITED."""
    if not text or text == "UNLIMITED" or not TIME_LIMIT.match(text):
        return None
    days, dash, rest = text.partition("-")
    if not dash:
        days, rest = "0", text
    parts = [int(p) for p in rest.split(":")]
    if dash:  # d-h, d-h:m, d-h:m:s
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 1:
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:
        hours, minutes, seconds = parts
    return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds


def pre_timeout_signal_seconds(time_limit: str) -> int | None:
    """How long before the time limit the job is told to checkpoint; None when it gets no such signal."""
    limit = time_limit_seconds(time_limit)
    if limit is None or limit < MIN_REQUEUE_LIMIT_SECONDS:
        return None
    return min(PRE_TIMEOUT_SIGNAL_SECONDS, limit // 5)


def run_state(slurm_state: str) -> str:
    """Map Slurm's JobState ("CANCELLED by 0", "COMPLETED", ...) to the tool's run state."""
    word = (slurm_state or "").split()[0].rstrip("+").upper() if slurm_state else ""
    return SLURM_STATES.get(word, FAILED if word else PENDING)


@dataclass(frozen=True)
class Resources:
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 1
    partition: str = ""
    account: str = ""
    qos: str = ""
    time_limit: str = ""

    def problems(self) -> dict[str, str]:
        found = {}
        if self.nodes < 1:
            found["nodes"] = "at least one node"
        if self.gpus_per_node < 0:
            found["gpus_per_node"] = "zero (CPU) or more GPUs"
        if self.cpus_per_task < 1:
            found["cpus_per_task"] = "at least one CPU"
        if self.time_limit and not TIME_LIMIT.match(self.time_limit):
            found["time_limit"] = "a Slurm time such as 2-00:00:00, 12:00:00 or 90"
        for name in ("partition", "account", "qos"):
            if not SLURM_NAME.match(getattr(self, name)):
                found[name] = "letters, digits, '.', '_' and '-' only"
        return found

    @property
    def processes(self) -> int:
        return self.nodes * max(1, self.gpus_per_node)


def render_sbatch_script(*, job_name: str, resources: Resources, workdir: str, python: str, config_path: str,
                         log_path: str) -> str:
    """The batch script of one training run.

    One task per node; torchrun starts one trainer process per GPU and wires the nodes together
    through a c10d rendezvous on the first node (FSDP then shards the model across all of them).
    A single CPU or GPU process needs no torchrun. `--open-mode=append` keeps the log of earlier
    attempts when Slurm requeues the job; the trainer resumes from its last checkpoint.

    With a time limit, Slurm sends USR1 to the batch shell PRE_TIMEOUT_SIGNAL_SECONDS before the
    end; the trap creates the stop file, the trainer checkpoints after its current step, answers
    with the requeue file and stops, and the script requeues the job (`--requeue`), which resumes
    from that checkpoint.
    """
    q = shlex.quote
    directives = [
        f"--job-name={job_name}",
        f"--nodes={resources.nodes}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={resources.cpus_per_task}",
        f"--output={log_path}",
        "--open-mode=append",
        f"--chdir={workdir}",
    ]
    if resources.gpus_per_node:
        directives.append(f"--gpus-per-node={resources.gpus_per_node}")
    for flag, value in (("partition", resources.partition), ("account", resources.account), ("qos", resources.qos),
                        ("time", resources.time_limit)):
        if value:
            directives.append(f"--{flag}={value}")
    lead = pre_timeout_signal_seconds(resources.time_limit)
    requeue = lead is not None
    if requeue:
        directives += ["--requeue", f"--signal=B:USR1@{lead}"]
    lines = ["#!/bin/bash", *(f"#SBATCH {directive}" for directive in directives), "",
             "# LIMA supervised fine-tuning, rendered by lima-studio.", "set -euo pipefail", f"cd {q(workdir)}",
             "export PYTHONUNBUFFERED=1"]
    trainer = f"-m training.sft --config {q(config_path)}"
    if resources.nodes == 1 and resources.processes > 1:
        command = f"{q(python)} -m torch.distributed.run --standalone --nproc-per-node={resources.gpus_per_node} {trainer}"
    elif resources.processes > 1:
        lines.append('head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)')
        lines.append(f"rendezvous_port=$(( {RENDEZVOUS_PORT_BASE} + SLURM_JOB_ID % {RENDEZVOUS_PORTS} ))")
        command = (f"srun --kill-on-bad-exit=1 {q(python)} -m torch.distributed.run --nnodes={resources.nodes} "
                   f"--nproc-per-node={max(1, resources.gpus_per_node)} --rdzv-backend=c10d "
                   f'--rdzv-endpoint="$head_node:$rendezvous_port" --rdzv-id="$SLURM_JOB_ID" {trainer}')
    else:
        command = f"{q(python)} {trainer}"
    if not requeue:
        lines.append(f"exec {command}")
        return "\n".join(lines) + "\n"
    run_dir = PurePosixPath(config_path).parent
    lines += [
        f"stop_file={q(str(run_dir / STOP_FILE))}",
        f"requeue_file={q(str(run_dir / REQUEUE_FILE))}",
        'rm -f "$stop_file" "$requeue_file"',
        "# Slurm's pre-timeout signal: the trainer checkpoints after its current step, says so in",
        "# $requeue_file and stops; the job is then requeued and resumes from that checkpoint.",
        """trap 'touch "$stop_file"' USR1""",
        f"{command} &",
        "trainer=$!",
        # `wait` returns early when the trap runs; wait again until the trainer has really ended.
        'while true; do status=0; wait "$trainer" || status=$?; kill -0 "$trainer" 2>/dev/null || break; done',
        'if [ -e "$requeue_file" ] && [ -n "${SLURM_JOB_ID:-}" ]; then',
        '  rm -f "$requeue_file"',
        '  scontrol requeue "$SLURM_JOB_ID"',
        "  exit 0",
        "fi",
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def parse_submission(stdout: str) -> str:
    """`sbatch --parsable` prints "jobid" or "jobid;cluster"."""
    job_id = stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise ValueError(f"sbatch did not print a job id: {stdout!r}")
    return job_id


def parse_scontrol_job(text: str) -> dict[str, str]:
    """Key=value pairs of `scontrol show job -o N` (values never contain spaces except Command/Reason)."""
    found = {}
    for match in re.finditer(r"(\w+)=(\S*)", text):
        found.setdefault(match.group(1), match.group(2))
    return found


def exit_code_of(slurm_exit: str) -> int | None:
    """Slurm's "code:signal"; a signal-killed job reports 128 + signal, as a shell would."""
    if not slurm_exit:
        return None
    code, _, signal = slurm_exit.partition(":")
    try:
        code_number, signal_number = int(code), int(signal or 0)
    except ValueError:
        return None
    return 128 + signal_number if signal_number and not code_number else code_number


def signal_of(exit_code: int | None, slurm_exit: str = "") -> int | None:
    """The signal that ended a job, if one did: Slurm's ":signal" part ("0:9" when the batch script's
    process was killed), else a shell's 128 + N exit status (bash, srun and the local launcher's
    wrapper report a child killed by signal N that way)."""
    _, _, signal = slurm_exit.partition(":")
    if signal.isdigit() and int(signal):
        return int(signal)
    if exit_code is not None and 128 < exit_code <= 128 + 64:
        return exit_code - 128
    return None


def describe_signal(number: int) -> str:
    """A signal by number and name, with the likeliest cause where there is one: nothing on a node
    sends SIGKILL to a training process as often as the kernel's out-of-memory killer."""
    try:
        text = f"signal {number} ({Signals(number).name})"
    except ValueError:
        text = f"signal {number}"
    if number == SIGKILL:
        text += " — possibly out of memory, as the kernel's OOM killer sends SIGKILL"
    return text
