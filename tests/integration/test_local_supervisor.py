"""``make run``'s supervisor (deploy/local/supervise.py) as a user meets it: a killed program
comes back and the restart is reported; Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.infra import REPO_ROOT

SUPERVISE = REPO_ROOT / "deploy" / "local" / "supervise.py"


def events(state: Path) -> list[dict]:
    path = state / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose.
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def test_a_killed_program_is_restarted_and_ctrl_c_stops_all(tmp_path):
    supervisor = subprocess.Popen(
        [sys.executable, str(SUPERVISE), "--log-dir", str(tmp_path), "--quiet",
         "worker=sleep 300", "other=sleep 300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = wait_for(lambda: [e["pid"] for e in events(tmp_path)
                                  if e["event"] == "started" and e["program"] == "worker"],
                         "the worker to start")[0]
        other = int((tmp_path / "other.pid").read_text())
        os.kill(first, signal.SIGKILL)

        restarted = wait_for(lambda: [e["pid"] for e in events(tmp_path)
                                      if e["event"] == "started" and e["program"] == "worker"
                                      and e["restart"] == 1], "the worker's restart")[0]
        assert restarted != first and alive(restarted)
        assert alive(other), "a restart touches only the program that died"
        exited = next(e for e in events(tmp_path) if e["event"] == "exited")
        assert exited["program"] == "worker" and exited["status"] == -signal.SIGKILL

        supervisor.send_signal(signal.SIGINT)
        _, stderr = supervisor.communicate(timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 130
    assert "worker killed by SIGKILL" in stderr and "restart #1" in stderr, stderr
    assert not alive(restarted) and not alive(other)
    stopped = {e["program"] for e in events(tmp_path) if e["event"] == "stopped"}
    assert stopped == {"worker", "other"}
