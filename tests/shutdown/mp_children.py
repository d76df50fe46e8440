"""``python mp_children.py METHOD RUNS``: children under a start method each record RUNS runs and end.

Two ``multiprocessing.Process`` children and a two-worker ``ProcessPoolExecutor`` doing two tasks; the
parent records none itself. Runs go to the SQLite store named by ``TRACING_MIDDLEWARE_DB``.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

import tracing_middleware as tm


@tm.traceable
def step(i: int) -> int:
    return i


def child(runs: int) -> int:
    for i in range(runs):
        step(i)
    return runs


def main() -> None:
    method, runs = sys.argv[1], int(sys.argv[2])
    context = multiprocessing.get_context(method)
    processes = [context.Process(target=child, args=(runs,)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        done = sum(pool.map(child, [runs, runs]))
    print(sum(p.exitcode == 0 for p in processes) * runs + done)


if __name__ == "__main__":
    main()
