"""Run a command and print the CPU seconds of its whole process tree (e.g. pytest and the Spark JVM it starts).

    .venv/bin/python benchmarks/cpu_tree.py .venv/bin/python -m pytest tests/indicators -k spark -q

Every 0.5 s the descendants of the command are found in ``/proc`` and each one's own CPU seconds (user +
system, all its threads) are read; the total is the sum of each process's last reading, so the last half
second of each process is missed (a JVM started and stopped by the command is counted, unlike with
``getrusage`` of reaped children only). Linux only. Printed on stderr with the wall clock and the load
average; the command's exit status is returned.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK   # parent pid, CPU seconds


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.time()
    proc = subprocess.Popen(argv)
    tree, last = {proc.pid}, {}
    while proc.poll() is None:
        procs = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := _stat(int(d)))}
        grown = True
        while grown:
            new = {pid for pid, (ppid, _) in procs.items() if ppid in tree and pid not in tree}
            tree |= new
            grown = bool(new)
        last.update({pid: procs[pid][1] for pid in tree if pid in procs})
        time.sleep(0.5)
    top = ", ".join(f"{v:.1f}" for v in sorted(last.values(), reverse=True)[:3])
    print(f"[cpu_tree] exit {proc.returncode}; wall clock {time.time() - t0:.1f} s; CPU of the process tree "
          f"{sum(last.values()):.1f} s ({len(last)} processes, largest {top} s); load average "
          f"{os.getloadavg()[0]:.1f}", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
