"""One executor interface for work that fans out: validation seeds, collection batches, sweeps.

Every piece of work in aign that can run in parallel is a *pure task*: a small picklable
value in, a small picklable value out, every random choice drawn from a seed inside the task.
An :class:`Executor` only decides *where* tasks run, never what they compute, so the same
tasks give the same results on every executor (the tests hold ``local``, ``local:2`` and
``ray`` to bit-identical output).

Executors (``--executor SPEC`` on the CLI):

``local`` / ``local:N``
    Worker processes on this machine (:class:`concurrent.futures.ProcessPoolExecutor`, spawned
    so that a parent holding torch's thread pools cannot deadlock a child). ``local`` uses
    every core (or ``$AIGN_WORKERS``); ``local:1`` runs in this process.
``ray`` / ``ray:ADDRESS``
    Ray tasks: ``ray`` starts a local Ray instance on this machine's cores; ``ray:auto`` or
    ``ray:HOST:PORT`` / ``ray:ray://HOST:10001`` joins an existing cluster (whose nodes must
    have aign installed). Needs ``pip install "aign[ray]"``.

A task that raises is retried (``retries`` more attempts, Ray's own retry mechanism on Ray);
a task that still fails is *reported*: :meth:`Executor.run` yields a :class:`TaskFailure`
for it and :meth:`Executor.map` raises :class:`TaskError` naming every failed task once all
others have finished. Nothing is dropped silently.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from twin.core.errors import AignError

T = TypeVar("T")
R = TypeVar("R")
Outcome = tuple[int, Any]  # (task index, its result or its TaskFailure)

DEFAULT_RETRIES = 1  # one more attempt after a failure: a lost worker is not a wrong answer
EXECUTOR_HELP = (
    "where tasks run: local (worker processes, all cores or $AIGN_WORKERS), local:N, "
    "ray (a local Ray instance), ray:ADDRESS (an existing Ray cluster, e.g. ray:auto)"
)


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed on every attempt: which one, why, and how often it was tried."""

    index: int
    error: str
    attempts: int

    def describe(self) -> str:
        return f"task {self.index} failed after {self.attempts} attempt(s): {self.error}"


class TaskError(AignError):
    """Some tasks failed on every attempt; the others' results are in ``results``."""

    def __init__(
        self,
        failures: Sequence[TaskFailure],
        results: dict[int, Any] | None = None,
        hint: str = "",
    ):
        self.failures = sorted(failures, key=lambda f: f.index)
        self.results = dict(results or {})
        head = "; ".join(f.describe() for f in self.failures[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        tail = f"; {hint}" if hint else ""
        super().__init__(f"{len(self.failures)} task(s) failed: {head}{more}{tail}")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over tasks somewhere; results are matched to tasks by index."""

    name: str
    workers: int

    def run(
        self, fn: Callable[[T], R], tasks: Sequence[T]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        """Yield ``(index, result or TaskFailure)`` as tasks finish (in any order)."""
        ...

    def map(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        progress: Callable[[float], None] | None = None,
    ) -> list[R]:
        """Results in task order; raises :class:`TaskError` if any task failed."""
        ...

    def close(self) -> None: ...


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 500 else text[:497] + "..."


class _Base:
    """``map`` and context management on top of a subclass's ``run``."""

    name: str = "executor"
    workers: int = 1

    def run(
        self, fn: Callable[[T], R], tasks: Sequence[T]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        raise NotImplementedError

    def map(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        progress: Callable[[float], None] | None = None,
    ) -> list[R]:
        results: dict[int, Any] = {}
        failures: list[TaskFailure] = []
        for done, (index, result) in enumerate(self.run(fn, tasks), start=1):
            if isinstance(result, TaskFailure):
                failures.append(result)
            else:
                results[index] = result
            if progress is not None:
                progress(done / len(tasks))
        if failures:
            raise TaskError(failures, results)
        return [results[k] for k in range(len(tasks))]

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# --------------------------------------------------------------------------- local
def default_workers() -> int:
    """``$AIGN_WORKERS`` if set, else the cores this process may use."""
    env = os.environ.get("AIGN_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise AignError(f"AIGN_WORKERS={env!r} is not a whole number") from None
        if n < 1:
            raise AignError(f"AIGN_WORKERS={env!r} must be at least 1")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _single_threaded_worker() -> None:
    """Each worker process uses one thread for numpy/torch: N workers, N cores, no
    oversubscription (two threads per worker were many times slower on 2 cores, measured)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _call(fn: Callable[[T], R], task: T) -> R:
    """Run one task in a worker; an exception crosses the process boundary as text, so that
    unpicklable exceptions (and their tracebacks) still reach the caller."""
    try:
        return fn(task)
    except BaseException as exc:  # noqa: BLE001 - reported, never swallowed
        raise _RemoteError(_describe(exc), traceback.format_exc()) from None


class _RemoteError(Exception):
    def __init__(self, message: str, trace: str = ""):
        super().__init__(message, trace)
        self.message, self.trace = message, trace

    def __str__(self) -> str:
        return self.message


class LocalExecutor(_Base):
    """Tasks in ``workers`` processes on this machine (``workers=1``: in this process)."""

    def __init__(self, workers: int | None = None, retries: int = DEFAULT_RETRIES):
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 1:
            raise AignError(f"local executor needs at least 1 worker, got {self.workers}")
        self.retries = retries
        self.name = "local" if workers is None else f"local:{self.workers}"
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_single_threaded_worker,
            )
        return self._pool

    def run(
        self, fn: Callable[[T], R], tasks: Sequence[T]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        if self.workers == 1 or len(tasks) <= 1:
            yield from self._run_here(fn, tasks)
        else:
            yield from self._run_pool(fn, tasks)

    def _run_here(self, fn, tasks) -> Iterator[tuple[int, Any]]:
        for index, task in enumerate(tasks):
            for attempt in range(1, self.retries + 2):
                try:
                    result = fn(task)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # noqa: BLE001 - retried, then reported
                    if attempt > self.retries:
                        yield index, TaskFailure(index, _describe(exc), attempt)
                        break
                else:
                    yield index, result
                    break

    def _run_pool(self, fn, tasks) -> Iterator[tuple[int, Any]]:
        """Every task on the pool; a dead worker costs an attempt only to the task it ran.

        A worker that dies breaks the whole pool: every task in flight is lost with it, and
        the pool cannot say whose the worker was. The lost tasks are then rerun one at a
        time (``suspects``), where a death is the running task's own, and only such a death
        counts as an attempt.
        """
        attempts = [0] * len(tasks)
        todo = list(range(len(tasks)))
        suspects: set[int] = set()
        running: dict[Future, int] = {}
        died = "worker process died (killed or out of memory)"
        try:
            while todo or running:
                pool = self._get_pool()
                try:
                    while todo and not (running and suspects):
                        pick = next((k for k in todo if k in suspects), None)
                        index = todo.pop(todo.index(pick)) if pick is not None else todo.pop(0)
                        attempts[index] += 1
                        running[pool.submit(_call, fn, tasks[index])] = index
                        if index in suspects:
                            break  # alone on the pool
                except BrokenProcessPool:
                    todo.insert(0, index)
                    attempts[index] -= 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                alone = len(running) == 1
                lost: list[int] = []
                for future in done:
                    index = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        lost.append(index)
                        continue
                    except _RemoteError as exc:
                        error = exc.message
                    except Exception as exc:  # noqa: BLE001 - e.g. the result does not pickle
                        error = _describe(exc)
                    else:
                        suspects.discard(index)
                        yield index, result
                        continue
                    suspects.discard(index)
                    if attempts[index] > self.retries:
                        yield index, TaskFailure(index, error, attempts[index])
                    else:
                        todo.append(index)
                if lost or any(f.done() and isinstance(f.exception(), BrokenProcessPool)
                               for f in running):  # fmt: skip
                    lost += [running.pop(f) for f in list(running)]
                    self._shutdown()
                    for index in lost:
                        if not alone:  # whose death it was is unknown: no attempt counted
                            attempts[index] -= 1
                            suspects.add(index)
                        elif attempts[index] > self.retries:
                            suspects.discard(index)
                            yield index, TaskFailure(index, died, attempts[index])
                            continue
                        todo.insert(0, index)
        except BaseException:
            self._shutdown(cancel=True)
            raise

    def _shutdown(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        self._shutdown()


# --------------------------------------------------------------------------- ray
class RayExecutor(_Base):
    """Tasks as Ray remote functions, on a local Ray instance or an existing cluster.

    Retries use Ray's own mechanism (``max_retries`` with ``retry_exceptions``), which also
    covers a worker or node that dies. A Ray instance this executor started is shut down by
    :meth:`close`; one that was already running (or a cluster) is left as it was.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        retries: int = DEFAULT_RETRIES,
    ):
        try:
            import ray
        except ImportError:
            raise AignError(
                'the ray executor needs Ray: pip install "aign[ray]" (or pip install ray)'
            ) from None
        self._ray = ray
        self.address = address
        self.retries = retries
        self.name = "ray" if address is None else f"ray:{address}"
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address is None:
                options["num_cpus"] = default_workers() if workers is None else int(workers)
            else:
                options["address"] = address
            try:
                ray.init(**options)
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds on a bad address
                where = "a local Ray instance" if address is None else f"Ray at {address!r}"
                raise AignError(f"could not start {where}: {_describe(exc)}") from None
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def run(
        self, fn: Callable[[T], R], tasks: Sequence[T]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=self.retries, retry_exceptions=True)(_call)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, task): k for k, task in enumerate(tasks)}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index = pending.pop(ref)
                    try:
                        yield index, ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.cause if isinstance(exc.cause, _RemoteError) else exc
                        text = cause.message if isinstance(cause, _RemoteError) else str(cause)
                        yield index, TaskFailure(index, text.strip(), self.retries + 1)
                    except ray.exceptions.RayError as exc:  # worker/node lost for good
                        yield index, TaskFailure(index, _describe(exc), self.retries + 1)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False


# --------------------------------------------------------------------------- names
def make_executor(spec: str | Executor | None = None, retries: int = DEFAULT_RETRIES) -> Executor:
    """The executor a ``--executor`` value names (an :class:`Executor` passes through).

    ``None`` means ``local:1``: library calls run in the calling process unless asked.
    """
    if spec is None:
        return LocalExecutor(1, retries)
    if not isinstance(spec, str):
        return spec
    kind, _, arg = spec.strip().partition(":")
    if kind == "local":
        if not arg:
            return LocalExecutor(None, retries)
        try:
            workers = int(arg)
        except ValueError:
            raise AignError(f"--executor {spec!r}: local:N needs a whole number N") from None
        if workers < 1:
            raise AignError(f"--executor {spec!r}: need at least 1 worker")
        return LocalExecutor(workers, retries)
    if kind == "ray":
        return RayExecutor(arg or None, retries=retries)
    raise AignError(
        f"--executor {spec!r}: unknown executor {kind!r}; use local, local:N, ray or ray:ADDRESS"
    )
