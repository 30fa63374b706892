"""A bounded load client (threads, stdlib HTTP, loopback only): annotators log in and judge.

Each simulated annotator keeps its own session, submits verdicts as the page's HTMX form does,
and records every verdict the server acknowledged, so the test can compare that set with the
database afterwards. It stops by itself after `seconds`.

By default a failed submit (an error page, a dropped connection) ends that annotator's session,
which keeps `make bench` figures comparable run to run. With `retry_backoff` (the fault tests)
the annotator behaves like a person whose submit failed: waits a moment on a fresh connection
and submits the same verdict for the same item again; the server's idempotent submit answers
"already judged" if the first attempt had in fact been stored.
"""

from __future__ import annotations

import http.client
import re
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

ITEM = re.compile(r'name="item" value="([0-9a-f-]{36})"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Failure:
    at: float  # time.monotonic(), to place it against a fault's window
    what: str  # "submit 503", "login 500", or the exception's repr
    page: str = ""  # the start of the error page, to tell a designed answer from a crash
    retry_after: str | None = None


@dataclass
class ClientResult:
    acknowledged: list[str] = field(default_factory=list)
    acknowledged_at: list[float] = field(default_factory=list)  # time.monotonic() of each acknowledgement
    latencies: list[float] = field(default_factory=list)
    errors: list[Failure] = field(default_factory=list)

    def acknowledge(self, item: str) -> None:
        self.acknowledged.append(item)
        self.acknowledged_at.append(time.monotonic())

    def fail(self, what: str, *, page: str = "", headers: dict | None = None) -> None:
        self.errors.append(Failure(at=time.monotonic(), what=what, page=page[:300], retry_after=(headers or {}).get("retry-after")))


class Session:
    def __init__(self, host: str, port: int):
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}  # the last response's, lower-cased names

    def reconnect(self) -> None:
        """After a dropped connection: the next request opens a new one (the cookies stay)."""
        self.connection.close()

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        headers["Referer"] = "http://localhost/"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        self.headers = {name.lower(): value for name, value in response.getheaders()}
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text


def run_annotator(host, port, username, password, study, running, result: ClientResult, retry_backoff: float | None = None,
                  ready: threading.Barrier | None = None) -> None:
    """`running()` says whether to go on (time left, not stopped). With `ready`, the annotator logs in and
    opens the study, then waits there for the others, so the timed part is judging alone (a burst of
    100 logins is PBKDF2 work, not judging)."""
    if retry_backoff is not None:
        return _run_annotator_retrying(host, port, username, password, study, running, result, retry_backoff)
    session = Session(host, port)
    try:
        try:
            status, page = session.request("GET", "/accounts/login/")
            token = CSRF.search(page).group(1)
            status, _ = session.request("POST", "/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token})
            if status != 302:
                result.fail(f"login {status}")
                return
            status, page = session.request("GET", f"/judge/{study}/", headers={"HX-Request": "true"})
        finally:
            if ready is not None:
                ready.wait()
        while running():
            match = ITEM.search(page)
            if not match:
                return  # nothing left to judge
            item = match.group(1)
            started = time.perf_counter()
            status, page = session.request("POST", f"/judge/{study}/submit/", {"item": item, "choice": "a"}, {"HX-Request": "true"})
            result.latencies.append(time.perf_counter() - started)
            if _acknowledged(status, page):
                result.acknowledge(item)
            else:
                result.fail(f"submit {status}", page=page, headers=session.headers)
    except Exception as exc:  # a refused connection, a reset: an error the report counts
        result.fail(repr(exc))


def _acknowledged(status: int, page: str) -> bool:
    return status == 200 and ("Saved." in page or "already judged" in page)


def _run_annotator_retrying(host, port, username, password, study, running, result: ClientResult, backoff: float) -> None:
    """Every step is repeated until it succeeds or time is up; a failed submit is resent for the same item."""
    session = Session(host, port)

    def attempt(what: str, method: str, path: str, body: dict | None = None, headers: dict | None = None, ok=(200,)):
        while running():
            started = time.perf_counter()
            try:
                status, page = session.request(method, path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                result.fail(f"{what} {exc!r}")
                session.reconnect()
            else:
                if what == "submit":
                    result.latencies.append(time.perf_counter() - started)
                if status in ok and (what != "submit" or _acknowledged(status, page)):
                    return status, page
                result.fail(f"{what} {status}", page=page, headers=session.headers)
            time.sleep(backoff)
        return None, ""

    _, page = attempt("login page", "GET", "/accounts/login/")
    token = CSRF.search(page)
    if not token:
        return
    status, _ = attempt("login", "POST", "/accounts/login/",
                        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}, ok=(302,))
    if status is None:
        return
    status, page = attempt("judge page", "GET", f"/judge/{study}/", headers={"HX-Request": "true"})
    while status is not None and running():
        match = ITEM.search(page)
        if not match:
            return  # nothing left to judge
        item = match.group(1)
        status, page = attempt("submit", "POST", f"/judge/{study}/submit/", {"item": item, "choice": "a"}, {"HX-Request": "true"})
        if status is not None:
            result.acknowledge(item)


def run_load(*, host: str, port: int, annotators: list[str], password: str, study: str, seconds: float,
             retry_backoff: float | None = None, results: list[ClientResult] | None = None,
             stop: threading.Event | None = None) -> dict:
    """Run for `seconds`, or until `stop` is set. `results`, when given, receives each annotator's
    ClientResult in `annotators` order, so a caller in another thread can watch them fill.

    Without retries (the benchmarks) every annotator logs in first and the clock starts once all have:
    the figures are judging alone. With retries (the fault tests) the clock starts at once."""
    deadline = [time.monotonic() + seconds]
    stop = stop or threading.Event()

    def running() -> bool:
        return time.monotonic() < deadline[0] and not stop.is_set()

    results = results if results is not None else []
    results.extend(ClientResult() for _ in annotators)
    clock = {"started": time.perf_counter(), "began": time.monotonic()}

    def start_clock() -> None:  # run by the barrier before it releases anyone
        clock.update(started=time.perf_counter(), began=time.monotonic())
        deadline[0] = time.monotonic() + seconds

    ready = threading.Barrier(len(annotators) + 1, action=start_clock) if retry_backoff is None else None
    threads = [threading.Thread(target=run_annotator, args=(host, port, name, password, study, running, result, retry_backoff, ready))
               for name, result in zip(annotators, results)]
    for thread in threads:
        thread.start()
    if ready is not None:
        ready.wait()  # everyone is logged in and has an item on screen
    for thread in threads:
        thread.join()
    started, began = clock["started"], clock["began"]
    elapsed = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r.latencies)
    acknowledged = [item for r in results for item in r.acknowledged]
    return {
        "clients": len(annotators),
        "seconds": round(elapsed, 2),
        "submits": len(latencies),
        "acknowledged": len(acknowledged),
        "acknowledged_items": acknowledged,
        "errors": sum(len(r.errors) for r in results),
        "error_samples": sorted({e.what for r in results for e in r.errors})[:5],
        "submits_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
        # Acknowledged verdicts per second in each minute: a server slowing as its tables grow shows here.
        "acknowledged_per_s_by_minute": _per_minute([at - began for r in results for at in r.acknowledged_at], elapsed),
    }


def _per_minute(offsets: list[float], elapsed: float) -> list[float]:
    minutes = max(1, int(elapsed // 60))
    counts = [0] * minutes
    for offset in offsets:
        counts[min(int(offset // 60), minutes - 1)] += 1
    return [round(count / (60 if i < minutes - 1 else elapsed - 60 * (minutes - 1)), 1) for i, count in enumerate(counts)]
