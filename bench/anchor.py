"""`make bench-anchor`: lima-studio beside Label Studio 1.23.2, one closed-loop client, interleaved.

Both systems run as their default installs serve them: `manage.py serve` (runserver with TCP_NODELAY) on SQLite for lima-studio
(what `make run` starts) and `label-studio start` (Django's runserver on SQLite) for Label Studio, niced
equally. Label Studio lives in its own virtualenv under var/anchor/ (installed from the package index by
the Makefile); it is seeded with an equivalent pairwise project: the same prompts and the same two responses
per item, in the same order, three choices (A, B, neither), one annotation per task.

The client is the same closed loop for both: N sessions (1, 10, 50), each with its own login, each judging
as fast as the server answers, until the level has made SUBMITS verdict attempts. A verdict is what the
annotator's page does for one item:
- lima-studio: one POST of the verdict; the answer is the next item (the HTMX swap).
- Label Studio: the POST of the annotation, then the GET of the next task (what its labeling page does).

Levels run interleaved (cycle 1: lima ×1, LS ×1, lima ×10, LS ×10, ...; the next cycle starts with the
other system), so both see the same machine load. For each run: verdicts/s, p50/p95 latency, errors,
acknowledged vs stored (read from each system's database afterwards), and the server's CPU seconds per
acknowledged verdict, from /proc of the server process and its descendants (the only processes this
harness starts; it stops them and nothing else).

python -m bench.anchor [--cycles 2] [--submits 500] [--levels 1,10,50] writes bench/results/anchor.json; `--only lima`
measures lima-studio alone (anchor-lima.json), beside Label Studio's figures from the last full run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadclient import CSRF, ITEM, Session, _acknowledged

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "anchor"
LS_VENV = WORK / "label-studio-venv"
LS_VERSION = "1.23.2"
RESULTS = ROOT / "bench" / "results" / "anchor.json"
NICE = 5  # both servers run at this niceness, so the machine's other load weighs on them alike
LABEL_CONFIG = (
    '<View><Header value="Which answer is better?"/><Text name="prompt" value="$prompt"/>'
    '<Text name="a" value="$a"/><Text name="b" value="$b"/>'
    '<Choices name="verdict" toName="a" choice="single" required="true">'
    '<Choice value="A is better"/><Choice value="B is better"/><Choice value="Neither is significantly better"/></Choices></View>'
)
VERDICT_RESULT = [{"from_name": "verdict", "to_name": "a", "type": "choices", "value": {"choices": ["A is better"]}}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, process: subprocess.Popen, *, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited during start-up ({process.args[:3]}...)")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


# --- CPU from /proc ----------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and its live descendants, plus what its reaped children used."""
    total = 0.0
    for index, current in enumerate(_descendants(pid)):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3 of stat): utime is field 14, stime 15, cutime 16, cstime 17.
        total += int(fields[11]) + int(fields[12])
        if index == 0:
            total += int(fields[13]) + int(fields[14])
    return total / _TICKS


# --- the two systems ---------------------------------------------------------------------------------


class JsonSession(Session):
    """Session with a token header and JSON bodies (Label Studio's API)."""

    def __init__(self, host: str, port: int, token: str):
        super().__init__(host, port)
        self.token = token

    def call(self, method: str, path: str, payload=None) -> tuple[int, object]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        try:
            return response.status, json.loads(text) if text else None
        except ValueError:
            return response.status, text[:300]


@dataclass
class Judge:
    """One annotator's session and what it has on screen."""

    session: Session
    on_screen: str | int | None = None  # lima: the item's public id; Label Studio: the task id


class Lima:
    name = "lima-studio (runserver+sqlite)"

    def __init__(self, *, annotators: int, prompts: int):
        self.dir = WORK / "lima"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.database = self.dir / "anchor.sqlite3"
        for stale in self.dir.glob("anchor.sqlite3*"):
            stale.unlink()
        self.items_file = self.dir / "items.json"
        self.port = _free_port()
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "REDIS", "DJANGO_ALLOW_ASYNC"))}
        self.env = {**keep, "DATABASE_URL": f"sqlite:///{self.database}", "LIMA_VAR_DIR": str(self.dir)}
        output = subprocess.run([sys.executable, "-m", "bench.anchor_seed", str(annotators), str(prompts), str(self.items_file)],
                                cwd=ROOT, env=self.env, capture_output=True, text=True)
        if output.returncode:
            raise RuntimeError(f"seeding lima-studio failed:\n{output.stderr[-3000:]}")
        self.details = json.loads(output.stdout.strip().splitlines()[-1])
        self.process = subprocess.Popen(["nice", "-n", str(NICE), sys.executable, "manage.py", "serve", "--noreload",
                                         f"127.0.0.1:{self.port}"], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=open(self.dir / "server.log", "w"))
        _wait_up(f"http://127.0.0.1:{self.port}/accounts/login/", self.process)

    def items(self) -> list[dict]:
        return json.loads(self.items_file.read_text())

    def login(self, index: int) -> Judge:
        session = Session("127.0.0.1", self.port)
        _, page = session.request("GET", "/accounts/login/")
        status, _ = session.request("POST", "/accounts/login/", {"username": self.details["annotators"][index],
                                                                  "password": self.details["password"],
                                                                  "csrfmiddlewaretoken": CSRF.search(page).group(1)})
        if status != 302:
            raise RuntimeError(f"lima login answered {status}")
        judge = Judge(session)
        self.show_next(judge)
        return judge

    def show_next(self, judge: Judge) -> None:
        _, page = judge.session.request("GET", f"/judge/{self.details['study']}/", headers={"HX-Request": "true"})
        match = ITEM.search(page)
        judge.on_screen = match.group(1) if match else None

    def verdict(self, judge: Judge) -> tuple[str | None, str]:
        """(acknowledged id or None, error); afterwards the judge has the next item on screen (None: study done)."""
        try:
            status, page = judge.session.request("POST", f"/judge/{self.details['study']}/submit/",
                                                 {"item": judge.on_screen, "choice": "a"}, {"HX-Request": "true"})
        except (OSError, http.client.HTTPException) as exc:
            judge.session.reconnect()
            self.show_next(judge)
            return None, repr(exc)
        acknowledged = judge.on_screen if _acknowledged(status, page) else None
        match = ITEM.search(page)
        if acknowledged is None:
            self.show_next(judge)
            return None, f"submit {status}"
        judge.on_screen = match.group(1) if match else None
        return str(acknowledged).replace("-", ""), ""

    def stored(self) -> list[str]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return [row[0].replace("-", "") for row in db.execute(
                "SELECT i.public_id FROM evaluation_judgment j JOIN evaluation_comparisonitem i ON i.id = j.item_id")]

    def stop(self) -> None:
        _stop(self.process)


class LabelStudio:
    name = f"Label Studio {LS_VERSION} (label-studio start: runserver+sqlite)"

    def __init__(self, *, annotators: int, items: list[dict]):
        python = LS_VENV / "bin" / "python"
        if not python.exists():
            raise RuntimeError(f"Label Studio is not installed in {LS_VENV} (make bench-anchor installs it)")
        self.dir = WORK / "label-studio-data"
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)
        self.dir.mkdir(parents=True)
        self.database = self.dir / "label_studio.sqlite3"
        self.port = _free_port()
        # Only what Label Studio needs: none of lima-studio's settings (DATABASE_URL, ...) may leak into it.
        self.env = {"PATH": f"{LS_VENV / 'bin'}:/usr/bin:/bin", "HOME": str(self.dir), "LABEL_STUDIO_BASE_DATA_DIR": str(self.dir),
                    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LATEST_VERSION_CHECK": "false", "LANG": "C.UTF-8"}
        output = subprocess.run([str(python), str(ROOT / "bench" / "anchor_label_studio.py"), str(annotators)], cwd=self.dir,
                                env=self.env, capture_output=True, text=True)
        if output.returncode:
            raise RuntimeError(f"seeding Label Studio failed:\n{output.stderr[-3000:]}")
        self.tokens = json.loads(output.stdout.strip().splitlines()[-1])
        self.process = subprocess.Popen(
            ["nice", "-n", str(NICE), str(LS_VENV / "bin" / "label-studio"), "start", "--no-browser", "--host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", str(self.dir), "--username", "owner@anchor.local", "--password",
             "anchor-pass-123"], cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=open(WORK / "label-studio.log", "w"))
        _wait_up(f"http://127.0.0.1:{self.port}/health", self.process)
        owner = JsonSession("127.0.0.1", self.port, self.tokens["owner_token"])
        status, project = owner.call("POST", "/api/projects/", {"title": "anchor", "label_config": LABEL_CONFIG, "maximum_annotations": 1})
        if status != 201:
            raise RuntimeError(f"Label Studio refused the project: {status} {project}")
        self.project = project["id"]
        for start in range(0, len(items), 1000):
            status, answer = owner.call("POST", f"/api/projects/{self.project}/import", items[start:start + 1000])
            if status != 201:
                raise RuntimeError(f"Label Studio refused the tasks: {status} {answer}")

    def login(self, index: int) -> Judge:
        judge = Judge(JsonSession("127.0.0.1", self.port, self.tokens["annotator_tokens"][index]))
        self.show_next(judge)
        return judge

    def show_next(self, judge: Judge) -> None:
        status, task = judge.session.call("GET", f"/api/projects/{self.project}/next")
        judge.on_screen = task["id"] if status == 200 and isinstance(task, dict) else None

    def verdict(self, judge: Judge) -> tuple[str | None, str]:
        try:
            status, annotation = judge.session.call("POST", f"/api/tasks/{judge.on_screen}/annotations/",
                                                    {"result": VERDICT_RESULT, "lead_time": 2.0})
            acknowledged = str(annotation["id"]) if status == 201 and isinstance(annotation, dict) else None
            self.show_next(judge)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            judge.session.reconnect()
            judge.on_screen = None
            try:
                self.show_next(judge)
            except (OSError, http.client.HTTPException):
                judge.session.reconnect()
            return None, repr(exc)[:120]
        return acknowledged, "" if acknowledged else f"annotation {status}"

    def stored(self) -> list[str]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return [str(row[0]) for row in db.execute("SELECT id FROM task_completion WHERE project_id = ?", (self.project,))]

    def doubly_annotated_tasks(self) -> int:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM (SELECT task_id FROM task_completion WHERE project_id = ? GROUP BY task_id "
                              "HAVING count(*) > 1)", (self.project,)).fetchone()[0]

    def stop(self) -> None:
        _stop(self.process)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server this harness started (the `nice` wrapper execs it: same pid), and its children."""
    if process.poll() is not None:
        return
    children = _descendants(process.pid)[1:]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- the closed loop -----------------------------------------------------------------------------------


@dataclass
class LevelResult:
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def settle(system, *, window: float = 0.5, idle_share: float = 0.05, limit: float = 180.0) -> float:
    """Waits until the server has served the backlog of the level before (its CPU over `window` below `idle_share`
    of one core), at most `limit` seconds; the seconds waited. A system still answering the last level's abandoned
    requests would otherwise charge them to the next level, and fail its first page."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = process_cpu_seconds(system.process.pid)
        time.sleep(window)
        if process_cpu_seconds(system.process.pid) - before < idle_share * window:
            break
    return round(time.perf_counter() - started, 1)


def reload_pages(system, judges: list[Judge]) -> int:
    """Shows an item again to each session that lost its page to an error in an earlier level (as a person reloads
    the page), outside the timed part; how many were reloaded."""
    lost = [judge for judge in judges if judge.on_screen is None]
    for judge in lost:
        try:
            system.show_next(judge)
        except (OSError, http.client.HTTPException, ValueError):
            judge.session.reconnect()
            judge.on_screen = None
    return len(lost)


def run_level(system, judges: list[Judge], submits: int) -> dict:
    """Each judge submits verdicts back to back until the level has made `submits` attempts."""
    lock = threading.Lock()
    attempts = [0]
    result = LevelResult()

    def take_turn() -> bool:
        with lock:
            if attempts[0] >= submits:
                return False
            attempts[0] += 1
            return True

    def loop(judge: Judge) -> None:
        while judge.on_screen is not None and take_turn():
            started = time.perf_counter()
            try:
                acknowledged, error = system.verdict(judge)
            except Exception as exc:  # the server dropped us mid-way: counted, and this session is over
                acknowledged, error = None, repr(exc)[:120]
                judge.on_screen = None
            elapsed = time.perf_counter() - started
            with lock:
                result.latencies.append(elapsed)
                if acknowledged:
                    result.acknowledged.append(acknowledged)
                else:
                    result.errors.append(error)

    # A session with no item on screen cannot take part (its page did not load): an error of this level, never a
    # silent zero (a Label Studio level once made 0 verdicts and 0 errors that way).
    result.errors.extend("no item on screen at the start of the level" for judge in judges if judge.on_screen is None)
    threads = [threading.Thread(target=loop, args=(judge,)) for judge in judges]
    cpu_before = process_cpu_seconds(system.process.pid)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = process_cpu_seconds(system.process.pid) - cpu_before
    latencies = sorted(result.latencies)
    acknowledged = len(result.acknowledged)
    return {
        "clients": len(judges),
        "submits": len(latencies),
        "acknowledged": acknowledged,
        "acknowledged_ids": result.acknowledged,
        "errors": len(result.errors),
        "error_samples": sorted(set(result.errors))[:5],
        "seconds": round(seconds, 2),
        "verdicts_per_s": round(acknowledged / seconds, 2) if seconds else 0.0,
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
        "server_cpu_s": round(cpu, 3),
        "server_cpu_ms_per_verdict": round(1000 * cpu / acknowledged, 2) if acknowledged else None,
    }


def measure(*, levels: list[int], cycles: int, submits: int, prompts: int, lima_only: bool = False) -> dict:
    annotators = max(levels)
    started = time.perf_counter()
    systems = []
    try:
        lima = Lima(annotators=annotators, prompts=prompts)
        systems.append(lima)
        if not lima_only:
            systems.append(LabelStudio(annotators=annotators, items=lima.items()))
        judges: dict[str, list[Judge]] = {s.name: [] for s in systems}
        acknowledged_so_far: dict[str, set[str]] = {s.name: set() for s in systems}
        runs = []
        for cycle in range(cycles):
            order = systems if cycle % 2 == 0 else systems[::-1]
            for level in levels:
                for system in order:
                    pool = judges[system.name]
                    while len(pool) < level:  # logged in once, outside the timed part, then reused
                        pool.append(system.login(len(pool)))
                    settled = settle(system)
                    reloaded = reload_pages(system, pool[:level])
                    figures = run_level(system, pool[:level], submits)
                    figures.update({"settle_seconds": settled, "pages_reloaded": reloaded})
                    acknowledged_so_far[system.name].update(figures.pop("acknowledged_ids"))
                    stored = system.stored()
                    figures.update({
                        "system": system.name, "cycle": cycle + 1,
                        "acknowledged_cumulative": len(acknowledged_so_far[system.name]),
                        "stored_cumulative": len(stored),
                        "acknowledged_missing_in_db": len(acknowledged_so_far[system.name] - set(stored)),
                        "duplicates_in_db": len(stored) - len(set(stored)),
                    })
                    if isinstance(system, LabelStudio):
                        figures["tasks_annotated_twice"] = system.doubly_annotated_tasks()
                    runs.append(figures)
                    print(f"   cycle {cycle + 1} · {system.name} × {level}: {figures['verdicts_per_s']} verdicts/s, "
                          f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, {figures['errors']} errors, "
                          f"{figures['server_cpu_ms_per_verdict']} ms CPU/verdict, {figures['acknowledged_cumulative']} acknowledged / "
                          f"{figures['stored_cumulative']} stored", flush=True)
    finally:
        for system in systems:
            system.stop()
    return {"levels": levels, "cycles": cycles, "submits_per_level": submits, "items": prompts * 2,
            "setup_and_run_seconds": round(time.perf_counter() - started, 1), "runs": runs,
            "summary": summarise(runs, [s.name for s in systems]) if not lima_only else summarise_lima(runs)}


GOAL_CPU_MS = 8.0
GOAL_CPU_RATIO = 20.0
GOAL_THROUGHPUT_RATIO = 10.0


def summarise(runs: list[dict], names: list[str]) -> dict:
    """Per level: each system's median over cycles, the ratios within the run, and the issue's goals."""
    ours, theirs = names
    levels = sorted({run["clients"] for run in runs})
    per_level = {}
    for level in levels:
        row = {}
        for name in names:
            mine = [run for run in runs if run["system"] == name and run["clients"] == level]
            cpu = [run["server_cpu_ms_per_verdict"] for run in mine if run["server_cpu_ms_per_verdict"] is not None]
            row[name] = {
                "verdicts_per_s": [run["verdicts_per_s"] for run in mine],
                "server_cpu_ms_per_verdict": cpu,
                "p50_ms": [run["p50_ms"] for run in mine],
                "p95_ms": [run["p95_ms"] for run in mine],
                "errors": sum(run["errors"] for run in mine),
            }
        # Ratios cycle by cycle (the same minutes of the same machine), then their range.
        pairs = [(a, b) for a in runs for b in runs if a["cycle"] == b["cycle"] and a["clients"] == b["clients"] == level
                 and a["system"] == ours and b["system"] == theirs]
        throughput = [round(a["verdicts_per_s"] / b["verdicts_per_s"], 1) if b["verdicts_per_s"] else None for a, b in pairs]
        cpu_ratio = [round(b["server_cpu_ms_per_verdict"] / a["server_cpu_ms_per_verdict"], 1)
                     if a["server_cpu_ms_per_verdict"] and b["server_cpu_ms_per_verdict"] else None for a, b in pairs]
        row["throughput_ratio_by_cycle"] = throughput
        row["cpu_ratio_by_cycle"] = cpu_ratio
        per_level[str(level)] = row
    last = {name: [run for run in runs if run["system"] == name][-1] for name in names}
    ours_runs = [run for run in runs if run["system"] == ours]
    goals = {
        "cpu_ms_per_verdict_at_most": GOAL_CPU_MS,
        "cpu_ms_per_verdict_met": all((run["server_cpu_ms_per_verdict"] or 1e9) <= GOAL_CPU_MS for run in ours_runs),
        "cpu_ratio_at_least": GOAL_CPU_RATIO,
        "cpu_ratio_met": all(r is not None and r >= GOAL_CPU_RATIO for row in per_level.values() for r in row["cpu_ratio_by_cycle"]),
        "throughput_ratio_at_least": GOAL_THROUGHPUT_RATIO,
        "throughput_ratio_met": all(r is not None and r >= GOAL_THROUGHPUT_RATIO
                                    for row in per_level.values() for r in row["throughput_ratio_by_cycle"]),
        "ours_zero_errors": all(run["errors"] == 0 for run in ours_runs),
        "ours_stored_equals_acknowledged": last[ours]["stored_cumulative"] == last[ours]["acknowledged_cumulative"]
        and last[ours]["acknowledged_missing_in_db"] == 0,
    }
    return {"per_level": per_level, "goals": goals}


def summarise_lima(runs: list[dict]) -> dict:
    """`--only lima`: lima-studio's own figures per level beside Label Studio's from the last full run (another run:
    the ratios are indicative only), for measuring a change to the verdict path without Label Studio's 20 minutes."""
    reference = {}
    if RESULTS.exists():
        earlier = json.loads(RESULTS.read_text())
        for run in earlier["figures"]["runs"]:
            if run["system"].startswith("Label Studio"):
                reference.setdefault(str(run["clients"]), []).append(
                    {key: run[key] for key in ("verdicts_per_s", "server_cpu_ms_per_verdict", "errors")})
        reference = {"when": earlier["when"], "per_level": reference}
    per_level = {str(level): {key: [run[key] for run in runs if run["clients"] == level]
                              for key in ("verdicts_per_s", "server_cpu_ms_per_verdict", "p50_ms", "p95_ms", "errors")}
                 for level in sorted({run["clients"] for run in runs})}
    return {"per_level": per_level, "label_studio_in_the_last_full_run": reference,
            "cpu_ms_per_verdict_met": all((run["server_cpu_ms_per_verdict"] or 1e9) <= GOAL_CPU_MS for run in runs),
            "zero_errors": all(run["errors"] == 0 for run in runs),
            "stored_equals_acknowledged": runs[-1]["stored_cumulative"] == runs[-1]["acknowledged_cumulative"]
            and runs[-1]["acknowledged_missing_in_db"] == 0}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=int(os.environ.get("LIMA_ANCHOR_CYCLES", "2")))
    parser.add_argument("--submits", type=int, default=int(os.environ.get("LIMA_ANCHOR_SUBMITS", "500")))
    parser.add_argument("--levels", default=os.environ.get("LIMA_ANCHOR_LEVELS", "1,10,50"))
    parser.add_argument("--output", default=None)
    parser.add_argument("--only", choices=["lima"], help="lima-studio alone (bench/results/anchor-lima.json)")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]
    # Items to spare: every level of every cycle takes `submits` verdicts, plus what is in flight when a level stops.
    prompts = (args.submits * len(levels) * args.cycles + 2 * max(levels) * len(levels) * args.cycles) // 2 + 100
    print(f"== anchor: {args.cycles} cycles × levels {levels} × {args.submits} submits ({prompts * 2} items)", flush=True)
    started = time.perf_counter()
    figures = measure(levels=levels, cycles=args.cycles, submits=args.submits, prompts=prompts, lima_only=args.only == "lima")
    result = {
        "benchmark": "anchor",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "seconds": round(time.perf_counter() - started, 2),
        "figures": figures,
    }
    output = Path(args.output or (RESULTS.with_name("anchor-lima.json") if args.only else RESULTS))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(figures["summary"], indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
