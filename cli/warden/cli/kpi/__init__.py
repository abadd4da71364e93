"""KPIs from the event stream: an archive that outlives Kafka's retention, SQL over it, charts."""
