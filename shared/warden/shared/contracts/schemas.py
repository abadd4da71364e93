"""JSON Schemas of every event payload, generated from the models and checked in."""

from __future__ import annotations

import json
from pathlib import Path

from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import EVENT_MODELS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def render_schemas() -> dict[str, str]:
    """File name -> schema text, for the envelope and each event type."""
    rendered = {"cloudevent.json": _dump(CloudEvent.model_json_schema())}
    for event_type, (topic, model) in EVENT_MODELS.items():
        schema = model.model_json_schema()
        schema["$id"] = f"urn:warden:event:{event_type}"
        schema["x-topic"] = topic
        rendered[f"{event_type}.json"] = _dump(schema)
    return rendered


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def _dump(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
