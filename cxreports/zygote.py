"""A process that imports what every report kernel needs once, then forks the kernels from it.

A pool's kernels each spent about 1.5 s of CPU importing the same modules (ipykernel, altair,
great_tables, nbconvert, WeasyPrint) on the same cores, at the same time as the week they
wait for is computed. The pool of :mod:`cxreports.kernels` starts this process first; each
kernel is then a fork of it that goes on as ``python -m ipykernel_launcher`` would, with its
own arguments, environment and folder, and imports only what starts threads (polars, pyarrow,
numpy: a fork copies no thread, so they must not be loaded here).

Run by its path, never imported (importing ``cxreports`` imports polars):
``python [flags] .../cxreports/zygote.py FD``, where FD is this end of a Unix socket pair.
Each request on it is one JSON line ``{"argv": [...], "env": {...}, "cwd": ...}``; the answer
is ``{"pid": N}`` with a pidfd of the kernel passed along (``SCM_RIGHTS``), by which the pool
waits for and signals a process that is not its child. The process ends when the socket
closes: when the pool closes it, or when the pool's process ends, however it ends (not with
``PR_SET_PDEATHSIG``, which fires when the *thread* that started this process ends: a pool
thread done with its kernel while another still runs a report). Its kernels then end with it,
as kernels end with the process that started them (ipykernel's parent poller).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import traceback
from pathlib import Path

#: What a report kernel imports that starts no thread, in the order a kernel imports it.
IMPORTS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "nbformat",
    "altair",
    "great_tables",
)


def main(fd: int) -> None:
    channel = socket.socket(fileno=fd)
    # the kernels are reaped as they end: their pool waits on their pidfds, not on this process
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        _import_all()
    except Exception:  # the pool starts its kernels the usual way, which says what is missing
        return
    gc.collect()
    gc.freeze()  # what every kernel shares stays shared: its collections never touch it
    if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
        return  # something here started a thread, which a fork would not copy: no kernels
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a Linux before 5.3: the pool could not wait for what it forks
        return
    reader = channel.makefile("rb")
    for line in reader:
        request = json.loads(line)
        try:
            pid = os.fork()
        except OSError as exc:  # no room for one more process: the pool starts it as usual
            channel.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            continue
        if pid == 0:
            reader.close()
            channel.close()
            _kernel(request)  # never returns
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode() + b"\n"], [pidfd])
        finally:
            os.close(pidfd)


def _import_all() -> None:
    startup = _startup()
    startup.skip_slow_iri_checker()
    for name in IMPORTS:
        importlib.import_module(name)


def _startup():  # type: ignore[no-untyped-def]
    """cxreports' start-up helpers, loaded from their file: importing the package would
    import polars."""
    path = Path(__file__).with_name("startup.py")
    spec = importlib.util.spec_from_file_location("_cxreports_zygote_startup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernel(request: dict) -> None:
    """In the fork: go on as ``python -m ipykernel_launcher ARGS`` in the request's folder and
    environment would."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # a process group of its own, as jupyter_client starts a kernel
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        cwd = request.get("cwd") or os.getcwd()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # found again, from this environment's TMPDIR
        # it ends with this process, which ends with the pool's (ipykernel read its default
        # from the environment when this process imported it)
        parent = f"--IPKernelApp.parent_handle={os.getppid()}"
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        sys.path[0] = cwd  # as ``-m`` would have set it
        launcher = importlib.util.find_spec("ipykernel_launcher")
        origin = launcher.origin if launcher is not None else None
        sys.argv = [origin or "ipykernel_launcher", parent, *request["argv"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


if __name__ == "__main__":
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this file's folder (cxreports/): its modules are not top-level ones
    main(int(sys.argv[1]))
