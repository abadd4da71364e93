"""Notify service: tells the outside world about enforcement facts through signed webhooks."""
