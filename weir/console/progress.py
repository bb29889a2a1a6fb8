"""Progress of long work on a terminal (tqdm): records, rate and, where the total is known,
time left. Off a terminal (piped, CI, a log file) it prints nothing, so output stays what a
script reads (`weir demo --events 200000` was silent for 47 s)."""

from __future__ import annotations

import contextlib
import sys
import threading


def enabled() -> bool:
    return sys.stderr.isatty()


def bar(total: int | None = None, desc: str = "", unit: str = "records"):
    """A tqdm bar on stderr, or a stand-in that does nothing when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=True, disable=not enabled(), leave=False)


@contextlib.contextmanager
def watching(counter_name: str, desc: str, total: int | None = None, every_s: float = 0.5):
    """While the block runs, a bar follows the in-process tally `counter_name`
    (transforms.counting: the local runners run the pipeline in this process)."""
    if not enabled():
        yield
        return
    from weir.transforms.counting import local_counts

    shown: list = []  # the bar, made at the first record (after the command's first lines)
    done = threading.Event()

    def follow() -> None:
        while not done.wait(every_s):
            now = local_counts().get(counter_name, 0)
            if now and not shown:
                shown.append(bar(total, desc))
            if shown and now > shown[0].n:
                shown[0].update(now - shown[0].n)

    thread = threading.Thread(target=follow, name="weir-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(2)
        if shown:
            shown[0].close()
