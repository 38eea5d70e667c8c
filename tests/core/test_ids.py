"""Row ids (hub.core.ids): real version-7 UUIDs whose random part comes from the buffered
CSPRNG, each once, also across a fork (issue 14: ids no longer cost a system call each),
and time-ordered so that the tables' indexes grow at their end."""

from __future__ import annotations

import os
import time
import uuid

from hub.core import ids
from hub.core.correlation import is_acceptable, new_id


def test_new_uuid7_is_a_version_7_uuid_spelled_as_uuid_spells_it():
    for _ in range(2000):
        text = ids.new_uuid7()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122


def test_new_uuid7_carries_the_millisecond_it_was_made_in():
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(ids.new_uuid7())
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_ids_made_in_later_milliseconds_sort_later_as_text():
    made = []
    for _ in range(5):
        made.append(ids.new_uuid7())
        tick = time.time_ns() // 1_000_000
        while time.time_ns() // 1_000_000 == tick:  # the next millisecond, not a sleep
            pass
    assert made == sorted(made)


def test_ids_of_one_millisecond_differ_in_random_bits_not_in_a_counter():
    # 74 random bits: ids of the same millisecond are not a sequence a guess could follow.
    by_millisecond: dict[int, list[int]] = {}
    while max((len(group) for group in by_millisecond.values()), default=0) < 20:
        made = uuid.UUID(ids.new_uuid7()).int
        by_millisecond.setdefault(made >> 80, []).append(made & ((1 << 62) - 1))
    same = max(by_millisecond.values(), key=len)
    assert len(set(same)) == len(same)
    assert same != sorted(same)  # a counter would come out in the order it was made


def test_ids_are_not_repeated_across_many_refills_of_the_pool():
    # 20,000 ids take the pool's 4 KiB about 80 times over.
    made = [ids.new_uuid7() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert len({ids.random_bytes16() for _ in range(1000)}) == 1000


def test_a_forked_child_does_not_hand_out_the_ids_its_parent_still_holds():
    ids.random_bytes16()  # the pool now holds bytes the parent will hand out next
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, to the parent
        try:
            os.write(write, ids.random_bytes16())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != ids.random_bytes16()


def test_correlation_ids_from_the_pool_are_acceptable_and_distinct():
    made = [new_id() for _ in range(3000)]
    assert all(is_acceptable(cid) and len(cid) == 32 for cid in made)
    assert len(set(made)) == len(made)
