"""Warm kernels: many report notebooks rendered by a few Jupyter kernels, each started once.

Rendering a report in a kernel of its own costs, before any of the report's work: starting
the kernel (about 1.5 s), importing polars, altair and cxreports in it (about 2 s), starting
the chart renderer (0.7 s), and reading the week's data. A :class:`KernelPool` keeps a few
kernels for a whole run instead, one per core: each task of the run (a report of a group, or
its email digest) goes to the next free kernel. Before every notebook the kernel's user
namespace is cleared and its working folder set to the notebook's, so a notebook sees only
its own parameters, as in a new kernel; modules stay imported. The kernel also writes the
report's HTML and PDF and the digest, so no work waits on this process and its one core.

A kernel of a pool keeps the week's data between reports (see ``report.prepare``): the groups
of a weekly run read the store's snapshot once per kernel, not once per report. Kernels that
render the reports of one run side by side share the week too (``share_weeks``): the first
computes it (or the process that runs them, while they start), the others map it from the
pool's private folder. The cache lives only as long as the pool; notebooks opened in
JupyterLab never use it. A kernel starts ready for the first notebook's data: what only the
exporters need (nbconvert, WeasyPrint) is imported, and the chart renderer started, in the
background meanwhile.

A pool of several kernels forks them from one process that has imported what they all import
and that starts no thread (ipykernel, altair, great_tables: ``cxreports/zygote.py``), so the
cores that compute the week meanwhile do that import once, not once a kernel. A kernel so
started is a plain ipykernel with its own environment, folder and session; it ends with the
pool's process as any kernel does. A kernel spec other than the plain ipykernel one, or a
zygote that cannot start, gives kernels started the usual way.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from jupyter_core.utils import run_sync

from cxreports.exceptions import ReportError
from cxreports.iorw import remove_dead

#: The papermill engine that runs a notebook in a warm kernel (``cxreports.warm_engine``).
ENGINE = "cxreports-warm"

#: The most kernels a pool starts: each holds a copy of the week's data.
MAX_KERNELS = 4

T = TypeVar("T")

# run in a kernel before each notebook: a clean namespace in the notebook's own folder
_PRELUDE = "__import__('cxreports.kernels').kernels._clear({folder!r})\n"
# run once when a kernel starts: the modules every report imports, and the pool's cache
_WARM_UP = (
    "import cxreports.startup\n"
    "cxreports.startup.skip_slow_iri_checker()\n"
    "import cxreports.kernels\n"
    "cxreports.kernels._serve_warm_up({shared!r})\n"
)
_RESULT = "_cxreports_result"
#: How every report kernel starts: quiet (it warns on every start that local TCP is
#: unencrypted; a report's own errors still surface as cell errors), and without IPython's
#: history, which writes every cell's code to the user's ``~/.ipython`` database from a
#: thread, a SQLite commit a cell, in a file that every kernel shares.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False")
#: The environment every report kernel (and the zygote it may be forked from) starts with,
#: unless this process's own sets these variables: without it, a kernel spec that does not
#: turn off frozen modules (``-Xfrozen_modules=off``, which ``ipykernel install`` writes only
#: in some environments) has debugpy print a four-line "Debugger warning" to stderr as ipykernel
#: imports it. Reports are never debugged, so its check of file names is not needed.
KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}


@functools.cache
def one_off_manager() -> type:
    """The kernel manager for a notebook run outside a pool (papermill starts that kernel):
    jupyter_client's own, started with :data:`KERNEL_ENV` as a pool's kernels are."""
    from jupyter_client import AsyncKernelManager

    class OneOffKernelManager(AsyncKernelManager):  # type: ignore[misc]
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = {**KERNEL_ENV, **kw.get("env", os.environ)}
            return await super()._async_pre_start_kernel(**kw)

    return OneOffKernelManager


class WarmKernel:
    """One Jupyter kernel kept for many notebooks, driven by one thread of a :class:`KernelPool`.

    Every call must come from the thread that made it: the kernel client's sockets belong to
    that thread's event loop.
    """

    def __init__(
        self,
        kernel_name: str,
        start_timeout: int,
        env: Mapping[str, str] | None = None,
        shared: str | None = None,
        zygote: _Zygote | None = None,
    ) -> None:
        import uuid

        from jupyter_client.manager import AsyncKernelManager

        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.env = dict(env or {})
        self.shared = shared
        # Unix sockets in a private folder, not local TCP ports: kernels started side by side
        # cannot race for a port, and no other user of the machine can connect
        # the socket folders of killed runs
        remove_dead(Path(tempfile.gettempdir()), re.compile(rf"{_SOCKETS}(\d+)-"))
        self.sockets = tempfile.mkdtemp(prefix=f"{_SOCKETS}{os.getpid()}-")
        self.km = AsyncKernelManager(
            kernel_name=kernel_name,
            transport="ipc",
            ip=os.path.join(self.sockets, "k"),
            # in the folder too (by default a tmp*.json in the temporary folder, which a run
            # killed with -9 would leave there, the kernel's key in it)
            connection_file=os.path.join(self.sockets, "kernel.json"),
        )
        if zygote is not None:
            self.km.kernel_id = str(uuid.uuid4())
            self.km.provisioner = _forked_provisioner()(
                kernel_id=self.km.kernel_id, kernel_spec=self.km.kernel_spec, parent=self.km
            )
            self.km.provisioner.zygote = zygote
        self.kc: Any = None

    def start(self) -> None:
        """Start the kernel and import what every report needs."""
        try:
            run_sync(self.km.start_kernel)(
                extra_arguments=list(KERNEL_ARGUMENTS),
                env={**KERNEL_ENV, **os.environ, **self.env},
            )
        except Exception as exc:  # jupyter_client raises NoSuchKernel, OSError, RuntimeError
            raise ReportError(
                f"the {self.kernel_name!r} Jupyter kernel did not start: {exc}. Check that "
                "`jupyter kernelspec list` shows it (./dev.sh setup installs it)."
            ) from exc
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            run_sync(self.kc.wait_for_ready)(timeout=self.start_timeout)
        except RuntimeError as exc:
            raise ReportError(
                f"the {self.kernel_name!r} kernel did not answer within {self.start_timeout} s"
            ) from exc
        self.run_code(_WARM_UP.format(shared=self.shared), timeout=self.start_timeout)

    def run_code(self, code: str, timeout: float | None = None) -> dict[str, Any]:
        """Run ``code`` quietly (no output, no history); the kernel's reply content."""
        content = run_sync(self._ask)(code, {}, timeout, "starting")
        if content["status"] != "ok":
            raise ReportError(
                f"the report kernel failed: {content.get('ename')}: {content.get('evalue')}"
            )
        return content

    def call(self, function: str, timeout: float | None = 600, **arguments: Any) -> Any:
        """Call ``cxreports.kernels._task_<function>(**arguments)`` in the kernel; its result.

        Arguments and the result travel as JSON. An exception in the kernel is raised here
        again: a :class:`~cxreports.exceptions.CxReportsError` as its own class with its
        message, an ``OSError`` with its errno and file name, anything else as a
        :class:`ReportError`. A kernel that dies meanwhile is a :class:`ReportError` too.
        """
        code = (
            "import cxreports.kernels as _cxk\n"
            f"{_RESULT} = _cxk._serve({function!r}, {json.dumps(arguments)!r})\n"
            "del _cxk\n"
        )
        content = run_sync(self._ask)(code, {"r": _RESULT}, timeout, f"writing the {function}")
        if content["status"] != "ok":
            raise ReportError(
                f"the report kernel failed while writing the {function}: "
                f"{content.get('ename')}: {content.get('evalue')}"
            )
        found = content["user_expressions"]["r"]
        if found.get("status") != "ok":
            raise ReportError(f"the report kernel returned no result from {function}")
        answer = json.loads(ast.literal_eval(found["data"]["text/plain"]))
        if "error" in answer:
            raise _rebuilt(answer["error"])
        return answer["result"]

    async def _ask(
        self, code: str, expressions: dict[str, str], timeout: float | None, doing: str
    ) -> dict[str, Any]:
        """Send ``code``, wait for its reply; checks every second that the kernel lives."""
        msg_id = self.kc.execute(
            code, silent=not expressions, store_history=False, user_expressions=expressions
        )
        waited = 0.0
        while True:
            try:
                reply = await self.kc.get_shell_msg(timeout=1)
            except queue.Empty:
                waited += 1
                if not await self.km.is_alive():
                    raise ReportError(
                        f"the {self.kernel_name!r} report kernel died while {doing} "
                        "(out of memory?)"
                    ) from None
                if timeout is not None and waited > timeout:
                    raise ReportError(
                        f"the report kernel took longer than {timeout:.0f} s {doing}"
                    ) from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply["content"]

    def shutdown(self) -> None:
        """Stop the kernel (at once: its work is done or abandoned)."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        try:
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            shutil.rmtree(self.sockets, ignore_errors=True)


class KernelPool:
    """A few warm kernels, each driven by a thread of its own, for the tasks of one run.

    ``submit(task)`` queues ``task(kernel)``; a free kernel runs it. Use as a context manager:
    leaving it stops every kernel. After a task fails, :meth:`cancel` drops the queued ones.

    With ``share_weeks``, the kernels share the weeks they compute (``report.keep_prepared``):
    for reports of one week given to different kernels, which would otherwise each read and
    compute it at the same time on the same cores.
    """

    def __init__(
        self,
        size: int = 0,
        *,
        kernel_name: str = "python3",
        start_timeout: int = 60,
        share_weeks: bool = False,
    ) -> None:
        self.size = max(1, min(size or (os.cpu_count() or 1), MAX_KERNELS))
        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.shared: str | None = None
        try:
            tmp = Path(tempfile.gettempdir())
        except FileNotFoundError as exc:
            raise ReportError(
                "no writable temporary folder (TMPDIR, /tmp, /var/tmp): the report kernels "
                "need one for their sockets; set TMPDIR to a writable folder"
            ) from exc
        # the weeks that runs killed with -9 shared (a dense week is hundreds of MB)
        remove_dead(tmp, re.compile(rf"{_SHARED}(\d+)-"))
        if share_weeks:
            self.shared = tempfile.mkdtemp(prefix=f"{_SHARED}{os.getpid()}-")
        # the process that several kernels are forked from, started by the first that needs it
        self._zygote: _Zygote | None = None
        self._zygote_lock = threading.Lock()
        self._zygote_tried = self.size == 1  # one kernel: nothing to share
        self._tasks: queue.Queue[tuple[Callable[[WarmKernel], Any], Future] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"cxreports-kernel-{i}", daemon=True)
            for i in range(self.size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: Callable[[WarmKernel], T]) -> Future[T]:
        future: Future[T] = Future()
        self._tasks.put((task, future))
        return future

    def cancel(self) -> None:
        """Drop the tasks not yet started (their futures are cancelled)."""
        while True:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].cancel()

    def close(self) -> None:
        """Let running tasks finish, drop the queued ones and stop every kernel."""
        self.cancel()
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        with self._zygote_lock:
            self._zygote_tried = True
            if self._zygote is not None:
                self._zygote.close()
        if self.shared is not None:
            shutil.rmtree(self.shared, ignore_errors=True)

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _env(self) -> dict[str, str]:
        """The kernels share the cores: each one's polars gets its share of the threads
        (unless the environment already sets it). Kernels that share weeks keep them all: the
        first computes a week on every core while the others wait for it."""
        if "POLARS_MAX_THREADS" in os.environ or self.shared is not None:
            return {}
        return {"POLARS_MAX_THREADS": str(max(1, (os.cpu_count() or 1) // self.size))}

    def _forker(self) -> _Zygote | None:
        """The pool's zygote, started on first use; None for a pool of one kernel (nothing to
        share) or a kernel that is not a plain ipykernel."""
        with self._zygote_lock:
            if not self._zygote_tried:
                self._zygote_tried = True  # once: a failure is not tried again
                if (prefix := _forkable(self.kernel_name)) is not None:
                    with contextlib.suppress(OSError):
                        self._zygote = _Zygote(prefix, self.start_timeout)
            return self._zygote

    def _work(self) -> None:
        kernel: WarmKernel | None = None
        try:
            while (item := self._tasks.get()) is not None:
                task, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if kernel is None:
                        kernel = WarmKernel(
                            self.kernel_name,
                            self.start_timeout,
                            self._env(),
                            self.shared,
                            self._forker(),
                        )
                        kernel.start()
                    future.set_result(task(kernel))
                except BaseException as exc:  # handed to the caller through the future
                    future.set_exception(exc)
                    if kernel is not None and not _alive(kernel):
                        kernel.shutdown()
                        kernel = None  # a dead kernel is replaced for the next task
        finally:
            if kernel is not None:
                kernel.shutdown()


#: Prefix of a kernel's socket folder in the temporary folder; the owner's pid follows.
_SOCKETS = "cxreports-kernel-"

#: Prefix of a pool's folder of shared weeks in the temporary folder; the owner's pid follows.
_SHARED = "cxreports-weeks-"


def _alive(kernel: WarmKernel) -> bool:
    try:
        return bool(run_sync(kernel.km.is_alive)())
    except Exception:
        return False


# ---- run inside a kernel -------------------------------------------------------------------


def _clear(folder: str) -> None:
    """In a kernel: forget the last notebook's names and outputs, and move to ``folder``.

    What ``%reset -f`` does for a notebook's view of the kernel, without a new history session.
    The last notebook's garbage is collected, and what outlives it (modules, caches, the kept
    week) is then left out of every later collection (``gc.freeze``): the collections that the
    next notebook's charts, tables and PDF set off (WeasyPrint leaves ~50,000 objects in cycles
    a PDF) go over that notebook's own objects, not over the whole kernel again and again.
    """
    from IPython import get_ipython

    shell = get_ipython()
    names, hidden = shell.user_ns, shell.user_ns_hidden
    for name in [n for n in names if n not in hidden]:
        del names[name]
    names.update(hidden)  # IPython's own names (exit, In, Out, ...), as a notebook found them
    history = shell.history_manager
    history.reset(new_session=False)  # Out: the last notebook's outputs
    history.input_hist_parsed[:] = [""]  # In: its cells
    history.input_hist_raw[:] = [""]
    shell.displayhook._ = shell.displayhook.__ = shell.displayhook.___ = ""
    names.update({"_": "", "__": "", "___": ""})
    os.chdir(folder)
    gc.collect()
    gc.freeze()


def _serve_warm_up(shared: str | None = None) -> None:
    """In a pool's kernel: import what the reports use and keep the week's data between them
    (and share the weeks it computes with the pool's other kernels through ``shared``).

    What only writing the HTML and PDF needs (nbconvert, WeasyPrint: a third of the imports)
    is imported in the background, and the chart renderer started, while the first notebook
    reads and computes its week.
    """
    import cxreports.charts
    import cxreports.digest
    import cxreports.render
    import cxreports.tables  # noqa: F401
    from cxreports import report

    report.keep_prepared(True, shared)
    gc.freeze()  # the imports: the first notebook's collections need not go over them
    threading.Thread(target=_import_exporters, name="cxreports-imports", daemon=True).start()


def _import_exporters() -> None:
    import nbconvert.exporters.html  # noqa: F401

    from cxreports import startup

    startup.import_weasyprint()

    # and the chart renderer's first drawing, which starts its JavaScript engine (0.5 s)
    from cxreports import charts

    charts.start_renderer()


def _serve(function: str, arguments: str) -> str:
    """In a kernel: run one of this module's ``_task_*`` functions; a JSON answer."""
    try:
        result = globals()[f"_task_{function}"](**json.loads(arguments))
    except BaseException as exc:
        return json.dumps({"error": _described(exc)})
    return json.dumps({"result": result})


def _task_export(
    files: Mapping[str, str], out_dir: str, name: str, formats: list[str], title: str
) -> dict[str, Any]:
    from cxreports.render import export

    timings: dict[str, float] = {}
    written = export(
        {k: Path(v) for k, v in files.items()}, Path(out_dir), name, formats, title, timings
    )
    return {"files": {k: str(v) for k, v in written.items()}, "timings": timings}


def _task_digest(
    staging: str, sources: list[str], week: str, tz: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    import time

    from cxreports import digest, digestfiles
    from cxreports.report import prepare

    start = time.perf_counter()
    _, metrics = prepare(sources, week, tz, **parameters)
    digestfiles.write(digest.build(metrics), staging)
    return {"timings": {"email": time.perf_counter() - start}}


def _described(exc: BaseException) -> dict[str, Any]:
    from cxreports import exceptions

    kind = type(exc).__name__
    if isinstance(exc, exceptions.CxReportsError) and hasattr(exceptions, kind):
        return {"kind": kind, "message": str(exc)}
    if isinstance(exc, OSError):
        return {
            "kind": "OSError",
            "errno": exc.errno,
            "strerror": exc.strerror,
            "filename": None if exc.filename is None else str(exc.filename),
            "message": str(exc),
        }
    return {"kind": "ReportError", "message": f"{kind}: {exc}"}


def _rebuilt(error: Mapping[str, Any]) -> BaseException:
    from cxreports import exceptions

    if error["kind"] == "OSError":
        if error.get("errno") is None:
            return OSError(error["message"])
        return OSError(error["errno"], error["strerror"], error["filename"])
    cls = getattr(exceptions, error["kind"], ReportError)
    return cls(error["message"])


# ---- kernels forked from one process of shared imports (cxreports/zygote.py) ----------------


class _Zygote:
    """The process that a pool's kernels are forked from (see ``cxreports/zygote.py``).

    Started by the pool's first kernel, so its imports run while the pool gets ready; a kernel
    asked for before they are done waits for them, at most ``timeout`` seconds (the zygote
    refuses a request once its time is up, so a kernel started instead never meets a late
    fork). Safe to call from the pool's threads. Once it fails to answer it is not asked
    again, and kernels are started as usual; the kernels it forked keep running.
    """

    #: Seconds allowed past a request's deadline for the answer to a fork made before it.
    GRACE = 2.0

    def __init__(self, prefix: list[str], timeout: float) -> None:
        import socket
        import subprocess

        ours, theirs = socket.socketpair()
        script = str(Path(__file__).with_name("zygote.py"))
        try:
            self.process = subprocess.Popen(
                [*prefix, script, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                # debugpy reads it as this process imports it, before any kernel is forked
                env={**KERNEL_ENV, **os.environ},
                stdin=subprocess.DEVNULL,
                # the terminal's Ctrl-C goes to the pool, which stops its kernels
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.settimeout(timeout + self.GRACE)
        self.prefix, self.timeout = prefix, timeout
        # what the interpreter read as it started: a kernel that needs other values is
        # started as usual
        self.startup_env = _startup_env(os.environ)
        self.channel = ours
        self.lock = threading.Lock()
        self.failed = False

    def fork(self, argv: list[str], env: Mapping[str, str], cwd: str | None) -> _Forked:
        """A new kernel process, ``python -m ipykernel_launcher ARGV`` in ``env`` and ``cwd``;
        OSError if the zygote cannot make one."""
        import socket
        import time

        deadline = time.monotonic() + self.timeout
        request = {"argv": argv, "env": dict(env), "cwd": cwd, "deadline": deadline}
        with self.lock:
            if self.failed:
                raise OSError("the kernels' zygote does not answer")
            try:
                self.channel.sendall(json.dumps(request).encode() + b"\n")
                message, fds, _flags, _address = socket.recv_fds(self.channel, 4096, 1)
            except OSError:  # no answer in time, or it ended: asked no more
                self.failed = True
                raise
            if not message:
                self.failed = True
                raise OSError("the kernels' zygote has ended")
        answer = json.loads(message)
        if not fds:  # it is there, but could not fork this one
            raise OSError(f"the kernels' zygote forked no kernel: {answer.get('error')}")
        os.set_inheritable(fds[0], False)
        return _Forked(answer["pid"], fds[0])

    def close(self) -> None:
        """Stop it (the pool's kernels have stopped; any it forked that has not ends with it)."""
        self.channel.close()
        self.process.kill()
        self.process.wait()


class _Forked:
    """A forked kernel as jupyter_client's provisioner handles a ``Popen`` (it is not this
    process's child: it is waited for and signalled through its pidfd)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd
        self.returncode: int | None = None

    def _ended(self, timeout: float | None) -> bool:
        import select

        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else int(timeout * 1000)))

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0):
            self.returncode = -1  # ended (its exit status is the zygote's to read)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._ended(timeout):
            import subprocess

            raise subprocess.TimeoutExpired(["kernel"], timeout or 0)
        return self.poll()  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        import signal

        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


def _startup_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables an interpreter reads as it starts (PYTHONPATH, PYTHONHASHSEED, ...)."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


@functools.cache
def _forked_provisioner() -> type:
    """jupyter_client's local provisioner, forking its kernel from its ``zygote`` when it can
    (one class for every pool: each provisioner is given its zygote)."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):  # type: ignore[misc]
        zygote: _Zygote

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            env = kwargs.get("env") or dict(os.environ)
            # the zygote's interpreter, flags and start-up environment, or started as usual
            at = cmd.index("ipykernel_launcher") if "ipykernel_launcher" in cmd else None
            zygote = self.zygote
            if (
                at is not None
                and cmd[: at - 1] == zygote.prefix
                and _startup_env(env) == zygote.startup_env
            ):
                try:
                    self.process = zygote.fork(cmd[at + 1 :], env, kwargs.get("cwd"))
                except OSError:
                    pass
                else:
                    self.pid = self.pgid = self.process.pid  # its own session, as any kernel's
                    self.cwd = kwargs.get("cwd") or os.getcwd()
                    return self.connection_info
            return await super().launch_kernel(cmd, **kwargs)

    return ForkedProvisioner


def _forkable(kernel_name: str) -> list[str] | None:
    """The interpreter and its flags of kernel ``kernel_name``, if a zygote can fork it."""
    if not hasattr(os, "pidfd_open") or not hasattr(os, "fork"):
        return None
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        argv = list(KernelSpecManager().get_kernel_spec(kernel_name).argv)
    except Exception:  # no such kernel: starting it says so, as before
        return None
    # the interpreter jupyter_client runs for a bare `python`: this one
    major, minor = sys.version_info[:2]
    versions = ("python", f"python{major}", f"python{major}.{minor}")
    if argv and argv[0] in versions:
        argv[0] = sys.executable
    return fork_prefix(argv)


def fork_prefix(argv: Sequence[str]) -> list[str] | None:
    """The interpreter and its flags in a kernel spec's ``argv`` if it is a plain ipykernel
    (``PYTHON [flags] -m ipykernel_launcher -f {connection_file}``); None for any other."""
    argv = list(argv)
    if len(argv) < 5 or argv[-4:] != ["-m", "ipykernel_launcher", "-f", "{connection_file}"]:
        return None
    if not all(flag.startswith("-") for flag in argv[1:-4]):
        return None  # a script or a wrapper, not the interpreter itself
    return argv[:-4]
