"""Host → home blocks in one deployment (SQLite and PostgreSQL): with the host's partner
rule ``send_blocks`` on, the host's own blocks on a linked account reach the home account
marked ``network:<host>``, replaced when they change, removed when the host removes them (or
deletes the copy); off by default; never echoed back to the copies."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from bookplate.bootstrap import Container
from bookplate.network.errors import InvalidPartner
from bookplate.storage import tables as t
from bookplate.users.model import Block, User, UserInput
from bookplate.users.ports import CodeRow


def _user(primary_id: str) -> UserInput:
    return UserInput(User(primary_id=primary_id, first_name="Ann", last_name="Lee",
                          user_group="UNDERGRAD", expiry_date=date(2030, 1, 31)))


def _history(c: Container, institution: str, primary_id: str, action: str) -> list[Any]:
    a = t.audit_log.c
    with c.engine.connect() as conn:
        return list(conn.execute(
            sa.select(a.detail).where(a.institution == institution, a.target == primary_id,
                                      a.action == action).order_by(a.id)
        ).scalars())


def _set_blocks(c: Container, institution: str, primary_id: str, *blocks: Block) -> None:
    def edit(user: User) -> None:
        keep = [b for b in user.blocks if (b.created_by or "").startswith("network:")]
        user.blocks = keep + list(blocks)

    c.users.staff_update(institution, primary_id, edit, "staff:desk")


def _home_blocks(c: Container, primary_id: str = "ann") -> list[tuple[str, str | None]]:
    blocks = c.users.get("MAIN", primary_id).blocks
    return sorted((b.created_by or "", b.block_note) for b in blocks)


@pytest.fixture
def linked(c: Container) -> Container:
    c.users.create("MAIN", _user("ann"), "api")
    c.network.put_partner("HOST1", "MAIN", {"send_blocks": "true"}, "test")
    c.network.link("HOST1", "MAIN", "ann", "test")
    c.network.link("HOST2", "MAIN", "ann", "test")
    return c


def test_a_hosts_block_reaches_the_home_account_and_follows_the_host(linked: Container) -> None:
    c = linked
    _set_blocks(c, "HOST1", "ann", Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="fine"))
    assert _home_blocks(c) == [("network:HOST1", "fine")]
    line = _history(c, "MAIN", "ann", "network.host_blocks")
    assert line == [{"host": "HOST1", "host_user_id": "ann", "blocks": 1, "trigger": "local"}]
    assert _history(c, "HOST1", "ann", "network.host_blocks_sent")[-1]["outcome"] == "applied"
    # Changed at the host: replaced at home (one block, the new note).
    _set_blocks(c, "HOST1", "ann", Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="fine 2"),
                Block("GENERAL", "OVERDUE", "INACTIVE", block_note="inactive: stays home"))
    assert _home_blocks(c) == [("network:HOST1", "fine 2")]
    # The home's own block stays when the host's change; the live refresh echoes nothing.
    home = c.users.get("MAIN", "ann")
    home.blocks.append(Block("GENERAL", "OVERDUE", "ACTIVE", block_note="home's"))
    c.users.replace("MAIN", "ann", UserInput(home), "api")
    assert c.network.process_outbox().failed == []
    host1 = sorted((b.created_by or "", b.block_note) for b in c.users.get("HOST1", "ann").blocks)
    assert host1 == [("", "fine 2"), ("", "inactive: stays home"), ("network:MAIN", "home's")]
    host2 = [(b.created_by, b.block_note) for b in c.users.get("HOST2", "ann").blocks]
    assert host2 == [("network:MAIN", "home's")]  # the host's block is not passed on
    assert c.network.process_outbox().entries == 0  # nothing goes back and forth
    # Removed at the host: gone at home; the home's own block stays.
    _set_blocks(c, "HOST1", "ann")
    assert [note for _by, note in _home_blocks(c)] == ["home's"]
    assert len(_history(c, "MAIN", "ann", "network.host_blocks")) == 3


def test_off_by_default_and_a_write_without_block_changes_sends_nothing(
    linked: Container,
) -> None:
    c = linked
    _set_blocks(c, "HOST2", "ann", Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="h2"))
    assert _home_blocks(c) == []
    assert c.network.partner("HOST2", "MAIN").send_blocks is False
    _set_blocks(c, "HOST1", "ann", Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="h1"))

    def rename(user: User) -> None:
        user.last_name = "Changed at the host"

    c.users.staff_update("HOST1", "ann", rename, "staff:desk")
    assert len(_history(c, "MAIN", "ann", "network.host_blocks")) == 1
    # Turned off: the next change is not sent; what was sent stays.
    c.network.put_partner("HOST1", "MAIN", {"send_blocks": False}, "test")
    _set_blocks(c, "HOST1", "ann")
    assert _home_blocks(c) == [("network:HOST1", "h1")]


def test_deleting_the_copy_removes_its_blocks_at_home(linked: Container) -> None:
    c = linked
    _set_blocks(c, "HOST1", "ann", Block("GENERAL", "LOST_CARD", "ACTIVE", block_note="h1"))
    c.users.delete("HOST1", "ann")
    assert _home_blocks(c) == []


def test_a_block_the_home_refuses_leaves_both_writes_clear(linked: Container) -> None:
    """A block type the home's code table does not know: the host's write goes through, the
    home account is unchanged and its history says why."""
    c = linked
    c.code_tables.put(None, "test", "HOST1", "UserBlockTypes", CodeRow("HOSTONLY", "Host only"))
    _set_blocks(c, "HOST1", "ann", Block("HOSTONLY", "LOST_CARD", "ACTIVE", block_note="x"))
    assert [b.block_type for b in c.users.get("HOST1", "ann").blocks] == ["HOSTONLY"]
    assert _home_blocks(c) == []
    (refused,) = _history(c, "MAIN", "ann", "network.host_blocks_refused")
    assert "HOSTONLY" in refused["error"]


@pytest.mark.parametrize("value", ["maybe", "", "1; DROP TABLE users", "x" * 10_000])
def test_send_blocks_refuses_what_is_not_a_boolean(c: Container, value: str) -> None:
    with pytest.raises(InvalidPartner):
        c.network.put_partner("HOST1", "MAIN", {"send_blocks": value}, "test")
    assert c.network.partner("HOST1", "MAIN").send_blocks is False
