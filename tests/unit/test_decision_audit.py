"""The audit chain: each record commits to its content and to the record before it, so a
changed, inserted or deleted record is named by the first one that no longer matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from warden.decision import audit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Row:
    def __init__(self, seq, prev_hash, content, at=NOW):
        self.seq, self.prev_hash, self.content, self.at = seq, prev_hash, content, at
        self.kind, self.entity_id, self.actor = "decision_final", f"d{seq}", "alice"
        self.hash = audit.record_hash(seq=seq, at=at, kind=self.kind, entity_id=self.entity_id,
                                      actor=self.actor, content=content, prev_hash=prev_hash)


def chain(n):
    rows, previous = [], audit.GENESIS
    for seq in range(1, n + 1):
        rows.append(Row(seq, previous, {"n": seq}))
        previous = rows[-1].hash
    return rows


def test_an_intact_chain_verifies():
    broken, head_seq, head = audit.first_break(chain(5))
    assert broken is None and head_seq == 5 and head == chain(5)[-1].hash


def test_changed_content_inserted_and_deleted_records_are_named():
    rows = chain(5)
    rows[2].content = {"n": 99}
    assert audit.first_break(rows)[0].seq == 3
    rows = chain(5)
    del rows[1]
    assert audit.first_break(rows)[0].seq == 2
    rows = chain(5)
    rows[3] = Row(4, "f" * 64, {"n": 4})  # a consistent record that does not follow
    assert audit.first_break(rows)[0].seq == 4


def test_hash_commits_to_every_field():
    base = dict(seq=1, at=NOW, kind="k", entity_id="e", actor="a", content={"x": 1},
                prev_hash=audit.GENESIS)
    reference = audit.record_hash(**base)
    for name, other in (("seq", 2), ("at", NOW + timedelta(microseconds=1)), ("kind", "j"),
                        ("entity_id", "f"), ("actor", None), ("content", {"x": 2}),
                        ("prev_hash", "1" * 64)):
        assert audit.record_hash(**{**base, name: other}) != reference
