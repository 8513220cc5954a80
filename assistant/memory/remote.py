"""An optional OpenAI-compatible chat endpoint for memory summaries, off by default.

For users who want the paper's GPT-4-class summaries (or run a bigger model on another machine of
their own, e.g. llama.cpp's server or vLLM). Nothing is sent unless both `remote_llm_url` and
`remote_llm_model` are set in the settings; the API key, if the endpoint needs one, is read from the
system keyring (`assistant.secrets`), never from the settings file. Implements the same `ChatLLM`
interface as the local model, with stdlib HTTP only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from assistant.ml.llm import Completion, LLMError
from assistant.secrets import get_secret

SECRET_NAME = "remote_llm_key"
DEFAULT_CONTEXT = 16_000


class RemoteLLM:
    """POSTs to `{base_url}/chat/completions`; `base_url` is e.g. `https://api.example.com/v1`."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, n_ctx: int = DEFAULT_CONTEXT,
                 timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model} @ {self.base_url}"
        self.n_ctx = n_ctx
        self.timeout = timeout
        self._key = api_key
        self._schema_ok = True  # cleared when the server refuses json_schema response formats

    def count_tokens(self, text: str) -> int:
        """No tokenizer for an unknown remote model: UTF-8 bytes / 3 over-counts Latin and CJK text
        alike, so chunks stay inside the context."""
        return len(text.encode("utf-8")) // 3 + 1

    def _post(self, body: dict) -> dict:
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"),
                                     method="POST", headers={"Content-Type": "application/json"})
        if self._key:
            req.add_header("Authorization", f"Bearer {self._key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user-set URL
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise _HTTPError(exc.code, f"{self.base_url}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LLMError(f"{self.base_url}: the remote summarizer is unreachable ({exc}).") from None
        except ValueError as exc:
            raise LLMError(f"{self.base_url}: the answer was not JSON ({exc}).") from None

    def chat(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.2,
             repeat_penalty: float = 1.15, json_schema: dict | None = None, seed: int | None = 0) -> Completion:
        body: dict = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                      "temperature": temperature}
        if seed is not None:
            body["seed"] = seed
        if repeat_penalty > 1.0:  # the OpenAI API has no repeat penalty; a small frequency penalty is closest
            body["frequency_penalty"] = min(2.0, (repeat_penalty - 1.0) * 2)
        if json_schema is not None:
            body["response_format"] = ({"type": "json_schema", "json_schema": {"name": "note", "schema": json_schema}}
                                       if self._schema_ok else {"type": "json_object"})
        t0 = time.perf_counter()
        try:
            data = self._post(body)
        except _HTTPError as exc:
            if json_schema is None or not self._schema_ok or exc.code not in (400, 422):
                raise LLMError(str(exc)) from None
            self._schema_ok = False  # older servers know only json_object
            body["response_format"] = {"type": "json_object"}
            try:
                data = self._post(body)
            except _HTTPError as exc2:
                raise LLMError(str(exc2)) from None
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMError(f"{self.base_url}: unexpected answer shape: {str(data)[:200]}") from None
        usage = data.get("usage") or {}
        return Completion(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          completion_tokens=int(usage.get("completion_tokens") or 0),
                          seconds=time.perf_counter() - t0, finish_reason=choice.get("finish_reason") or "")


class _HTTPError(LLMError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def remote_llm(config) -> RemoteLLM | None:
    """The configured endpoint, or None (the default: everything stays on this machine)."""
    s = config.settings
    if not s.remote_llm_url or not s.remote_llm_model:
        return None
    n_ctx = int(s.extra.get("remote_llm_context", DEFAULT_CONTEXT)) if isinstance(s.extra, dict) else DEFAULT_CONTEXT
    return RemoteLLM(s.remote_llm_url, s.remote_llm_model, get_secret(SECRET_NAME), n_ctx=n_ctx)
