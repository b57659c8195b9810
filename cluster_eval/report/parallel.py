"""The analyse stage on two cores: one part of its tables computed by a forked helper process.

The helper is forked after the data are prepared, so it shares them (copy-on-write) instead of loading them
again, computes its tables with the same code as a serial run, writes them into the run's tables folder, and
sends back over a pipe: its log lines as they come (read by a thread of the parent, which is busy with its own
part meanwhile), the warnings it met (re-issued in the parent, so the run log lists them as before), and at
the end ``{table: path}`` or the exception that stopped it (raised in the parent, with the step it failed in).
A helper that dies without an answer (killed, out of memory) is reported by :meth:`ForkedPart.join` as
``None``: the caller then computes the part itself.

Processes are forked (``multiprocessing``'s "fork" context); where that is not available (not POSIX),
:meth:`ForkedPart.start` returns None and the caller computes the part itself.
"""
from __future__ import annotations

import multiprocessing as mp
import threading
import warnings


def _child(fn, args, send) -> None:
    step = ["starting"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", fn(*args, lambda msg: send.send(("log", msg)), step))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            result = ("error", exc)
    # each warning once per message and place (as the default filter shows them), not once per occurrence
    seen = list(dict.fromkeys((str(w.message), w.category, w.filename, w.lineno) for w in caught))
    try:
        send.send((*result, step[0], seen))
    except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled: its words
        err = result[1] if result[0] == "error" else exc
        send.send(("error", RuntimeError(f"{type(err).__name__}: {err}"), step[0], seen))
    send.close()


class ForkedPart:
    """One part of the analyse stage in a forked process (module docstring)."""

    def __init__(self, proc, recv, log):
        self.proc, self.recv, self.log, self.answer = proc, recv, log, None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    @classmethod
    def start(cls, fn, *args):
        """Fork a process running ``fn(*args[:-1], log, step)`` where ``args[-1]`` is the parent's ``log``;
        None where processes cannot be forked."""
        *fargs, log = args
        if "fork" not in mp.get_all_start_methods():
            return None
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, tuple(fargs), send), daemon=True)
        proc.start()
        send.close()
        return cls(proc, recv, log)

    def _read(self) -> None:
        try:
            while True:
                msg = self.recv.recv()
                if msg[0] == "log":
                    self.log(msg[1])
                else:
                    self.answer = msg
                    return
        except (EOFError, OSError):
            return

    def join(self, step: list) -> dict | None:
        """Wait for the helper: its ``{table: path}``, or None if it died without an answer. Re-issues its
        warnings here; raises its exception (``step[0]``: where it failed)."""
        self.thread.join()
        self.proc.join()
        if self.answer is None:
            return None
        kind, payload, where, seen = self.answer
        for message, category, filename, lineno in seen:
            warnings.warn_explicit(message, category, filename, lineno)
        if kind == "error":
            step[0] = where
            raise payload
        return payload

    def exitcode_text(self) -> str:
        code = self.proc.exitcode
        return f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"

    def stop(self) -> None:
        """Stop the helper (the parent's own part failed)."""
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.thread.join(timeout=5)
