"""A small OpenAI-compatible chat server for tests: answers, or fails as the test tells it to."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI(BaseHTTPRequestHandler):
    # What to answer with, in order, before answering normally: an HTTP status, or (status, headers, body).
    script: list[int | tuple[int, dict, bytes]] = []
    seen: list[dict] = []
    reply = staticmethod(lambda body: f"Echo: {body['messages'][-1]['content']}")

    def _record(self, body) -> None:
        FakeOpenAI.seen.append({"method": self.command, "path": self.path, "body": body, "auth": self.headers.get("Authorization"),
                                "headers": {name.lower(): value for name, value in self.headers.items()}})

    def _scripted(self) -> bool:
        if not FakeOpenAI.script:
            return False
        step = FakeOpenAI.script.pop(0)
        status, headers, payload = step if isinstance(step, tuple) else (step, {}, b'{"error": "scripted failure"}')
        if status == 200:
            return False
        self.send_response(status)
        # As OpenAI does: how long to wait before retrying (the SDK honours it; it keeps the suite fast).
        self.send_header("retry-after-ms", "10")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return True

    def do_GET(self):
        self._record(None)
        if not self._scripted():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if self._scripted():
            return
        answer = {"choices": [{"message": {"role": "assistant", "content": FakeOpenAI.reply(body)}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@contextmanager
def fake_openai_server(reply=None):
    FakeOpenAI.script, FakeOpenAI.seen = [], []
    FakeOpenAI.reply = staticmethod(reply or (lambda body: f"Echo: {body['messages'][-1]['content']}"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
