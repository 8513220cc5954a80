"""What makes summarizing fast on 2 cores: the shared instructions come from llama.cpp's KV cache from
the second session on, and the thread count follows the cores that are free.

The cache test runs the real GGUF on two short sessions in different languages (the system prompt must
not depend on the language, or every language switch would re-evaluate it).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from assistant.memory.summarizer import Line, Session, Summarizer, load_prompt
from assistant.ml.llm import idle_cores, physical_cores, threads_for_now


def test_threads_follow_the_free_cores():
    assert threads_for_now(2, 2.0) == 2
    assert threads_for_now(2, 1.8) == 2  # a little background noise does not cost a thread
    assert threads_for_now(2, 1.2) == 1  # another process holds a core: a second thread would stall ours
    assert threads_for_now(2, 0.0) == 1  # always at least one
    assert threads_for_now(8, 5.0) == 5 and threads_for_now(4, 16.0) == 4
    assert threads_for_now(2, None) == 2  # unknown (no /proc/stat): all physical cores


def test_idle_cores_is_a_fraction_of_the_cpus():
    idle = idle_cores(0.05)
    if idle is None:
        pytest.skip("no /proc/stat here")
    import os

    assert 0.0 <= idle <= (os.cpu_count() or 1) + 1e-6


class _Recorder:
    def __init__(self, llm) -> None:
        self.llm, self.name, self.n_ctx, self.completions = llm, llm.name, llm.n_ctx, []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def chat(self, messages, **kw):
        out = self.llm.chat(messages, **kw)
        self.completions.append(out)
        return out


def _session(sid: int, turns: list[tuple[str, str]]) -> Session:
    lines = [Line(sender=s, text=t, time=datetime(2024, 6, sid, 20, i)) for i, (s, t) in enumerate(turns)]
    return Session(sid, 1, "chat", lines, lines[0].time, lines[-1].time)


@pytest.mark.slow
def test_second_session_reuses_the_instructions_from_the_kv_cache(summarizer_gguf):
    from assistant.ml.llm import LlamaCppLLM

    llm = LlamaCppLLM(summarizer_gguf, n_ctx=2048)
    try:
        rec = _Recorder(llm)
        summ = Summarizer(rec)
        summ.summarize(_session(1, [("Alice", "Shall we meet at the Blue Bottle café at 10?"),
                                    ("Bob", "Yes, see you there, I'll bring the book.")]))
        summ.summarize(_session(2, [("小明", "明天去爬山吗？"), ("小红", "好啊，早上八点见。")]))
        first, second = rec.completions[0], rec.completions[-1]
        assert first.prompt_evaluated == first.prompt_tokens  # a fresh model: nothing cached yet
        shared = llm.count_tokens(load_prompt("summarize_system"))
        assert second.prompt_evaluated <= second.prompt_tokens - shared, (second.prompt_evaluated, shared)
        assert all(1 <= c.threads <= physical_cores() for c in rec.completions)
    finally:
        llm.close()
