"""Starting workers in milliseconds: a fork server per framework imports and sets up the framework once, then
forks a worker for each request.

Why: a crash is a measurement here, and every re-run or region probe that must not share a process's history
needs a fresh one; each cost a new interpreter and a framework import (1–2 s of CPU), hundreds of times a run,
more than all the framework calls together. A child forked from a server that has imported but never called
the framework has no history either, and is ready at once.

Two sides, one module:
- the server (`python -m harness.run.forkserver FRAMEWORK FD`) runs in the framework's environment and imports
  only what a worker does; it talks over the Unix socket FD, receives each worker's pipe ends with the request
  (`socket.send_fds`), forks, and reaps its children, keeping their exit status for the orchestrator;
- the client (`ForkServer`, `Forked`) runs in the orchestrator; `Forked` stands where a `subprocess.Popen`
  would (stdin, stdout, poll, kill, wait), so a worker does not care how its process was started.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from harness.run import worker

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = 1 << 16  # bytes: control messages are small JSON


class ForkError(RuntimeError):
    """The server could not start or fork: the caller starts a worker the slow way."""


class ForkServer:
    """One framework's fork server, seen from the orchestrator."""

    def __init__(self, framework: str, python: str, env: dict[str, str], stderr: Any, start_timeout: float) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.framework, self._sock, self._lock = framework, ours, threading.Lock()
        try:
            self._proc = subprocess.Popen([python, "-m", "harness.run.forkserver", framework, str(theirs.fileno())],
                                          pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=stderr,
                                          stderr=stderr, env=env, cwd=str(ROOT))
        except OSError as exc:
            ours.close()
            raise ForkError(f"{framework} fork server could not start: {exc.strerror}") from None
        finally:
            theirs.close()
        hello = self._ask(None, [], start_timeout)
        if hello.get("op") != "hello":
            self.close()
            raise ForkError(f"{framework} fork server did not start: {hello}")
        self.info = hello

    def _ask(self, message: dict[str, Any] | None, fds: list[int], timeout: float) -> dict[str, Any]:
        with self._lock:
            try:
                self._sock.settimeout(timeout)
                if message is not None:
                    socket.send_fds(self._sock, [json.dumps(message).encode()], fds)
                data = self._sock.recv(MESSAGE)
            except OSError as exc:
                raise ForkError(f"{self.framework} fork server: {exc}") from None
        if not data:
            raise ForkError(f"{self.framework} fork server has exited (code {self._proc.poll()})")
        return dict(json.loads(data))

    def spawn(self, stderr: Any, memory: int, timeout: float = 30.0) -> Forked:
        """A new worker process: its stdin and stdout are pipes to this process, its stderr `stderr`."""
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        err = stderr.fileno() if hasattr(stderr, "fileno") else os.open(os.devnull, os.O_WRONLY)
        try:
            reply = self._ask({"op": "fork", "memory": memory}, [child_in, child_out, err], timeout)
        except ForkError:
            for fd in (to_child, from_child):
                os.close(fd)
            raise
        finally:
            for fd in (child_in, child_out) + (() if hasattr(stderr, "fileno") else (err,)):
                os.close(fd)
        return Forked(int(reply["pid"]), os.fdopen(to_child, "wb"), os.fdopen(from_child, "rb"), self)

    def status(self, pid: int) -> int | None:
        """The child's exit status as `Popen.returncode` gives it (-N: killed by signal N), None while it runs."""
        code = self._ask({"op": "status", "pid": pid}, [], 30.0).get("code")
        return None if code is None else int(code)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        self._sock.close()  # the server exits at the end of its control stream
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class Forked:
    """A worker process forked by a `ForkServer`: what `Worker` uses of a `subprocess.Popen`."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], server: ForkServer) -> None:
        self.pid, self.stdin, self.stdout, self._server = pid, stdin, stdout, server
        self.returncode: int | None = None
        try:  # readable once the process has ended: polled without asking the server every time
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def _running(self) -> bool:
        return self._pidfd is not None and not select.select([self._pidfd], [], [], 0)[0]

    def poll(self) -> int | None:
        if self.returncode is None and not self._running():
            try:
                self.returncode = self._server.status(self.pid)
            except ForkError:  # the server is gone, and with it the exit status: alive or killed, as the OS says
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    self.returncode = -signal.SIGKILL
        if self.returncode is not None and self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.005)
        try:
            self.stdin.close()
        except OSError:
            pass
        return self.returncode  # type: ignore[return-value]


# the server side ------------------------------------------------------------------------------------------------

def serve(framework: str, sock: socket.socket) -> None:
    """Set the framework up, then fork a worker per request until the control stream ends."""
    adapter, startup = worker.prepare(framework)
    finished: dict[int, int] = {}

    def reap(_signum: int, _frame: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            finished[pid] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    signal.signal(signal.SIGCHLD, reap)
    sock.send(json.dumps({"op": "hello", "framework": framework, "pid": os.getpid(), "startup_seconds": startup}).encode())
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE, 3)
        except InterruptedError:
            continue
        if not data:
            return
        message = json.loads(data)
        if message["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                _child(framework, adapter, startup, sock, fds, int(message.get("memory") or 0))
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
        elif message["op"] == "status":
            reap(0, None)
            sock.send(json.dumps({"code": finished.get(int(message["pid"]))}).encode())


def _child(framework: str, adapter: Any, startup: float, sock: socket.socket, fds: list[int], memory: int) -> None:
    """The forked worker: its own pipes and stderr, the memory limit, then the worker's loop; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        stdin, stdout, stderr = fds
        os.dup2(stderr, 2)
        os.dup2(stderr, 1)  # anything the framework prints goes to stderr
        os.close(stderr)
        worker.limit_memory(memory)
        worker.serve(framework, adapter, os.fdopen(stdin, "rb"), os.fdopen(stdout, "wb"), startup)
        code = 0
    finally:
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    framework, fd = sys.argv[1], int(sys.argv[2])
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(framework, socket.socket(fileno=fd))
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
