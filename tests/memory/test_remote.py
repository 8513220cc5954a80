"""The optional remote summarizer against a real HTTP server on 127.0.0.1 that the test runs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.memory import memories
from assistant.memory.remote import SECRET_NAME, RemoteLLM, remote_llm
from assistant.ml.llm import LLMError
from assistant.secrets import set_secret
from tests.memory.conversations import HOTPOT_ZH
from tests.memory.helpers import add_chat, add_session


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions like an OpenAI-compatible server; records what it was sent."""

    requests: list = []
    refuse_schema = False

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        fmt = (body.get("response_format") or {}).get("type")
        if self.refuse_schema and fmt == "json_schema":
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"error": "response_format json_schema not supported"}')
            return
        note = {"summary": "小明和小红约好周六去海底捞吃火锅。", "topics": ["火锅"], "mood": "开心",
                "participants": ["小明", "小红"]}
        answer = {"choices": [{"message": {"role": "assistant", "content": json.dumps(note, ensure_ascii=False)},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 321, "completion_tokens": 45}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server():
    FakeOpenAI.requests = []
    FakeOpenAI.refuse_schema = False
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_off_by_default(app):
    assert remote_llm(app.config) is None


def test_build_through_the_remote_endpoint_with_the_keyring_key(app, server):
    app.config.settings.remote_llm_url = server
    app.config.settings.remote_llm_model = "gpt-test"
    set_secret(SECRET_NAME, "sk-secret")
    chat = add_chat(app, "小红")
    sid = add_session(app, chat, HOTPOT_ZH)
    report = memories.build(app)
    assert report.summarized == 1 and report.model == f"gpt-test @ {server}"
    req = FakeOpenAI.requests[0]
    assert req["auth"] == "Bearer sk-secret"
    assert req["body"]["model"] == "gpt-test"
    assert req["body"]["response_format"]["type"] == "json_schema"
    assert "海底捞" in req["body"]["messages"][-1]["content"]
    assert "Chinese" in req["body"]["messages"][-1]["content"]  # the language is named after the transcript
    m = memories.show(app, sid)
    assert m.summary.startswith("小明和小红约好周六去海底捞吃火锅。") and m.mood == "开心" and m.language == "zh"
    settings_text = app.config.settings_path.read_text() if app.config.settings_path.exists() else ""
    assert "sk-secret" not in settings_text


def test_falls_back_to_json_object_when_schema_is_refused(server):
    FakeOpenAI.refuse_schema = True
    llm = RemoteLLM(server, "m")
    out = llm.chat([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
    assert json.loads(out.text)["mood"] == "开心" and out.prompt_tokens == 321
    assert [r["body"]["response_format"]["type"] for r in FakeOpenAI.requests] == ["json_schema", "json_object"]


def test_errors_name_the_endpoint(server):
    with pytest.raises(LLMError, match="HTTP 404"):
        RemoteLLM(server.replace("/v1", "/nope"), "m").chat([{"role": "user", "content": "x"}])
    with pytest.raises(LLMError, match="unreachable"):
        RemoteLLM("http://127.0.0.1:9/v1", "m", timeout=2).chat([{"role": "user", "content": "x"}])
