"""The runner's own Jupyter kernel: a kernelspec in a temporary folder, pointing at this Python.

No kernelspec needs to be installed by the user: :func:`provide_kernel` writes
``<tmp>/kernels/cluster-eval-python/kernel.json`` and the worker processes put ``<tmp>`` first on
``JUPYTER_PATH``. The kernel runs ``sys.executable -m ipykernel_launcher`` with BLAS/OpenMP threads
capped at one (the pool already uses every core) and matplotlib's Agg backend.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "cluster-eval-python"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
KERNEL_ENV = {**{v: "1" for v in THREAD_VARS}, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
              "PYTHONWARNINGS": "ignore"}


def provide_kernel(folder: str | os.PathLike | None = None) -> Path:
    """Write the kernelspec; return the folder to put on ``JUPYTER_PATH``."""
    root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="cluster-eval-kernel-"))
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR",
                 "--HistoryManager.enabled=False", "--IPCompleter.use_jedi=False"],
        "display_name": "cluster_eval (runner)",
        "language": "python",
        "env": KERNEL_ENV,
        "metadata": {"debugger": False},
    }, indent=1))
    return root


def worker_init(jupyter_path: str, stderr_log: str | None = None) -> None:
    """Initializer of each pool worker: our kernelspec first on the path, one BLAS thread, Agg; the worker's
    and its kernels' stderr (kernel chatter such as "KeyboardInterrupt caught in kernel") go to ``stderr_log``."""
    if stderr_log:
        try:
            fd = os.open(stderr_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 2)
            os.close(fd)
        except OSError:
            pass
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(jupyter_path), os.environ.get("JUPYTER_PATH", "")]).rstrip(
        os.pathsep)
    for k, v in KERNEL_ENV.items():
        os.environ[k] = v
    _die_with_parent()
    import logging

    logging.getLogger("papermill").setLevel(logging.ERROR)
    logging.getLogger("traitlets").setLevel(logging.ERROR)


def _die_with_parent() -> None:
    """Linux: a pool worker is killed when the run that started it dies (even by SIGKILL), so no orphan worker
    can write a report after a rerun has started. (Kernels stop themselves when their parent goes.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent already went before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass
