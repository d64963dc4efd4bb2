"""Handing items from a producer thread to a consumer through a bounded queue.

    >>> import queue, threading
    >>> q, stop = queue.Queue(maxsize=1), threading.Event()
    >>> put_unless_stopped(q, "a", stop), q.get()
    (True, 'a')
    >>> q.put("full"); stop.set()
    >>> put_unless_stopped(q, "b", stop)
    False

A plain ``q.put`` on a full queue blocks forever once the consumer has gone (a reader that
stopped early, a training run that ended): the producer waits in short slices and gives up
when told to stop, so its thread always ends. The corpus read-ahead
(``emergence.corpus.remote``) and the training stream's prefetch (``emergence.train.data``)
share it.
"""
from __future__ import annotations

import queue
import threading
from typing import Any

__all__ = ["put_unless_stopped"]


def put_unless_stopped(q: queue.Queue, item: Any, stop: threading.Event, *, poll_s: float = 0.1) -> bool:
    """Put ``item`` on ``q``, waiting for room until ``stop`` is set; False when it was."""
    while not stop.is_set():
        try:
            q.put(item, timeout=poll_s)
            return True
        except queue.Full:
            continue
    return False
