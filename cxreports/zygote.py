"""A process that imports what every report kernel needs once, then forks the kernels from it.

A pool's kernels each spent about 1 s of CPU importing the same modules (ipykernel, altair,
great_tables) on the same cores, at the same time as the week they wait for is computed. The
pool of :mod:`cxreports.kernels` starts this process first; each kernel is then a fork of it
that goes on as ``python -m ipykernel_launcher`` would, with its own arguments, environment
and folder, and imports itself what starts threads (polars, pyarrow, numpy: a fork copies no
thread, so they must not be loaded here) and what it needs only at the end (nbconvert,
WeasyPrint: imported here, they would hold every kernel's start back).

Run by its path, never imported (importing ``cxreports`` imports polars):
``python [flags] .../cxreports/zygote.py FD``, where FD is this end of a Unix socket pair.
Each request on it is one JSON line ``{"argv": [...], "env": {...}, "cwd": ..., "deadline":
...}`` (a ``time.monotonic()`` after which the pool no longer waits: the request is then
refused); the answer is ``{"pid": N}`` with a pidfd of the kernel passed along
(``SCM_RIGHTS``), by which the pool waits for and signals a process that is not its child, or
``{"error": ...}``. A kernel that ends stays a zombie until this process ends, so its pid and
process group are never another's while the pool may signal them.

The process runs in a session of its own (the terminal's Ctrl-C is the pool's to handle) and
ends when the socket closes: when the pool closes it, or when the pool's process ends, however
it ends. (Not by ``PR_SET_PDEATHSIG``, which fires when the *thread* that started this
process ends: a pool thread done with its kernel while another still runs a report.) Its
kernels end with it at once: they take ``PR_SET_PDEATHSIG`` from this process's one thread.
"""

from __future__ import annotations

import contextlib
import ctypes
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
import time
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

_PR_SET_PDEATHSIG = 1


def main(fd: int) -> None:
    channel = socket.socket(fileno=fd)
    # the terminal's Ctrl-C is the pool's to handle (it stops its kernels); a kernel sets its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
    # A kernel that ends stays a zombie until this process ends (then init reaps it), as a
    # started kernel stays one until its pool waits for it: its pid, and so its process
    # group, cannot go to another process while the pool may still signal it.
    me = os.getpid()  # what a fork's parent is, until this process ends
    reader = channel.makefile("rb")
    for line in reader:
        request = json.loads(line)
        if time.monotonic() > request["deadline"]:  # the pool no longer waits for it
            _answer(channel, {"error": "asked too late"})
            continue
        _flush()  # nothing buffered here is printed twice
        try:
            pid = os.fork()
        except OSError as exc:  # no room for one more process: the pool starts it as usual
            _answer(channel, {"error": str(exc)})
            continue
        if pid == 0:
            reader.close()
            channel.close()
            _kernel(request, me)  # never returns
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:
            os.kill(pid, signal.SIGKILL)
            _answer(channel, {"error": str(exc)})
            continue
        try:
            _answer(channel, {"pid": pid}, pidfd)
        finally:
            os.close(pidfd)


def _answer(channel: socket.socket, message: dict, pidfd: int | None = None) -> None:
    data = [json.dumps(message).encode() + b"\n"]
    socket.send_fds(channel, data, [] if pidfd is None else [pidfd])


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


def _kernel(request: dict, zygote: int) -> None:
    """In the fork: go on as ``python -m ipykernel_launcher ARGS`` in the request's folder and
    environment would."""
    code = 1
    try:
        # it ends with the zygote (which ends with the pool): at once, and even if the zygote
        # ended before this line (then getppid() is no longer the zygote's pid)
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != zygote:
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # a process group of its own, as jupyter_client starts a kernel
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        cwd = request.get("cwd") or os.getcwd()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        tempfile.tempdir = None  # found again, from this environment's TMPDIR
        # ipykernel's parent poller too (it read its default from the environment when this
        # process imported it, so it is given on the command line)
        parent = f"--IPKernelApp.parent_handle={zygote}"
        os.environ["JPY_PARENT_PID"] = str(zygote)
        if not (sys.flags.safe_path or sys.flags.isolated):
            sys.path.insert(0, cwd)  # as ``-m`` would have put it first
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
        _flush()
        os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


if __name__ == "__main__":
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this file's folder (cxreports/): its modules are not top-level ones
    main(int(sys.argv[1]))
