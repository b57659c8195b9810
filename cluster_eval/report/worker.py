"""Execute one report in a pool worker: the notebook in a warm kernel, then HTML, each written atomically.

Each pool worker keeps one Jupyter kernel alive across its reports (:class:`WarmKernel`): starting a kernel
and importing pandas, matplotlib and the package cost more than most reports' own work. Between two reports
the kernel's state is reset (``%reset -f``: every variable of the previous report goes; figures are
closed; the working folder is set again; what is left, the modules, is frozen out of the garbage collector's
sight: :data:`RESET`), and a fresh kernel replaces it after ``RECYCLE`` reports, after a
report that timed out (the kernel is killed) and after a kernel died. What stays between reports are the
imported modules and the package's read-only caches of the run's tables, which is the point.

Parameters are injected as papermill does (``papermill.parameterize``: the ``injected-parameters`` cell after
the ``parameters`` cell); cells run one by one with the report's whole time budget as deadline.
"""
from __future__ import annotations

import hashlib
import os
import queue
import time
import traceback
from pathlib import Path

from .kernel import KERNEL_NAME
from .tables import atomic_write

#: a worker's kernel is replaced by a fresh one after this many reports
RECYCLE = 25
#: seconds between checks that the kernel is still alive while a cell runs
POLL = 0.5

#: between two reports: every variable goes (``%reset -f``, which also collects the garbage), figures are closed,
#: the working folder is set; then what is left, the imported modules and the package's caches, is moved out of
#: the garbage collector's sight (``gc.freeze``). A full collection traverses every tracked object: with pandas
#: and matplotlib imported that is a few hundred thousand, and ``%reset -f`` runs two full collections, the
#: drawing a few more (0.4 s CPU a report, more than half the cost of an empty notebook). Frozen, the modules
#: are not traversed again; a report's own objects are, and they are collected here before anything is frozen.
#: (Frozen objects that later become cyclic garbage stay until the kernel is replaced after RECYCLE reports.)
RESET = ("%reset -f\n"
         "import matplotlib.pyplot as _ce_plt\n_ce_plt.close('all')\ndel _ce_plt\n"
         "import os as _ce_os\n_ce_os.chdir({cwd!r})\ndel _ce_os\n"
         "import gc as _ce_gc\n_ce_gc.freeze()\ndel _ce_gc\n")


def file_hash(path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class ReportTimeout(Exception):
    """The report's time budget ran out (its kernel is killed)."""


class DeadKernelError(Exception):
    """The kernel died while a cell ran."""


class CellError(Exception):
    """A cell raised: ``ename`` and ``evalue`` as the kernel reported them."""

    def __init__(self, ename: str, evalue: str, outputs=()):
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue, self.outputs = ename, evalue, list(outputs)


class WarmKernel:
    """A kernel of the runner's kernelspec, reused across reports (a synchronous client, no event loop)."""

    def __init__(self, cwd: str, start_timeout: float = 120):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=start_timeout)
        except RuntimeError:
            self.shutdown()
            raise
        self.used = 0

    def alive(self) -> bool:
        return self.km.is_alive()

    def run(self, code: str, deadline: float) -> list:
        """Execute ``code``; return its outputs (nbformat nodes). Raises CellError, ReportTimeout, DeadKernelError."""
        import nbformat

        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=True)
        outputs, error = [], None
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise ReportTimeout("the report's time budget ran out")
            try:
                msg = self.kc.get_iopub_msg(timeout=min(POLL, left))
            except queue.Empty:
                if not self.km.is_alive():
                    raise DeadKernelError("Kernel died") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "clear_output":
                outputs = []
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))
                if kind == "error":
                    error = CellError(content.get("ename", ""), content.get("evalue", ""))
        if error is not None:
            error.outputs = outputs     # the cell keeps what it printed and the error (the executed notebook)
            raise error
        return outputs

    def reset(self, cwd: str, deadline: float) -> None:
        self.run(RESET.format(cwd=cwd), deadline)

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


_KERNEL: WarmKernel | None = None


def _kernel(cwd: str, start_timeout: float) -> WarmKernel:
    """This worker's kernel: the warm one, or a fresh one (first report, after RECYCLE reports, after a
    kernel was killed or died)."""
    global _KERNEL
    if _KERNEL is not None and (_KERNEL.used >= RECYCLE or not _KERNEL.alive()):
        _drop_kernel()
    if _KERNEL is None:
        _KERNEL = WarmKernel(cwd, start_timeout)
        import atexit

        atexit.register(_drop_kernel)
    return _KERNEL


def _drop_kernel() -> None:
    global _KERNEL
    if _KERNEL is not None:
        k, _KERNEL = _KERNEL, None
        k.shutdown()


def _proc_cpu(pid) -> float | None:
    """CPU seconds (user + system) a process has used so far, from ``/proc`` (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _kernel_cpu() -> tuple:
    """(pid, CPU seconds) of this worker's kernel, or (None, 0)."""
    pid = getattr(getattr(_KERNEL.km, "provisioner", None), "pid", None) if _KERNEL is not None else None
    return pid, (_proc_cpu(pid) or 0.0) if pid else 0.0


def _classify(exc: BaseException) -> tuple[str, str]:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    if isinstance(exc, ReportTimeout) or "Timeout" in name or "timed out" in str(exc).lower():
        return "timeout", f"stopped after the per-report timeout: {text[-1] if text else name}"
    if isinstance(exc, DeadKernelError) or "died" in str(exc).lower():
        return "failed", f"the kernel died: {text[-1] if text else name}"
    if isinstance(exc, CellError):
        return "failed", f"{exc.ename}: {exc.evalue}"
    return "failed", f"{name}: {text[-1] if text else ''}"


def parameterised(notebook: str, parameters: dict):
    """The notebook with papermill's ``injected-parameters`` cell (papermill's own translator)."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(notebook)   # as papermill reads it (every cell's metadata has tags)
    return parameterize_notebook(nb, parameters, kernel_name=KERNEL_NAME, language="python")


def execute_notebook(nb, cwd: str, timeout: float, start_timeout: float = 120) -> None:
    """Run every code cell of ``nb`` (in place) in this worker's warm kernel within ``timeout`` seconds.

    Each cell's outputs are stored as it finishes, so a failed notebook keeps the error in its cell; the
    seconds per cell go to ``cell.metadata.cluster_eval.seconds``. Raises CellError, ReportTimeout or
    DeadKernelError; after the last two the kernel is gone and the next report starts a fresh one."""
    t0 = time.time()
    deadline = t0 + float(timeout)
    kernel = _kernel(cwd, min(start_timeout, timeout))
    try:
        kernel.reset(cwd, deadline)
        kernel.used += 1
        for cell in nb.cells:
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            c0 = time.time()
            cell.outputs = []
            try:
                cell.outputs = kernel.run(cell.source, deadline)
            except CellError as exc:
                cell.outputs = exc.outputs
                raise
            finally:
                cell.metadata["cluster_eval"] = {"seconds": round(time.time() - c0, 4)}
    except (ReportTimeout, DeadKernelError, KeyboardInterrupt):
        _drop_kernel()
        raise
    except CellError:
        raise
    except BaseException:
        _drop_kernel()
        raise


def execute_report(job: dict) -> dict:
    """Run one notebook and render it. Never raises: failures come back as a status with the error.

    ``job`` keys: id, kind, title, notebook, parameters, html, ipynb, timeout, log.
    """
    import nbformat

    t0, cpu0, (kpid0, kcpu0) = time.time(), time.process_time(), _kernel_cpu()
    html_path, nb_path = Path(job["html"]), Path(job["ipynb"])
    tmp_nb = nb_path.with_name(f".{nb_path.stem}.{os.getpid()}.tmp.ipynb")
    status, error, out_hash = "ok", None, None
    nb = None
    try:
        nb = parameterised(str(job["notebook"]), job["parameters"])
        # a kernel start (one in RECYCLE reports) may use the report's whole budget: on a loaded machine
        # it can take minutes, and the per-report timeout is the limit that matters
        execute_notebook(nb, str(Path(job["notebook"]).parent), float(job["timeout"]),
                         start_timeout=float(job["timeout"]))
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, the pool goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        status, error = _classify(exc)
        Path(job["log"]).parent.mkdir(parents=True, exist_ok=True)
        Path(job["log"]).write_text(f"{job['id']}: {status}\n{error}\n\n{traceback.format_exc()}")
    try:
        if nb is not None:
            nbformat.write(nb, str(tmp_nb))
        if status == "ok":
            from .render import render

            text = render(nb, job["title"], footer=job.get("footer", ""), lang=job.get("language", "en"))
            atomic_write(html_path, text)
            out_hash = file_hash(html_path)
        else:
            html_path.unlink(missing_ok=True)  # never leave an older report looking current
        if tmp_nb.exists():
            os.replace(tmp_nb, nb_path)
    except Exception as exc:  # noqa: BLE001
        status, error = "failed", f"rendering failed: {type(exc).__name__}: {exc}"
        Path(job["log"]).write_text(f"{job['id']}: {status}\n{error}\n\n{traceback.format_exc()}")
        tmp_nb.unlink(missing_ok=True)
    # CPU seconds of this report: the worker's and its kernel's (a kernel started for it counts whole; one
    # killed during it is not counted); None where /proc is missing
    kpid, kcpu = _kernel_cpu()
    cpu = time.process_time() - cpu0 + (kcpu - kcpu0 if kpid == kpid0 else kcpu)
    cpu = round(cpu, 3) if _proc_cpu("self") is not None else None
    return {"id": job["id"], "kind": job["kind"], "status": status, "error": error,
            "duration": round(time.time() - t0, 3), "cpu_seconds": cpu, "output_hash": out_hash, "key": job["key"]}
