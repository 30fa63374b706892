"""A bounded load client (threads, stdlib HTTP, loopback only): annotators log in and judge.

Each simulated annotator keeps its own session, submits verdicts as the page's HTMX form does,
and records every verdict the server acknowledged, so the test can compare that set with the
database afterwards. It stops by itself after `seconds`.
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


@dataclass
class ClientResult:
    acknowledged: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Session:
    def __init__(self, host: str, port: int):
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}

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
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text


def run_annotator(host, port, username, password, study, deadline, result: ClientResult) -> None:
    session = Session(host, port)
    try:
        status, page = session.request("GET", "/accounts/login/")
        token = CSRF.search(page).group(1)
        status, _ = session.request("POST", "/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token})
        if status != 302:
            result.errors.append(f"login {status}")
            return
        status, page = session.request("GET", f"/judge/{study}/", headers={"HX-Request": "true"})
        while time.monotonic() < deadline:
            match = ITEM.search(page)
            if not match:
                return  # nothing left to judge
            item = match.group(1)
            started = time.perf_counter()
            status, page = session.request("POST", f"/judge/{study}/submit/", {"item": item, "choice": "a"}, {"HX-Request": "true"})
            result.latencies.append(time.perf_counter() - started)
            if status == 200 and ("Saved." in page or "already judged" in page):
                result.acknowledged.append(item)
            else:
                result.errors.append(f"submit {status}")
    except Exception as exc:  # a refused connection, a reset: an error the report counts
        result.errors.append(repr(exc))


def run_load(*, host: str, port: int, annotators: list[str], password: str, study: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    results = [ClientResult() for _ in annotators]
    threads = [threading.Thread(target=run_annotator, args=(host, port, name, password, study, deadline, result))
               for name, result in zip(annotators, results)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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
        "error_samples": sorted({e for r in results for e in r.errors})[:5],
        "submits_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
    }
