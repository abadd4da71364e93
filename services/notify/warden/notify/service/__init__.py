"""Use cases of the notify service: turn facts into queued notifications, and preview them."""

from warden.notify.service.events import NotifyService
from warden.notify.service.facts import decision_facts, report_facts
from warden.notify.service.preview import preview

__all__ = ["NotifyService", "decision_facts", "preview", "report_facts"]
