"""Random ids from the buffered CSPRNG (hub.core.ids): real version-4 UUIDs, each once,
also across a fork (issue 14: ids no longer cost a system call each)."""

from __future__ import annotations

import os
import uuid

from hub.core import ids
from hub.core.correlation import is_acceptable, new_id


def test_new_uuid_is_a_version_4_uuid_spelled_as_uuid4_spells_it():
    for _ in range(2000):
        text = ids.new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_ids_are_not_repeated_across_many_refills_of_the_pool():
    # 20,000 ids take the pool's 4 KiB about 80 times over.
    made = [ids.new_uuid() for _ in range(20_000)]
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
