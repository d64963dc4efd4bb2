"""emergence.handoff: a producer blocked on a full queue ends once the consumer says stop."""
from __future__ import annotations

import doctest
import queue
import threading


def test_doctests():
    import emergence.handoff as handoff

    result = doctest.testmod(handoff)
    assert result.attempted > 0 and result.failed == 0


def test_a_blocked_producer_ends_when_stopped_and_keeps_order_until_then():
    from emergence.handoff import put_unless_stopped

    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    outcomes: list[bool] = []

    def produce() -> None:
        for i in range(10):
            ok = put_unless_stopped(q, i, stop, poll_s=0.01)
            outcomes.append(ok)
            if not ok:
                return

    thread = threading.Thread(target=produce)
    thread.start()
    assert [q.get(timeout=5) for _ in range(3)] == [0, 1, 2]  # room made as the consumer reads
    stop.set()  # the consumer goes away with the queue full again
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert outcomes[:3] == [True, True, True] and outcomes[-1] is False
