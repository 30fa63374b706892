"""A small OpenAI-compatible chat server for tests: answers, or fails as the test tells it to."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI(BaseHTTPRequestHandler):
    script: list[int] = []  # HTTP statuses to answer with, in order, before answering normally
    seen: list[dict] = []
    reply = staticmethod(lambda body: f"Echo: {body['messages'][-1]['content']}")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.seen.append({"body": body, "auth": self.headers.get("Authorization")})
        status = FakeOpenAI.script.pop(0) if FakeOpenAI.script else 200
        if status != 200:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"error": "scripted failure"}')
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
