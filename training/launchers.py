"""Where a training job runs: Slurm (sbatch/squeue/scontrol/sacct/scancel) or a local subprocess (no Django).

Both run the same rendered script. A launcher either submits the whole job or raises
LaunchError with the scheduler's own words; it never leaves a half-submitted job behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from training import slurm

EXIT_CODE_FILE = "exit_code"
CANCELLED_FILE = "cancelled"


class LaunchError(RuntimeError):
    """The job could not be submitted, queried or cancelled; the message says why, in the scheduler's words."""


@dataclass(frozen=True)
class JobStatus:
    scheduler_state: str
    state: str
    exit_code: int | None = None
    reason: str = ""
    signal: int | None = None
    scheduler_exit: str = ""  # the scheduler's own words for the exit, e.g. Slurm's "0:9"

    @classmethod
    def ended(cls, *, scheduler_state: str, state: str, scheduler_exit: str = "", exit_code: int | None = None,
              reason: str = "") -> "JobStatus":
        """A job that ended: exit code and signal from Slurm's "code:signal" or from a shell's exit status."""
        if scheduler_exit:
            exit_code = slurm.exit_code_of(scheduler_exit)
        return cls(scheduler_state=scheduler_state, state=state, exit_code=exit_code, reason=reason,
                   signal=slurm.signal_of(exit_code, scheduler_exit), scheduler_exit=scheduler_exit)


class SlurmLauncher:
    def __init__(self, *, bin_dir: str = "", conf: str = "", timeout: float = 30):
        self.bin_dir = bin_dir
        self.conf = conf
        self.timeout = timeout

    def _command(self, name: str) -> str:
        found = shutil.which(name, path=self.bin_dir or None)
        if not found:
            where = self.bin_dir or "PATH"
            raise LaunchError(f"`{name}` was not found on {where}: is this host a Slurm client (LIMA_SLURM_BIN_DIR)?")
        return found

    def _run(self, name: str, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **({"SLURM_CONF": self.conf} if self.conf else {})}
        try:
            return subprocess.run([self._command(name), *args], capture_output=True, text=True, env=env, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise LaunchError(f"`{name}` got no answer within {self.timeout:.0f} s: is slurmctld down?") from exc

    @staticmethod
    def _words(result: subprocess.CompletedProcess) -> str:
        return (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}")[-2000:]

    def submit(self, script: Path, run_dir: Path) -> str:
        """`sbatch --test-only` first, so resources the cluster cannot satisfy are refused before anything is queued."""
        probe = self._run("sbatch", "--test-only", str(script))
        if probe.returncode != 0:
            raise LaunchError(f"Slurm refused the job: {self._words(probe)}")
        result = self._run("sbatch", "--parsable", str(script))
        if result.returncode != 0:
            raise LaunchError(f"sbatch failed: {self._words(result)}")
        try:
            return slurm.parse_submission(result.stdout)
        except ValueError as exc:
            raise LaunchError(str(exc)) from exc

    def status(self, job_id: str, run_dir: Path) -> JobStatus | None:
        """squeue for live jobs; `scontrol show job` (kept MinJobAge seconds) and then the job
        completion log (`sacct -c`) for finished ones. None when no source knows the job."""
        queued = self._run("squeue", "-h", "-j", job_id, "-o", "%T|%r")
        if queued.returncode == 0 and queued.stdout.strip():
            word, _, reason = queued.stdout.strip().splitlines()[0].partition("|")
            return JobStatus(scheduler_state=word, state=slurm.run_state(word), reason="" if reason == "None" else reason)
        shown = self._run("scontrol", "show", "job", "-o", job_id)
        if shown.returncode == 0 and "JobState=" in shown.stdout:
            fields = slurm.parse_scontrol_job(shown.stdout)
            word = fields.get("JobState", "")
            reason = fields.get("Reason", "")
            return JobStatus.ended(scheduler_state=word, state=slurm.run_state(word), scheduler_exit=fields.get("ExitCode", ""),
                                   reason="" if reason == "None" else reason)
        completed = self._run("sacct", "-c", "-j", job_id, "-n", "-P", "-o", "JobID,State,ExitCode")
        for line in completed.stdout.splitlines() if completed.returncode == 0 else []:
            parts = line.split("|")
            if len(parts) >= 3 and parts[0] == job_id:
                return JobStatus.ended(scheduler_state=parts[1], state=slurm.run_state(parts[1]), scheduler_exit=parts[2])
        return None

    def find(self, job_name: str, script: Path, known: set[str]) -> str | None:
        """The job id of a job submitted under this name from this script and not among `known` (the run's earlier
        jobs): squeue for live jobs, `scontrol show job` and the completion log for ended ones. None: not submitted."""
        queued = self._run("squeue", "-h", f"--name={job_name}", "-o", "%i|%o")
        if queued.returncode != 0:
            raise LaunchError(f"squeue failed: {self._words(queued)}")
        for line in queued.stdout.splitlines():
            job_id, _, command = line.strip().partition("|")
            if job_id and job_id not in known and command == str(script):
                return job_id
        shown = self._run("scontrol", "show", "job", "-o")
        for line in shown.stdout.splitlines() if shown.returncode == 0 else []:
            fields = slurm.parse_scontrol_job(line)
            if (fields.get("JobName") == job_name and fields.get("Command") == str(script)
                    and fields.get("JobId") and fields["JobId"] not in known):
                return fields["JobId"]
        completed = self._run("sacct", "-c", f"--name={job_name}", "-n", "-P", "-o", "JobID,JobName")
        for line in completed.stdout.splitlines() if completed.returncode == 0 else []:
            parts = line.split("|")
            if len(parts) >= 2 and parts[1] == job_name and parts[0] not in known:
                return parts[0]
        return None

    def reachable(self) -> bool:
        """Whether this host is a Slurm client whose controller answers (`scontrol ping`), within a few seconds."""
        try:
            scontrol = self._command("scontrol")
        except LaunchError:
            return False
        env = {**os.environ, **({"SLURM_CONF": self.conf} if self.conf else {})}
        try:
            answer = subprocess.run([scontrol, "ping"], capture_output=True, text=True, env=env, timeout=min(self.timeout, 5))
        except (OSError, subprocess.TimeoutExpired):
            return False
        return answer.returncode == 0 and " is UP" in answer.stdout and shutil.which("sbatch", path=self.bin_dir or None) is not None

    def cancel(self, job_id: str, run_dir: Path) -> None:
        result = self._run("scancel", job_id)
        if result.returncode != 0:
            raise LaunchError(f"scancel failed: {self._words(result)}")


class LocalLauncher:
    """Runs the batch script with bash in its own process group (the embedded default, no scheduler).

    The wrapper shell writes the script's exit status to run_dir/exit_code, so any process (the web
    server, a worker, after restarts) can tell how it ended without being its parent.
    """

    def submit(self, script: Path, run_dir: Path) -> str:
        bash = shutil.which("bash")
        if not bash:
            raise LaunchError("bash was not found on PATH")
        for name in (EXIT_CODE_FILE, CANCELLED_FILE):
            (run_dir / name).unlink(missing_ok=True)
        process = subprocess.Popen(
            [bash, "-c", 'bash "$1" >> "$2" 2>&1; echo $? > "$3"', "lima-local-run", str(script),
             str(run_dir / "train.log"), str(run_dir / EXIT_CODE_FILE)],
            cwd=run_dir, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Reap it when it ends so it never lingers as a zombie of a long-lived web or worker process.
        threading.Thread(target=process.wait, daemon=True).start()
        return str(process.pid)

    @staticmethod
    def _alive(pid: int, script: Path) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[0] != "Z" and str(script) in cmdline

    def status(self, job_id: str, run_dir: Path) -> JobStatus | None:
        exit_file = run_dir / EXIT_CODE_FILE
        if (run_dir / CANCELLED_FILE).exists():
            return JobStatus(scheduler_state="CANCELLED", state=slurm.CANCELLED)
        if exit_file.exists() and exit_file.read_text().strip():
            code = int(exit_file.read_text().strip())
            word = "COMPLETED" if code == 0 else "FAILED"
            return JobStatus.ended(scheduler_state=word, state=slurm.run_state(word), exit_code=code)
        if self._alive(int(job_id), run_dir / "job.sbatch"):
            return JobStatus(scheduler_state="RUNNING", state=slurm.RUNNING)
        return JobStatus(scheduler_state="FAILED", state=slurm.FAILED, reason="the process ended without an exit status")

    def find(self, job_name: str, script: Path, known: set[str]) -> str | None:
        """The pid of a live wrapper running this script (started by a submit whose pid was never recorded)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or proc.name in known:
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"lima-local-run" in argv and str(script).encode() in argv and self._alive(int(proc.name), script):
                return proc.name
        return None

    @staticmethod
    def reachable() -> bool:
        return shutil.which("bash") is not None

    def cancel(self, job_id: str, run_dir: Path) -> None:
        (run_dir / CANCELLED_FILE).write_text("cancelled\n")
        try:
            os.killpg(int(job_id), signal.SIGTERM)
        except ProcessLookupError:
            pass
