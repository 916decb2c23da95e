"""Framework worker processes, seen from the orchestrator: start, call, time out, replace.

One long-lived process per framework answers calls over a pipe. A worker that dies or stops
answering is replaced; the call it was on gets a `crash` or `timeout` reply (`memory` when
the framework ran out of the memory limit) and the calls after it are sent to the new worker, so
nothing already measured is lost. How long a call may take is learned per binding (see deadline.py),
and workers are forked from a fork server that imported the framework once (see forkserver.py; a
replacement is a pre-started spare when the pool keeps one), so neither a hang nor a crash costs the
full time limit or a framework import again and again.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.files import inside
from harness.run import wire
from harness.run.deadline import Ledger
from harness.run.forkserver import Forked, ForkError, ForkServer
from harness.run.frameworks import registry
from harness.run.frameworks.base import Adapter
from harness.run.worker import UNSYNCHRONIZED

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "HARNESS_WORKERS"  # "torch=/venv/bin/python,paddle=/other/bin/python"
BATCH = 128  # calls per batch at most
BATCH_BYTES = 1 << 18  # and about this many bytes of arrays: a batch then fits the pipe to send it ahead (Worker.run)
_MEMORY_DEATH = Adapter.memory_messages + ("memoryerror",)  # in a dead worker's stderr


class WorkerStartError(RuntimeError):
    pass


class Guard(Protocol):
    """Decides, call by call, whether a call is sent at all (see run/budget.py), and sees every reply."""

    def admit(self, request: dict[str, Any]) -> bool: ...

    def open(self) -> bool:
        """Whether `admit` admits every call whatever the replies still to come (calls may then be sent early)."""
        ...

    def observe(self, request: dict[str, Any], reply: dict[str, Any]) -> None: ...


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
        if name not in registry.names() and not name.startswith("fake:"):
            raise ValueError(f"unknown framework {name!r} in worker setting {item!r}; known: {sorted(registry.names())}")
        out[name] = python.strip()
    return out


def parse_memory(text: str | int | None) -> int:
    """`4G`, `512M`, `auto` (half the machine's memory) or `0` (no limit) -> bytes."""
    if text is None or str(text).strip().lower() == "auto":
        return machine_memory() // 2
    value = str(text).strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(value[-1:], 1)
    try:
        number = float(value[:-1] if scale > 1 else value)
    except ValueError:
        raise ValueError(f"memory limit {text!r} is not a size such as 4G, 512M, auto or 0") from None
    return max(0, int(number * scale))


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def discover(configured: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Frameworks to run (name -> python) and the known ones that are missing here."""
    if configured:
        return dict(configured), [f for f in registry.names() if f not in configured]
    found, missing = {}, []
    for fw in registry.FRAMEWORKS:
        if importlib.util.find_spec(fw.package) is not None:
            found[fw.name] = sys.executable
        else:
            missing.append(fw.name)
    return found, missing


def worker_env() -> dict[str, str]:
    """The environment of a worker (or fork server) process: the harness importable, framework log noise down."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("GLOG_minloglevel", "2")  # paddle/mindspore native log noise
    env.setdefault("GLOG_v", "0")
    return env


@dataclass
class Worker:
    framework: str
    python: str
    timeout: float = 60.0
    start_timeout: float = 300.0
    log_dir: Path | None = None
    memory: int = 0  # bytes a worker may allocate (RLIMIT_DATA); 0: no limit
    info: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    _proc: subprocess.Popen | Forked | None = None
    _reader: wire.Reader | None = None  # the process's replies
    _stdin_room: int = 0  # bytes the process's stdin pipe holds: a message no bigger is written without waiting
    _log_start: int = 0  # where this process's stderr begins in the (appended) log
    ledgers: dict[str, Ledger] = field(default_factory=dict)  # per target: learned deadline, costs (shared by a pool)
    replace: Callable[[], Worker] | None = None  # a ready worker to take over from a dead one (the pool's spare)
    forks: Callable[[], ForkServer | None] | None = None  # the framework's fork server, if it has one (see forkserver.py)
    env: dict[str, str] = field(default_factory=dict)  # added to worker_env() (a worker started the slow way only)

    def start(self) -> None:
        stderr: Any = subprocess.DEVNULL
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = open(self.log_path, "ab")
            self._log_start = stderr.tell()
        command = [self.python, "-m", "harness.run.worker", self.framework] + ([str(self.memory)] if self.memory else [])
        try:
            forks = self.forks() if self.forks else None
            try:
                self._proc = forks.spawn(stderr, self.memory) if forks else None
            except ForkError:
                self._proc = None
            if self._proc is None:
                self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                              env=worker_env() | self.env, cwd=str(ROOT))
        except OSError as exc:
            raise WorkerStartError(f"{self.framework} worker could not start: {self.python}: {exc.strerror}; "
                                   "give the framework environment's python with --workers NAME=PYTHON") from None
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()  # the child holds its own copy; restarts must not leak descriptors
        self._reader = wire.Reader(self._proc.stdout)  # type: ignore[arg-type]
        self._stdin_room = wire.widen(self._proc.stdin.fileno())  # type: ignore[union-attr]
        hello = self._next(self.start_timeout)
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            code = self._stop()
            raise WorkerStartError(f"{self.framework} worker ({self.python}) did not start (exit code {code}); "
                                   f"see {self.log_dir or 'its stderr'} for the framework's own message")
        self.info = hello

    @property
    def log_path(self) -> Path | None:
        """The worker's stderr log, its name made safe (a framework name never escapes `log_dir`)."""
        if not self.log_dir:
            return None
        return inside(self.log_dir, self.framework + ".log")

    def _stderr_tail(self, size: int = 2000) -> str:
        path = self.log_path
        if not path or not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(max(self._log_start, path.stat().st_size - size))
            return wire.clean_text(f.read().decode("utf-8", "replace"))[0]

    def _next(self, timeout: float) -> Any:
        """The process's next message; None when it has ended; TimeoutError when none came in time."""
        return self._reader.next(timeout) if self._reader is not None else None

    def _stop(self) -> int | None:
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

    def ledger(self, target: str) -> Ledger:
        return self.ledgers.setdefault(target, Ledger())

    def run(self, requests: list[dict[str, Any]], guard: Guard | None = None,
            each: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """One reply per request, in order; crashes and hangs become replies too (and with `guard`,
        `{"id", "skipped": True}` for a call it did not admit). With `each`, every reply is also handed over as it
        stands, in request order, with its request's index: the caller judges one call while the worker runs the
        next (two cores, one each). The time `each` takes is not counted against any deadline; an exception it
        raises is raised once every reply is in (the worker's stream must be read to its end).

        Calls go in batches (a round trip per call cost more than a small call); the worker sends each
        call's reply as soon as it is done. Once a batch's first reply is in, the next batch is sent too (when the
        guard's answer cannot depend on the replies still to come, and it fits in the pipe the worker has emptied):
        the worker never waits for the caller to finish judging. When a batch stops answering, because the worker
        died or hung past the batch's deadline, the replies already in stand and the first call without one is the
        one that failed: a death is charged to it, and so is a hang that had its own call's deadline (a hang
        costs one deadline, not two); a call that had less runs again alone on a new worker, and what it
        does then is its answer. The calls after it, and a batch sent ahead, are sent again.
        """
        replies: list[dict[str, Any] | None] = [None] * len(requests)
        told = _Teller(each)
        queue = _Queue(list(enumerate(requests)), guard, replies, told)
        ahead: list[tuple[int, dict[str, Any]]] = []  # sent before the batch being read had all its replies

        def send_ahead() -> None:  # the worker has read the batch before (it answered): its stdin pipe is empty
            nonlocal ahead
            if queue.alone or not queue.pending or (guard is not None and not guard.open()):
                return
            batch = queue.take(BATCH)
            packed = _packed(batch)
            if len(packed) > self._stdin_room or self._proc is None:
                queue.put_back(batch)  # the write could wait for the worker, which waits for us to read
                return
            self._write(packed)
            ahead = batch

        while queue.pending or ahead:
            written = bool(ahead)  # sent ahead, while the batch before was read
            batch = ahead if written else queue.take(1 if queue.alone else BATCH)
            ahead = []
            if not batch:
                continue
            calls = [r for _, r in batch]
            ledger = self.ledger(str(calls[0].get("target")))
            if not written:
                if self._proc is None or self._proc.poll() is not None:
                    if self._proc is not None:
                        self.restarts += 1
                        ledger.restarts += 1
                    self._revive(ledger)
                self._write(_packed(batch))
            limit, why = ledger.deadline(calls, self.timeout)
            got, answer, started = self._replies_of(calls, limit, told, [i for i, _ in batch], send_ahead)
            ledger.learn(got)
            for (i, r), reply in zip(batch, got):
                replies[i] = reply
                if guard is not None:
                    guard.observe(r, reply)
            if got and got[-1].get("retired"):
                self._stop()  # it served its last call (see Adapter.retires): no fault, no restart counted
                queue.put_back(batch[len(got):] + ahead)
                ahead = []
                continue
            if len(got) == len(calls):
                continue
            queue.put_back(ahead)  # the worker never reached it
            ahead = []
            (i, r), rest = batch[len(got)], batch[len(got) + 1:]
            own, own_why = ledger.deadline([r], self.timeout)
            waited = time.perf_counter() - started
            if answer is TimeoutError:
                ledger.timed_out([r] if waited >= own or len(batch) == 1 else calls, waited)
            if len(batch) == 1 or answer is not TimeoutError or waited >= own:
                replies[i] = self._failure(r, answer, own, own_why)  # alone: `own` is the batch's deadline
                if guard is not None:
                    guard.observe(r, replies[i])  # type: ignore[arg-type]
                told(i, replies[i])  # type: ignore[arg-type]
                queue.put_back(rest)
            else:
                queue.put_back([(i, r)] + rest)
                queue.alone = 1
            self.restarts += 1
            ledger.restarts += 1
            self._stop()
        told.reraise()
        return [r for r in replies if r is not None]

    def _write(self, packed: bytes) -> None:
        try:
            wire.write(self._proc.stdin, packed)  # type: ignore[arg-type,union-attr]
        except (BrokenPipeError, OSError):
            pass  # the reply below sees the dead worker

    def _replies_of(self, calls: list[dict[str, Any]], limit: float, told: _Teller, indices: list[int],
                    first: Callable[[], None] = lambda: None) -> tuple[list[dict[str, Any]], Any, float]:
        """The replies of a batch's calls, in order, until the batch's deadline (each handed to `told` with its
        request's index in `indices` as it comes, the clock stopped meanwhile; `first` called once the first is in);
        with what ended the wait when one is missing (TimeoutError, or the dead worker's None) and when the first
        unanswered call started."""
        got: list[dict[str, Any]] = []
        deadline = time.perf_counter() + limit
        started = time.perf_counter()
        answer: Any = None
        while len(got) < len(calls):
            answer = self._next(max(0.0, deadline - time.perf_counter()))
            reply = answer.get("reply") if isinstance(answer, dict) and answer.get("op") == "reply" else None
            if not isinstance(reply, dict) or reply.get("id") != calls[len(got)].get("id"):
                break
            got.append(reply)
            handed = time.perf_counter()
            if len(got) == 1:
                first()
            told(indices[len(got) - 1], reply)
            started = time.perf_counter()
            deadline += started - handed  # the caller's time: the worker's next call was not waited for meanwhile
        return got, answer, started

    def _revive(self, ledger: Ledger) -> None:
        """A live process again: the ready spare's when there is one (no framework import to wait for)."""
        started = time.perf_counter()
        self._stop()
        spare = None
        if self.replace is not None:
            try:
                spare = self.replace()
            except WorkerStartError:
                spare = None  # start one here: its error, if any, is the one to report
        if spare is not None and spare._proc is not None and spare._proc.poll() is None:
            self._proc, self._reader, self.info = spare._proc, spare._reader, spare.info
            self._stdin_room = spare._stdin_room
            spare._proc = None  # now this worker's process
            # its stderr from here on: what the dead worker wrote last must not read as this one's
            path = self.log_path
            self._log_start = path.stat().st_size if path and path.exists() else spare._log_start
        else:
            if spare is not None:
                spare.close()
            self.start()
        ledger.restart_seconds += time.perf_counter() - started

    def _failure(self, request: dict[str, Any], reply: Any, limit: float, why: str) -> dict[str, Any]:
        if reply is TimeoutError:
            return {"id": request.get("id"), "crash": "timeout", "seconds": limit,
                    "error": {"type": "Timeout", "mro": [], "message": f"no answer within {limit:g} s (deadline: {why})"}}
        code = self._proc.wait(timeout=30) if self._proc else None
        why = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        tail = self._stderr_tail()
        kind = "memory" if any(m in tail.lower() for m in _MEMORY_DEATH) else "crash"
        message = f"the {self.framework} worker died ({why})" + (f"; its last stderr output:\n{tail}" if tail else "")
        return {"id": request.get("id"), "crash": kind, "seconds": 0.0,
                "error": {"type": "WorkerDied", "mro": [], "message": message}}


class _Queue:
    """The calls of a `Worker.run` still to send, in order; each batch taken is put to the guard first (a call it does
    not admit gets its `skipped` reply at once)."""

    def __init__(self, pending: list[tuple[int, dict[str, Any]]], guard: Guard | None,
                 replies: list[dict[str, Any] | None], told: _Teller) -> None:
        self.pending = deque(pending)
        self.guard, self.replies, self.told = guard, replies, told
        self.alone = 0  # calls still to send one at a time, after a batch that failed

    def take(self, size: int) -> list[tuple[int, dict[str, Any]]]:
        """The next `size` calls (fewer when their arrays pass BATCH_BYTES), less those the guard does not admit."""
        taken: list[tuple[int, dict[str, Any]]] = []
        weight = 0
        while self.pending and len(taken) < size and weight < BATCH_BYTES:
            taken.append(self.pending.popleft())
            weight += _weight(taken[-1][1])
        self.alone = max(0, self.alone - len(taken))
        if self.guard is None:
            return taken
        batch = []
        for i, r in taken:
            if self.guard.admit(r):
                batch.append((i, r))
            else:
                self.replies[i] = skipped = {"id": r.get("id"), "skipped": True}
                self.told(i, skipped)
        return batch

    def put_back(self, calls: list[tuple[int, dict[str, Any]]]) -> None:
        """Calls to send again, first."""
        self.pending.extendleft(reversed(calls))


def _packed(batch: list[tuple[int, dict[str, Any]]]) -> bytes:
    return wire.pack({"op": "batch", "calls": [r for _, r in batch]})


def _weight(request: dict[str, Any]) -> int:
    """The bytes of a call's arrays."""
    values = [*request.get("args", ()), *request.get("kwargs", {}).values(), *request.get("init", {}).values()]
    return sum(len(v["data"]) for v in values if wire.is_array(v))


class _Teller:
    """Hands each standing reply to `Worker.run`'s `each`; what `each` raises waits until the stream is read."""

    def __init__(self, each: Callable[[int, dict[str, Any]], None] | None) -> None:
        self.each = each
        self.raised: BaseException | None = None

    def __call__(self, index: int, reply: dict[str, Any]) -> None:
        if self.each is None or self.raised is not None:
            return
        try:
            self.each(index, reply)
        except Exception as exc:
            self.raised = exc

    def reraise(self) -> None:
        if self.raised is not None:
            raise self.raised


class Pool:
    """One worker per framework, started on first use and closed at the end."""

    def __init__(self, pythons: dict[str, str], timeout: float = 60.0, log_dir: Path | None = None,
                 memory: int = 0, spares: bool = False, forking: bool = True) -> None:
        self.pythons, self.timeout, self.log_dir, self.memory = pythons, timeout, log_dir, memory
        self.spares = spares  # keep a fresh worker per framework ready from the start (for re-runs)
        self.workers: dict[str, Worker] = {}
        self.ledgers: dict[str, Ledger] = {}  # per target, shared by every worker of this pool
        self.failed: dict[str, str] = {}
        self.peers: dict[str, Worker] = {}
        self.peer_ledgers: dict[str, Ledger] = {}  # the peer workers' own: their calls, restarts and deadlines
        self._spares: dict[str, Future[Worker]] = {}
        self._lock = threading.Lock()
        self.forking = forking  # start workers from a fork server per framework (see forkserver.py)
        self._forks: dict[str, ForkServer | None] = {}  # None: it could not start; workers start the slow way
        self._forks_lock = threading.Lock()
        self.unsynchronized_workers: dict[str, Worker] = {}
        self._unsynchronized_pending: dict[str, Future[Worker]] = {}
        self.unsynchronized_lock = threading.Lock()  # lanes share the unsynchronized worker: one caller at a time
        self.lane_workers: dict[str, Worker] = {}  # "lane>framework" -> that lane's own worker (see `get`)
        self.versions_seen: dict[str, str] = {}  # framework -> the version its workers reported

    def get(self, framework: str, lane: str = "") -> Worker:
        """The framework's worker; in a lane (a binding run beside others: see RunSession), that lane's own, so
        what each worker process is sent, and in which order, never depends on how far another lane has come."""
        with self._lock:
            worker = self._kept(self.lane_workers if lane else self.workers, framework, self._new, True, lane)
            self.versions_seen[framework] = str(worker.info.get("version"))
            if self.spares and framework not in self._spares:
                self._spares[framework] = self._in_background(framework)
            self._prefetch_unsynchronized(framework)
            return worker

    def release(self, lane: str) -> None:
        """Close a finished lane's workers (its own and its peer workers)."""
        with self._lock:
            workers = [table.pop(k) for table in (self.lane_workers, self.peers) for k in list(table)
                       if k.startswith(f"{lane}>")]
        for worker in workers:
            worker.close()

    def peer(self, framework: str, lane: str = "") -> Worker:
        """The worker that answers peer arbitration's calls, apart from the bindings' own: a binding's own
        worker sees the same calls in the same order whatever its peers were asked (MindSpore's results
        can depend on what its process ran before). Bindings run side by side ask in lanes (SpecRun.lane),
        each with its own peer workers, so no peer process sees two lanes' calls in an order of the moment."""
        with self._lock:
            return self._kept(self.peers, framework, lambda name: self._new(name, for_peers=True), False, lane)

    def unsynchronized(self, framework: str) -> Worker:
        """A worker whose framework keeps its default asynchronous launches (the stale-error check's), started the
        slow way (a fork server's children inherit its synchronized setup) in the background when the framework's
        first worker is asked for (`get`), and kept for the run."""
        with self._lock:
            pending = self._unsynchronized_pending.pop(framework, None)
        if pending is not None:
            try:
                worker = pending.result()
            except WorkerStartError:
                pass  # started again below: its error is the one to report
            else:
                with self._lock:
                    self.unsynchronized_workers[framework] = worker
        with self._lock:
            return self._kept(self.unsynchronized_workers, framework, self._unsynchronized_new, remember=False)

    def _unsynchronized_new(self, framework: str) -> Worker:
        worker = Worker(framework, self.pythons[framework], self.timeout, log_dir=self.log_dir, memory=self.memory,
                        ledgers=self.peer_ledgers, env={UNSYNCHRONIZED: "1"})
        worker.start()
        return worker

    def _prefetch_unsynchronized(self, framework: str) -> None:
        """Start the framework's unsynchronized worker in the background, if its launches are asynchronous."""
        known = framework in registry.names() and registry.get(framework).asynchronous is not None
        if not known or framework in self._unsynchronized_pending or framework in self.unsynchronized_workers:
            return
        self._unsynchronized_pending[framework] = self._in_background(framework, self._unsynchronized_new)

    def _kept(self, table: dict[str, Worker], framework: str, make: Callable[[str], Worker], remember: bool,
              lane: str = "") -> Worker:
        """The framework's worker in `table` (a lane's own under `lane>framework`), started on first use; with
        `remember`, a failed start is final for the framework."""
        if framework in self.failed:
            raise WorkerStartError(self.failed[framework])
        key = f"{lane}>{framework}" if lane else framework
        if key not in table:
            try:
                table[key] = make(framework)
            except WorkerStartError as exc:
                if remember:
                    self.failed[framework] = str(exc)
                raise
        return table[key]

    def fresh(self, framework: str) -> Worker:
        """A worker process that has answered no call yet, for the caller alone (who closes it).

        For re-runs without the shared worker's history. A spare is started in the background as each
        one is handed out, so only the first re-run of a framework waits for it to import.
        """
        with self._lock:
            spare = self._spares.pop(framework, None)
            self._spares[framework] = self._in_background(framework)
        return spare.result() if spare else self._new(framework)

    def _new(self, framework: str, for_peers: bool = False) -> Worker:
        """A started worker: a binding's (replaced by a spare when it dies), or one for peer calls (its own ledgers)."""
        worker = Worker(framework, self.pythons[framework], self.timeout, log_dir=self.log_dir, memory=self.memory,
                        ledgers=self.peer_ledgers if for_peers else self.ledgers,
                        replace=None if for_peers else lambda: self.fresh(framework),
                        forks=(lambda: self._fork_server(framework)) if self.forking else None)
        worker.start()
        return worker

    def _fork_server(self, framework: str) -> ForkServer | None:
        """The framework's fork server, started on first use; None if it cannot start (then never tried again)."""
        with self._forks_lock:
            server = self._forks.get(framework)
            if server is not None and not server.alive():
                server = None  # it died: start another
            elif framework in self._forks and server is None:
                return None
            if server is None:
                log = inside(self.log_dir, framework + ".log") if self.log_dir else None
                stderr: Any = open(log, "ab") if log else subprocess.DEVNULL
                try:
                    server = ForkServer(framework, self.pythons[framework], worker_env(), stderr, self.timeout * 5)
                except ForkError:
                    server = None
                finally:
                    if log:
                        stderr.close()
                self._forks[framework] = server
            return server

    def _in_background(self, framework: str, make: Callable[[str], Worker] | None = None) -> Future[Worker]:
        """A worker (a spare, by default) started on a thread of its own; its start error goes to whoever takes it."""
        future: Future[Worker] = Future()

        def start() -> None:
            try:
                future.set_result((make or self._new)(framework))
            except BaseException as exc:  # handed to whoever takes the worker
                future.set_exception(exc)

        threading.Thread(target=start, daemon=True).start()
        return future

    def versions(self) -> dict[str, str]:
        return dict(sorted(self.versions_seen.items()))

    def close(self) -> None:
        for worker in [*self.workers.values(), *self.lane_workers.values(), *self.peers.values(),
                       *self.unsynchronized_workers.values()]:
            worker.close()
        self.workers.clear()
        self.lane_workers.clear()
        self.peers.clear()
        self.unsynchronized_workers.clear()
        for pending in self._unsynchronized_pending.values():
            try:
                pending.result(timeout=self.timeout).close()
            except Exception:
                pass  # one that never started has nothing to close
        self._unsynchronized_pending.clear()
        for spare in self._spares.values():
            try:
                spare.result(timeout=self.timeout).close()
            except Exception:
                pass  # a spare that never started has nothing to close
        self._spares.clear()
        with self._forks_lock:
            for server in self._forks.values():
                if server is not None:
                    server.close()
            self._forks.clear()
