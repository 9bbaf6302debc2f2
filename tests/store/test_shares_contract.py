"""The Store contract for share links (lamina.store.shares), on every store in
tests/store/backends.py's STORES, through the Store protocol only: a share is found by
its token's hash until it expires or is revoked, listed per project (never another's),
and deleted with its session, trace or project."""

from __future__ import annotations

import hashlib
import itertools

from lamina.store.base import Store
from lamina.store.shares import Share, ShareKind
from tests.store.test_contract import BASE, MS, agent_trace
from tests.store.writing import write

DAY = 86_400 * 1000 * MS
_ids = itertools.count(1)


def share(
    store: Store,
    kind: ShareKind,
    object_id: str,
    project: str = "prj_a",
    expires: int = BASE + 7 * DAY,
    redact: bool = False,
) -> tuple[Share, str]:
    """A share kept in the store, and its token's hash."""
    n = next(_ids)
    made = Share(
        share_id=f"shr_{n:08d}",
        project_id=project,
        kind=kind,
        object_id=object_id,
        redact_attributes=redact,
        author="ana@example.com",
        created_ns=BASE + n * MS,
        expires_ns=expires,
    )
    token_hash = hashlib.sha256(f"token-{n}".encode()).hexdigest()
    store.add_share(made, token_hash)
    return made, token_hash


def test_a_share_is_found_by_its_hash_until_it_expires(store: Store) -> None:
    made, token_hash = share(store, ShareKind.SESSION, "s-1", redact=True)
    assert store.find_share(token_hash, BASE) == made
    assert store.find_share(token_hash, made.expires_ns - 1) == made
    assert store.find_share(token_hash, made.expires_ns) is None  # expired
    assert store.find_share(hashlib.sha256(b"other").hexdigest(), BASE) is None
    assert store.find_share(made.share_id, BASE) is None  # an id is not a token
    assert store.list_shares("prj_a", BASE) == [made]
    assert store.list_shares("prj_a", made.expires_ns) == []  # expired ones are not listed


def test_shares_are_listed_newest_first_and_per_project(store: Store) -> None:
    first, _ = share(store, ShareKind.SESSION, "s-1")
    second, _ = share(store, ShareKind.TRACE, "ab" * 16)
    theirs, theirs_hash = share(store, ShareKind.SESSION, "s-1", project="prj_b")
    assert store.list_shares("prj_a", BASE) == [second, first]
    assert store.list_shares("prj_b", BASE) == [theirs]
    # another project cannot revoke it, by id or by hash
    assert store.delete_share("prj_a", theirs.share_id) is None
    assert store.delete_share("prj_a", theirs_hash) is None
    assert store.find_share(theirs_hash, BASE) == theirs


def test_a_revoked_share_is_not_found(store: Store) -> None:
    by_id, id_hash = share(store, ShareKind.SESSION, "s-1")
    by_hash, hash_hash = share(store, ShareKind.SESSION, "s-1")
    assert store.delete_share("prj_a", by_id.share_id) == by_id
    assert store.delete_share("prj_a", hash_hash) == by_hash
    assert store.find_share(id_hash, BASE) is None
    assert store.find_share(hash_hash, BASE) is None
    assert store.list_shares("prj_a", BASE) == []
    assert store.delete_share("prj_a", by_id.share_id) is None  # once


def test_deletes_take_their_shares(store: Store) -> None:
    """A trace's delete takes its shares; a session's, the session's and its traces';
    retention, those of the traces it deletes; a project's, all of them."""
    old = agent_trace("s-old", BASE)
    a1, a2 = agent_trace("s-a", BASE + 10**4 * MS), agent_trace("s-a", BASE + 2 * 10**4 * MS)
    b = agent_trace("s-b", BASE + 3 * 10**4 * MS)
    write(store, old + a1 + a2 + b)
    on_old, _ = share(store, ShareKind.TRACE, old[0].trace_id)
    on_a = [
        share(store, ShareKind.SESSION, "s-a")[0],
        share(store, ShareKind.TRACE, a1[0].trace_id)[0],
        share(store, ShareKind.TRACE, a2[0].trace_id)[0],
    ]
    on_b = [
        share(store, ShareKind.SESSION, "s-b")[0],
        share(store, ShareKind.TRACE, b[0].trace_id)[0],
    ]
    elsewhere, _ = share(store, ShareKind.SESSION, "s-a", project="prj_b")

    def left() -> set[str]:
        return {s.share_id for s in store.list_shares("prj_a", BASE)}

    store.delete_trace("prj_a", a2[0].trace_id)
    assert left() == {s.share_id for s in [on_old, *on_a[:2], *on_b]}
    store.delete_session("prj_a", "s-a")
    assert left() == {s.share_id for s in [on_old, *on_b]}
    store.delete_before("prj_a", BASE + 5000 * MS)  # the old trace
    assert left() == {s.share_id for s in on_b}
    store.delete_project("prj_a")
    assert left() == set()
    assert store.list_shares("prj_b", BASE) == [elsewhere]
