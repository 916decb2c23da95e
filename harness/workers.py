"""Framework worker processes, seen from the orchestrator: start, call, time out, replace.

One long-lived process per framework answers calls over a pipe. A worker that dies or stops
answering is replaced; the call it was on gets a `crash` or `timeout` reply and the calls
after it are sent to the new worker, so nothing already measured is lost.
"""
from __future__ import annotations

import importlib.util
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from . import wire
from .frameworks import KNOWN

ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "HARNESS_WORKERS"  # "torch=/venv/bin/python,paddle=/other/bin/python"
BATCH = 32


class WorkerStartError(RuntimeError):
    pass


def parse_pythons(spec: str | Iterable[str] | None) -> dict[str, str]:
    """`torch=/x/python,paddle=/y/python` -> mapping; unknown framework names are errors."""
    items: list[str] = []
    for part in ([spec] if isinstance(spec, str) else list(spec or [])):
        items += [p for p in part.split(",") if p.strip()]
    out = {}
    for item in items:
        name, sep, python = item.partition("=")
        name = name.strip()
        if not sep or not python.strip():
            raise ValueError(f"worker setting {item!r} is not NAME=PYTHON (e.g. torch=.nox/fw-torch/bin/python)")
        if name not in KNOWN and not name.startswith("fake:"):
            raise ValueError(f"unknown framework {name!r} in worker setting {item!r}; known: {sorted(KNOWN)}")
        out[name] = python.strip()
    return out


def discover(configured: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Frameworks to run (name -> python) and the known ones that are missing here."""
    if configured:
        return dict(configured), [f for f in KNOWN if f not in configured]
    found, missing = {}, []
    for name, package in KNOWN.items():
        if importlib.util.find_spec(package) is not None:
            found[name] = sys.executable
        else:
            missing.append(name)
    return found, missing


@dataclass
class Worker:
    framework: str
    python: str
    timeout: float = 60.0
    start_timeout: float = 300.0
    log_dir: Optional[Path] = None
    info: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    _proc: Optional[subprocess.Popen] = None
    _replies: "queue.Queue[Any]" = field(default_factory=queue.Queue)

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("GLOG_minloglevel", "2")  # paddle/mindspore native log noise
        env.setdefault("GLOG_v", "0")
        stderr: Any = subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stderr = open(self.log_dir / f"{self.framework.replace(':', '_')}.log", "ab")
        self._replies = queue.Queue()
        try:
            self._proc = subprocess.Popen([self.python, "-m", "harness.worker", self.framework], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=str(ROOT))
        except OSError as exc:
            raise WorkerStartError(f"{self.framework} worker could not start: {self.python}: {exc.strerror}; "
                                   "give the framework environment's python with --workers NAME=PYTHON") from None
        threading.Thread(target=self._read, args=(self._proc, self._replies), daemon=True).start()
        hello = self._next(self.start_timeout)
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            code = self._stop()
            raise WorkerStartError(f"{self.framework} worker ({self.python}) did not start (exit code {code}); "
                                   f"see {self.log_dir or 'its stderr'} for the framework's own message")
        self.info = hello

    @staticmethod
    def _read(proc: subprocess.Popen, replies: "queue.Queue[Any]") -> None:
        try:
            while True:
                message = wire.receive(proc.stdout)  # type: ignore[arg-type]
                replies.put(message)
                if message is None:
                    return
        except Exception as exc:  # a garbled stream is a dead worker
            replies.put(None)
            replies.put(exc)

    def _next(self, timeout: float) -> Any:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return TimeoutError

    def _stop(self) -> Optional[int]:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.kill()
            return proc.wait(timeout=30)
        except Exception:
            return None

    def close(self) -> None:
        if self._proc and self._proc.poll() is None:
            try:
                wire.send(self._proc.stdin, {"op": "exit"})  # type: ignore[arg-type]
                self._proc.wait(timeout=10)
            except Exception:
                pass
        self._stop()

    def run(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One reply per request, in order; crashes and hangs become replies too.

        Calls go in batches answered by one message each (a message per call cost more than a
        small call). A batch the worker does not answer, because it died or hung past the
        timeout, is replayed one call at a time on a new worker: the crash or timeout is charged
        to the call that caused it, and every other call still gets its own answer.
        """
        replies: list[dict[str, Any]] = []
        pending = list(requests)
        alone = 0  # calls still to send one at a time, after a batch that failed
        while pending:
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self.restarts += 1
                self.start()
            batch, pending = pending[:1 if alone else BATCH], pending[1 if alone else BATCH:]
            alone = max(0, alone - len(batch))
            try:
                wire.send(self._proc.stdin, {"op": "batch", "calls": batch})  # type: ignore[arg-type]
            except (BrokenPipeError, OSError):
                pass  # the reply below sees the dead worker
            answer = self._next(self.timeout)
            got = answer.get("replies") if isinstance(answer, dict) else None
            if isinstance(got, list) and [r.get("id") for r in got] == [r.get("id") for r in batch]:
                replies.extend(got)
                continue
            if len(batch) == 1:
                replies.append(self._failure(batch[0], answer))
            else:
                pending, alone = batch + pending, len(batch)
            self.restarts += 1
            self._stop()
        return replies

    def _failure(self, request: dict[str, Any], reply: Any) -> dict[str, Any]:
        if reply is TimeoutError:
            return {"id": request.get("id"), "crash": "timeout", "seconds": self.timeout,
                    "error": {"type": "Timeout", "mro": [], "message": f"no answer within {self.timeout:g} s"}}
        code = self._proc.wait(timeout=30) if self._proc else None
        why = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        return {"id": request.get("id"), "crash": "crash", "seconds": 0.0,
                "error": {"type": "WorkerDied", "mro": [], "message": f"the {self.framework} worker died ({why})"}}


class Pool:
    """One worker per framework, started on first use and closed at the end."""

    def __init__(self, pythons: dict[str, str], timeout: float = 60.0, log_dir: Optional[Path] = None) -> None:
        self.pythons, self.timeout, self.log_dir = pythons, timeout, log_dir
        self.workers: dict[str, Worker] = {}
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, framework: str) -> Worker:
        with self._lock:
            if framework in self.failed:
                raise WorkerStartError(self.failed[framework])
            if framework not in self.workers:
                worker = Worker(framework, self.pythons[framework], self.timeout, log_dir=self.log_dir)
                try:
                    worker.start()
                except WorkerStartError as exc:
                    self.failed[framework] = str(exc)
                    raise
                self.workers[framework] = worker
            return self.workers[framework]

    def versions(self) -> dict[str, str]:
        return {name: str(w.info.get("version")) for name, w in sorted(self.workers.items())}

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()
