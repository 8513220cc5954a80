"""The summarizer role: any chat GGUF through llama-cpp-python, behind a small interface.

The memory bank only needs "chat messages in, text out, optionally constrained to a JSON schema",
plus a token counter to chunk long sessions. `LlamaCppLLM` does that locally: the model is loaded
lazily on the first call (the window and the CLI start without touching it), the chat template is
the one stored in the GGUF (so any instruct GGUF a user picks formats its prompts correctly), all
layers go to the GPU when llama.cpp was built with offload support, and the CPU thread count is at most
the number of physical cores (hyper-threads slow llama.cpp's matmuls down) and, per call, no more than
the cores other processes leave free (llama.cpp's threads spin-wait for each other). `remote.py` implements the
same interface over an OpenAI-compatible HTTP endpoint.
"""

from __future__ import annotations

import json
import logging
import os
import atexit
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    """The model cannot be loaded or run; the message says which file and what to do."""


@dataclass
class Completion:
    """One answer with the counts a benchmark needs (prompt vs generation speed)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    prompt_seconds: float | None = None  # time spent evaluating the prompt, when the backend says
    generation_seconds: float | None = None
    prompt_evaluated: int | None = None  # prompt tokens actually evaluated (the rest came from the KV cache)
    finish_reason: str = ""
    threads: int | None = None  # CPU threads llama.cpp ran with for this call


class ChatLLM(Protocol):
    """What the summarizer needs from a language model."""

    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...

    def chat(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.2,
             repeat_penalty: float = 1.15, json_schema: dict | None = None,
             seed: int | None = 0) -> Completion: ...


def physical_cores() -> int:
    """Physical cores this process may use: llama.cpp is fastest with one thread per core."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        phys = core = ""
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not line.strip():
                    if core:
                        cores.add((phys, core))
                    phys = core = ""
        if core:
            cores.add((phys, core))
    except OSError:
        pass
    n = len(cores) if cores else (os.cpu_count() or 1)
    return max(1, min(n, allowed))


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies over all CPUs from /proc/stat; None where there is no such file."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            vals = [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(vals) < 5:
        return None
    return vals[3] + vals[4], sum(vals)


def idle_cores(interval: float = 0.1) -> float | None:
    """How many CPUs nobody is using right now (two /proc/stat samples `interval` apart).

    The 1-minute load average lags by a minute and counts our own threads from the previous call;
    this sample is taken while the model is not running, so it measures only the other processes.
    None where /proc/stat cannot be read (not Linux)."""
    a = _cpu_times()
    if a is None:
        return None
    time.sleep(interval)
    b = _cpu_times()
    if b is None or b[1] <= a[1]:
        return None
    cpus = os.cpu_count() or 1
    return cpus * (b[0] - a[0]) / (b[1] - a[1])


def threads_for_now(most: int, idle: float | None) -> int:
    """Threads for the next call: one per core that is free right now, at least one, at most `most`.

    llama.cpp's threads (OpenMP here) spin-wait at hundreds of barriers per token, so a thread that
    shares its core with another process stalls all the others: on 2 cores busy with other work we
    measured 2 threads at 0.6–6 generated tok/s and 1 thread at 10–20 (prompt: 11–23 vs 29–80 tok/s).
    """
    if idle is None:
        return most
    return max(1, min(most, int(idle + 0.3)))


def gpu_offload_supported() -> bool:
    """True when this llama.cpp build can put layers on a GPU (CUDA, Metal, Vulkan...)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # noqa: BLE001 - no llama_cpp, or an old build without the symbol
        return False


class LlamaCppLLM:
    """A local GGUF chat model. Thread-safe: one generation at a time per loaded model.

    One `Llama` object serves every call, so llama.cpp keeps the KV cache of the previous prompt and
    evaluates only what differs: the summarizer's instructions come first and are the same for every
    session, so from the second session on they cost nothing. `n_threads=None` picks the thread count
    per call from the cores free at that moment (see `threads_for_now`); a number fixes it.
    `n_batch` (also the micro-batch) and `flash_attn` stay at llama.cpp's defaults: 1024 and flash
    attention were within the noise (±10%) of 512 without it in our prompt-speed runs on 2 cores.
    """

    def __init__(self, model_path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None,
                 n_gpu_layers: int | None = None, seed: int = 0, verbose: bool = False,
                 n_batch: int = 512, flash_attn: bool = False) -> None:
        self.path = Path(model_path)
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.adaptive_threads = n_threads is None
        self.n_threads = n_threads or physical_cores()
        self.n_batch = n_batch
        self.flash_attn = flash_attn
        self._threads_now = self.n_threads
        self.n_gpu_layers = n_gpu_layers
        self.seed = seed
        self.verbose = verbose
        self._llama = None
        self._lock = threading.RLock()
        self._grammars: dict[str, object] = {}
        self.load_seconds: float | None = None

    # --- loading ------------------------------------------------------------------------------
    @property
    def llama(self):
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self):
        if not self.path.is_file():
            raise LLMError(f"{self.path}: GGUF model file not found. Install it with "
                           "`sticker-assistant models install summarizer` or pick another GGUF in the settings.")
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMError("llama-cpp-python is not installed; memory summaries need it "
                           f"(pip install llama-cpp-python): {exc}") from None
        gpu_layers = self.n_gpu_layers
        if gpu_layers is None:
            gpu_layers = -1 if gpu_offload_supported() else 0
        t0 = time.perf_counter()
        try:
            llama = llama_cpp.Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    n_threads_batch=self.n_threads, n_gpu_layers=gpu_layers, seed=self.seed,
                                    n_batch=self.n_batch, n_ubatch=self.n_batch, flash_attn=self.flash_attn,
                                    verbose=self.verbose)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMError(f"{self.path}: llama.cpp could not load this file as a GGUF model ({exc}).") from None
        self.load_seconds = time.perf_counter() - t0
        self._threads_now = self.n_threads
        if not llama.metadata.get("tokenizer.chat_template"):
            log.warning("%s has no chat template; llama.cpp falls back to %s", self.path.name, llama.chat_format)
        self.gpu_layers = gpu_layers
        log.info("loaded %s in %.2fs (threads %d, gpu layers %d, chat format %s)", self.path.name,
                 self.load_seconds, self.n_threads, gpu_layers, llama.chat_format)
        return llama

    @property
    def has_chat_template(self) -> bool:
        return bool(self.llama.metadata.get("tokenizer.chat_template"))

    @property
    def context_length(self) -> int:
        """The usable context: what we asked for, capped by what the model was trained on."""
        return self.llama.n_ctx()

    # --- use ----------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _grammar(self, schema: dict):
        key = json.dumps(schema, sort_keys=True)
        g = self._grammars.get(key)
        if g is None:
            from llama_cpp import LlamaGrammar

            g = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            self._grammars[key] = g
        return g

    def chat(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.2,
             repeat_penalty: float = 1.15, json_schema: dict | None = None,
             seed: int | None = 0) -> Completion:
        import llama_cpp

        with self._lock:
            llama = self.llama
            grammar = self._grammar(json_schema) if json_schema else None
            self._pick_threads(llama)
            llama_cpp.llama_perf_context_reset(llama.ctx)
            t0 = time.perf_counter()
            try:
                out = llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                   temperature=temperature, repeat_penalty=repeat_penalty,
                                                   grammar=grammar, seed=seed if seed is not None else self.seed)
            except ValueError as exc:  # e.g. prompt longer than the context
                raise LLMError(f"{self.path.name}: {exc}") from None
            seconds = time.perf_counter() - t0
            perf = llama_cpp.llama_perf_context(llama.ctx)
        usage = out.get("usage") or {}
        choice = out["choices"][0]
        return Completion(text=choice["message"].get("content") or "",
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)), seconds=seconds,
                          prompt_seconds=perf.t_p_eval_ms / 1000.0, generation_seconds=perf.t_eval_ms / 1000.0,
                          prompt_evaluated=int(perf.n_p_eval), finish_reason=choice.get("finish_reason") or "",
                          threads=self._threads_now)

    def _pick_threads(self, llama) -> None:
        """Adaptive mode: as many threads as cores are free now (all layers on a GPU: leave it)."""
        if not self.adaptive_threads or self.gpu_layers not in (0, None):
            return
        import llama_cpp

        n = threads_for_now(self.n_threads, idle_cores())
        if n != self._threads_now:
            llama_cpp.llama_set_n_threads(llama.ctx, n, n)
            self._threads_now = n

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


_cache: dict[tuple, LlamaCppLLM] = {}
_cache_lock = threading.Lock()


def close_all() -> None:
    """Free cached models before interpreter teardown: llama_cpp's own __del__ runs too late then (its C
    bindings are already gone) and prints a TypeError traceback at the end of every CLI run."""
    with _cache_lock:
        for llm in _cache.values():
            llm.close()
        _cache.clear()


atexit.register(close_all)


def resolve_model_path(config) -> Path:
    """The GGUF the settings name: a registry role ("summarizer") or a path to any GGUF file."""
    from assistant.ml import registry

    choice = (config.settings.summarizer_model or "summarizer").strip()
    if choice in registry.MANIFEST:
        path = registry.installed_path(choice, config.models_dir)
        if path is None:
            raise LLMError(f"the {choice} model is not installed in {config.models_dir}: run "
                           f"`sticker-assistant models install {choice}`, or set summarizer_model to a GGUF path.")
        return path
    path = Path(choice).expanduser()
    if not path.is_file():
        raise LLMError(f"{path}: the summarizer model set in the settings does not exist.")
    return path


def load_llm(config, *, n_ctx: int = 4096) -> LlamaCppLLM:
    """The process-wide summarizer for the configured GGUF (loaded on first use, then reused)."""
    path = resolve_model_path(config)
    key = (str(path), n_ctx)
    with _cache_lock:
        llm = _cache.get(key)
        if llm is None:
            # device "cpu" in the settings keeps every layer on the CPU; otherwise offload when llama.cpp can
            gpu_layers = 0 if getattr(config.settings, "device", "auto") == "cpu" else None
            llm = LlamaCppLLM(path, n_ctx=n_ctx, n_gpu_layers=gpu_layers)
            _cache[key] = llm
        return llm
