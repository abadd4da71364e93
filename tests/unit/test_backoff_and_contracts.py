import json
import random

import pytest

from warden.shared.backoff import backoff_delay
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import EVENT_MODELS, ReportNormalizedV1
from warden.shared.contracts.schemas import SCHEMA_DIR, render_schemas
from warden.shared.contracts.taxonomy import CATEGORIES, DsaCategory
from warden.shared.errors import InvalidMessage


def test_backoff_grows_exponentially_within_jitter_bounds_and_caps():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (10, 5.0)]:
        for _ in range(50):
            delay = backoff_delay(attempt, initial=0.1, maximum=5.0, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_backoff_rejects_attempt_zero():
    with pytest.raises(ValueError):
        backoff_delay(0, initial=1, maximum=2)


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not JSON"),
    (b"[1,2]", "not an object"),
    (json.dumps({"specversion": "1.0", "id": "x"}).encode(), "not a CloudEvent"),
    (None, "tombstone"),
])
def test_malformed_records_are_invalid_messages(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        CloudEvent.from_bytes(raw)


def test_unknown_event_type_is_invalid_message():
    event = CloudEvent(source="/x", type="warden.unknown.v9", data={})
    with pytest.raises(InvalidMessage, match="unknown event type"):
        event.payload()


def test_every_category_maps_to_a_transparency_database_category():
    assert all(isinstance(c.dsa, DsaCategory) for c in CATEGORIES.values())
    assert all(c.dsa.value.startswith("STATEMENT_CATEGORY_") for c in CATEGORIES.values())


def test_checked_in_schemas_match_the_models():
    rendered = render_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == rendered, "run `make schemas` and commit the result"
    assert len(rendered) == len(EVENT_MODELS) + 1


def test_schema_of_report_requires_core_fields():
    schema = ReportNormalizedV1.model_json_schema()
    assert {"report_id", "channel", "subject", "category"} <= set(schema["required"])
