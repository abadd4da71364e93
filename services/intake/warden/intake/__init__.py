"""Intake service: the front door for every reporting channel (HTTP and ``reports.raw``)."""
