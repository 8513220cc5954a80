"""Helpers to run the real CLI in a subprocess: with network use forbidden, or killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs cli.main with a Python audit hook that refuses (and records) any socket connect or DNS lookup
# other than a Unix-domain socket. The hook sees every Python-level socket use (Chroma, urllib, HF
# hubs, telemetry clients), so an attempted connection is caught even when it would fail silently.
NO_NETWORK_RUNNER = r"""
import socket, sys
attempts = []
def hook(event, args):
    if event == "socket.connect":
        sock, addr = args[0], args[1]
        if getattr(sock, "family", None) == socket.AF_UNIX:
            return
        attempts.append(f"connect {addr!r}")
        raise OSError("network use blocked by the privacy test")
    if event == "socket.getaddrinfo":
        attempts.append(f"getaddrinfo {args[0]!r}")
        raise OSError("DNS blocked by the privacy test")
sys.addaudithook(hook)
from assistant.cli import main
try:
    rc = main(sys.argv[1:])
finally:
    print("__NET_ATTEMPTS__", len(attempts), "; ".join(attempts)[:500], flush=True)
sys.exit(rc)
"""


def cli_env(data_dir: Path) -> dict:
    env = dict(os.environ)
    env["STICKER_ASSISTANT_DATA_DIR"] = str(data_dir)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli_no_network(data_dir: Path, *args: str, timeout: float = 600) -> tuple[int, str, int]:
    """Returns (exit code, output, number of blocked network attempts)."""
    res = subprocess.run([sys.executable, "-c", NO_NETWORK_RUNNER, "--data-dir", str(data_dir), *args],
                         capture_output=True, text=True, timeout=timeout, cwd=REPO, env=cli_env(data_dir),
                         stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    line = next((ln for ln in out.splitlines() if ln.startswith("__NET_ATTEMPTS__")), "__NET_ATTEMPTS__ -1")
    return res.returncode, out, int(line.split()[1])


def run_cli(data_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=cli_env(data_dir),
                          stdin=subprocess.DEVNULL)


def run_and_kill(data_dir: Path, args: list[str], delay: float, marker: Path | None = None) -> bool:
    """Start the CLI, SIGKILL it after `delay` seconds; True when it was killed (not already finished)."""
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "--data-dir", str(data_dir), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                            env=cli_env(data_dir), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True
