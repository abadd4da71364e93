"""Consumer-group lag: committed offsets against the partitions' end offsets."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from warden.shared.bus.kafka import started


async def consumer_lag(bootstrap: str, prefix: str) -> list[tuple[str, str, int]]:
    async with (started(AIOKafkaAdminClient(bootstrap_servers=bootstrap)) as admin,
                started(AIOKafkaConsumer(bootstrap_servers=bootstrap,
                                         enable_auto_commit=False)) as consumer):
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
        rows = []
        for group in sorted(groups):
            offsets = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            ends = await consumer.end_offsets(list(offsets))
            per_topic: dict[str, int] = defaultdict(int)
            for tp, meta in offsets.items():
                per_topic[tp.topic] += max(0, ends[tp] - meta.offset)
            rows.extend((group, topic, total) for topic, total in sorted(per_topic.items()))
        return rows
