"""A deterministic `ChatLLM` for the bank's bookkeeping tests (resume, cancel, chunking, crash).

It reads the transcript it is given and answers a valid note built from it (the speakers, the first
words), counting calls, so tests can say exactly which sessions were summarized. Summary quality is
tested with the real GGUF in test_llm_integration.py; this only stands in where an LLM call would
make a bookkeeping test take minutes.
"""

from __future__ import annotations

import json
import re

from assistant.ml.llm import Completion


class ScriptedLLM:
    name = "scripted"

    def __init__(self, n_ctx: int = 4096, fail_on: str | None = None) -> None:
        self.n_ctx = n_ctx
        self.calls: list[str] = []  # the user prompt of each call
        self.fail_on = fail_on  # raise when a prompt contains this text (a crash mid-build)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def chat(self, messages, *, max_tokens=256, temperature=0.2, repeat_penalty=1.15, json_schema=None, seed=0):
        user = messages[-1]["content"]
        self.calls.append(user)
        if self.fail_on and self.fail_on in user:
            raise RuntimeError("simulated crash in the middle of a build")
        if messages[0]["content"].startswith("You combine"):
            notes = re.findall(r"^\d+\. (.*?) \(topics", user, re.M)
            summary = "MERGED: " + " | ".join(notes)
            speakers: list[str] = []
        else:
            speakers = []
            words = []
            for line in user.splitlines():
                m = re.match(r"^(?:\d\d:\d\d )?([^:\[]+): (.*)$", line)
                if m and not line.startswith(("Chat:", "Date:", "Messages", "Part", "Write")):
                    if m.group(1) not in speakers:
                        speakers.append(m.group(1))
                    words.extend(m.group(2).split())
            summary = " ".join(words[:12])
        text = json.dumps({"participants": speakers, "topics": ["t1", "t1", "t2"], "mood": "calm.",
                           "summary": f"{summary}. {summary}."}, ensure_ascii=False)
        return Completion(text=text, prompt_tokens=self.count_tokens(user), completion_tokens=20, seconds=0.0)
