"""`shelfwatch up`'s restart policy: back off on repeated crashes, give up on a burst."""

from __future__ import annotations

from cli.supervisor import CRASH_BURST, CRASH_WINDOW_S, RESTART_FIRST_S, RESTART_MAX_S, Child


def test_repeated_crashes_back_off_then_a_burst_gives_up() -> None:
    child = Child(["worker"], {})
    delays = []
    for i in range(CRASH_BURST):
        now = 1000.0 + i
        assert child.crashed(now)
        assert child.restart_at is not None
        delays.append(child.restart_at - now)
    assert delays[0] == RESTART_FIRST_S
    assert delays == sorted(delays)
    assert max(delays) <= RESTART_MAX_S
    assert not child.crashed(1000.0 + CRASH_BURST)


def test_crashes_far_apart_never_add_up() -> None:
    child = Child(["worker"], {})
    for i in range(3 * CRASH_BURST):
        now = i * (CRASH_WINDOW_S + 1)
        assert child.crashed(now)
        assert child.restart_at == now + RESTART_FIRST_S
