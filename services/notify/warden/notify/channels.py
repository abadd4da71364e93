"""How a leased notification leaves: signed webhook, email over SMTP, or a Transparency
Database batch. Each returns what the attempt came to; none touches the database.
"""

from __future__ import annotations

import asyncio
import json
import time
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import aiosmtplib

from warden.shared.clock import utcnow
from warden.notify.domain import AttemptResult, Verdict, describe_failure
from warden.notify.http_clients import Answer, HttpClients, RequestFailed
from warden.notify.leases import Claim
from warden.notify.signing import signature_headers

class WebhookChannel:
    """Standard Webhooks: the body was fixed when the notification was created; the timestamp
    and signatures (one per valid secret) are made for each attempt."""

    def __init__(self, clients: HttpClients) -> None:
        self._clients = clients

    async def send(self, claim: Claim) -> AttemptResult:
        body = claim.body.encode()
        headers = signature_headers(list(claim.secrets or (claim.secret,)),
                                    str(claim.notification_id), int(time.time()), body)
        headers["content-type"] = "application/json"
        started_at, started = utcnow(), time.perf_counter()
        status_code, error = None, None
        try:
            status_code = (await self._clients.post(claim.url, body, headers)).status
        except RequestFailed as exc:
            error = exc
        return AttemptResult(started_at=started_at,
                             duration_ms=round((time.perf_counter() - started) * 1000, 3),
                             status_code=status_code, error=describe_failure(status_code, error))


class EmailChannel:
    """Email through an SMTP relay (``smtp://host:port``, ``smtps://`` for implicit TLS).

    The Message-ID is the notification's id, the same on every retry, so a mailbox that got
    a message whose acknowledgement was lost can drop the second copy. A 5xx reply is a
    permanent refusal, a 4xx or a dropped connection is tried again.
    """

    def __init__(self, *, sender: str, timeout_s: float, domain: str = "warden.notify") -> None:
        self._sender = sender
        self._timeout_s = timeout_s
        self._domain = domain

    def message(self, claim: Claim) -> EmailMessage:
        content = json.loads(claim.body)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = content["to"]
        message["Subject"] = content["subject"]
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{claim.notification_id}@{self._domain}>"
        message["Content-Language"] = content.get("locale") or "en"
        message["X-Warden-Notice"] = content.get("notice") or ""
        message.set_content(content["text"])
        message.add_alternative(content["html"], subtype="html")
        return message

    async def send(self, claim: Claim) -> AttemptResult:
        parts = urlsplit(claim.url)
        started_at, started = utcnow(), time.perf_counter()
        code, error, verdict = None, None, Verdict.DELIVERED
        try:
            _, reply = await aiosmtplib.send(
                self.message(claim), hostname=parts.hostname, port=parts.port or 25,
                use_tls=parts.scheme == "smtps", timeout=self._timeout_s)
            code = 250
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            code = max(codes) if codes else None
            error = f"recipient refused: SMTP {code}"
            verdict = Verdict.PERMANENT if code and code >= 500 else Verdict.RETRY
        except aiosmtplib.SMTPResponseException as exc:
            code, error = exc.code, f"SMTP {exc.code}: {exc.message}"[:500]
            verdict = Verdict.PERMANENT if exc.code >= 500 else Verdict.RETRY
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error, verdict = describe_failure(None, exc), Verdict.RETRY
        return AttemptResult(started_at=started_at,
                             duration_ms=round((time.perf_counter() - started) * 1000, 3),
                             status_code=code, error=error, verdict_override=verdict)


class TransparencyDatabaseChannel:
    """The DSA Transparency Database API: ``POST {base}/api/v1/statements`` with up to 100
    statements of reasons under a bearer token.

    The database refuses a whole batch when any statement is invalid (422 with
    ``errors.statement_<index>``) or when a ``puid`` is already known (422 with
    ``errors.existing_puids``). So: a known puid counts as delivered, an invalid statement is a
    permanent failure kept with its errors, and the rest of the batch is sent again at once.
    Other failures (429, 5xx, timeouts) retry the whole batch later. Requests are spaced by
    ``min_interval_s`` so a backlog does not hit the database's rate limit.
    """

    PATH = "/api/v1/statements"
    MAX_BATCH = 100

    def __init__(self, clients: HttpClients, *, min_interval_s: float = 0.0) -> None:
        self._clients = clients
        self._min_interval_s = min_interval_s
        self._lock = asyncio.Lock()
        self._last_request = 0.0

    async def _paced_post(self, url: str, token: str, statements: list[dict]) -> Answer:
        async with self._lock:
            wait = self._last_request + self._min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_request = time.monotonic()
        return await self._clients.post(
            url, json.dumps({"statements": statements}).encode(),
            {"authorization": f"Bearer {token}", "accept": "application/json",
             "content-type": "application/json"})

    async def send_batch(self, claims: list[Claim]) -> dict:
        """Results by notification id for one endpoint's claims (at most ``MAX_BATCH``)."""
        results: dict = {}
        pending = list(claims[:self.MAX_BATCH])
        url = claims[0].url.rstrip("/") + self.PATH if claims else ""
        # Each round settles at least one statement or stops: bounded by the batch size.
        while pending:
            started_at, started = utcnow(), time.perf_counter()
            statements = [json.loads(c.body) for c in pending]
            try:
                response = await self._paced_post(url, pending[0].secret, statements)
            except RequestFailed as exc:
                self._all(results, pending, started_at, started, None,
                          describe_failure(None, exc), None, None)
                break
            took = (started_at, started)
            status = response.status
            document = response.json()
            if status == 201:
                created = document.get("statements") if isinstance(document, dict) else None
                for index, claim in enumerate(pending):
                    entry = created[index] if isinstance(created, list) and \
                        index < len(created) and isinstance(created[index], dict) else {}
                    results[claim.notification_id] = self._result(
                        *took, status, None, {"uuid": entry.get("uuid"), "puid": claim.puid},
                        Verdict.DELIVERED)
                break
            errors = document.get("errors") if isinstance(document, dict) else None
            if status != 422 or not isinstance(errors, dict):
                self._all(results, pending, *took, status, describe_failure(status, None),
                          None, None)
                break
            settled = self._settle_refusal(results, pending, errors, took, status)
            if not settled:  # a refusal we cannot pin on a statement: all of them failed
                self._all(results, pending, *took, status, "database refused the batch (422)",
                          {"errors": errors}, Verdict.PERMANENT)
                break
            pending = [c for c in pending if c.notification_id not in results]
        return results

    def _settle_refusal(self, results: dict, pending: list[Claim], errors: dict, took,
                        status: int) -> bool:
        existing = set(errors.get("existing_puids") or [])
        settled = False
        for index, claim in enumerate(pending):
            statement_errors = errors.get(f"statement_{index}")
            if claim.puid in existing:
                results[claim.notification_id] = self._result(
                    *took, status, None, {"puid": claim.puid, "existing": True},
                    Verdict.DELIVERED)
                settled = True
            elif statement_errors:
                results[claim.notification_id] = self._result(
                    *took, status, "the database refused this statement (422)",
                    {"errors": statement_errors}, Verdict.PERMANENT)
                settled = True
        return settled

    def _all(self, results: dict, claims: list[Claim], started_at, started, status, error,
             response, verdict) -> None:
        for claim in claims:
            results[claim.notification_id] = self._result(started_at, started, status, error,
                                                          response, verdict)

    @staticmethod
    def _result(started_at, started, status, error, response, verdict) -> AttemptResult:
        return AttemptResult(started_at=started_at,
                             duration_ms=round((time.perf_counter() - started) * 1000, 3),
                             status_code=status, error=error, response=response,
                             verdict_override=verdict)
