"""The papermill engine that runs a notebook in a warm kernel of a pool (:mod:`cxreports.kernels`).

Imported by the process that runs the notebooks, never in a kernel: the kernels need none of
papermill.
"""

from __future__ import annotations

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.iorw import write_ipynb

from cxreports.exceptions import ReportError
from cxreports.kernels import _PRELUDE, ENGINE, WarmKernel


class _WarmClient(PapermillNotebookClient):
    """papermill's client on a kernel that outlives the notebook: cleared first, kept after."""

    prelude = ""

    warm: WarmKernel

    def papermill_execute_cells(self) -> None:
        content = run_sync(self.warm._ask)(self.prelude, {}, 60, "clearing it for a notebook")
        if content["status"] != "ok":
            raise ReportError(
                "the report kernel could not be cleared for the next notebook: "
                f"{content.get('ename')}: {content.get('evalue')}"
            )
        super().papermill_execute_cells()


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine, run in the ``warm`` kernel given to execute_notebook."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        warm: WarmKernel | None = None,
        folder: str = ".",
        keep_at: str | None = None,
        **kwargs,
    ):
        if warm is None:
            raise ReportError("the warm-kernel engine needs a kernel (warm=...)")
        kwargs.pop("input_path", None)
        client = _WarmClient(
            nb_man,
            km=warm.km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        client.kc, client.warm = warm.kc, warm
        client.prelude = _PRELUDE.format(folder=str(folder))
        try:
            return client.execute()
        except BaseException:
            if keep_at is not None:  # the notebook as far as it ran, for the failure report
                write_ipynb(nb_man.nb, keep_at)
            raise


papermill_engines.register(ENGINE, WarmEngine)
