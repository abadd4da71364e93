"""The steady load: upstream systems reporting over HTTP, reviewers claiming and deciding.

Clients behave as well-written clients do: a report that got no answer, a refused
connection or a 5xx is sent again with the same ``Idempotency-Key`` (with backoff, for up
to a minute), so a report counts as *accepted* once intake answered 201 or 200 for it. Each
accepted report and each decision a reviewer got a 201 for is filed under the phase (the
fault) during which it was submitted; every answer is counted by status.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from chaos.system import API_KEY, REVIEWER_SECRET, System
from warden.shared.auth import issue_reviewer_token
from warden.shared.lease_tokens import HEADER as LEASE_TOKEN

QUEUE = "hate_harassment"
SKILLS = ["hate_harassment"]
RETRY_FOR_S = 60.0
STOP_GRACE_S = 15.0
# One report in ten is about content reported a moment ago, so reports also join cases.
REPEAT_SHARE = 0.1


@dataclass
class Tally:
    """What the clients saw during one phase."""

    accepted: dict[str, float] = field(default_factory=dict)       # report id -> when acked
    decisions: dict[str, str] = field(default_factory=dict)        # decision id -> case id
    decisions_at: dict[str, float] = field(default_factory=dict)   # decision id -> when acked
    statuses: Counter = field(default_factory=Counter)             # "intake 201", ...
    refused: int = 0            # no answer at all: connection refused or reset, timeout
    gave_up: int = 0            # reports never accepted after RETRY_FOR_S of retries
    server_errors: list[str] = field(default_factory=list)         # a sample of 5xx bodies
    no_answer: Counter = field(default_factory=Counter)            # "intake ConnectError", ...

    def unanswered(self, where: str, exc: Exception) -> None:
        self.refused += 1
        self.no_answer[f"{where} {type(exc).__name__}"] += 1

    @property
    def http_5xx(self) -> int:
        return sum(n for key, n in self.statuses.items() if key.split()[-1].startswith("5"))

    @property
    def http_503(self) -> int:
        return sum(n for key, n in self.statuses.items() if key.split()[-1] == "503")


def user_report(content_id: str) -> dict:
    return {
        "channel": "user",
        "reporter": {"account_id": f"user-{random.randint(1, 10_000)}"},
        "content": {"type": "content", "id": content_id,
                    "url": f"https://social.example/p/{content_id}", "owner_id": "acct-1173"},
        "reason": "hate_speech",
        "text": "This post attacks people for their religion.",
    }


class Load:
    def __init__(self, system: System, *, rate: float, reviewers: int) -> None:
        self.system = system
        self.rate = rate
        self.reviewers = reviewers
        self.phase = "warm-up"
        self.tallies: dict[str, Tally] = {}
        self._running = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._in_flight: set[asyncio.Task] = set()
        self._recent: list[str] = []
        self._client = self._new_client()
        self._reviewer_headers = [
            {"Authorization": "Bearer " + issue_reviewer_token(
                REVIEWER_SECRET, f"chaos-reviewer-{i}", SKILLS, ["reviewer"])}
            for i in range(reviewers)]

    @staticmethod
    def _new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(10.0),
                                 limits=httpx.Limits(max_connections=64))

    def tally(self, phase: str | None = None) -> Tally:
        return self.tallies.setdefault(phase or self.phase, Tally())

    # ------------------------------------------------------------------ control
    def start(self, phase: str) -> None:
        self.phase = phase
        if self._client.is_closed:
            self._client = self._new_client()
        self.tally(phase)
        self._running.set()
        self._tasks = [asyncio.create_task(self._report_loop(), name="reporters")]
        self._tasks += [asyncio.create_task(self._review_loop(i), name=f"reviewer-{i}")
                        for i in range(self.reviewers)]

    async def stop(self) -> None:
        """Stop sending new work; reports still being retried are seen through."""
        self._running.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._in_flight:
            # Reports still being resent get a little longer; then the client gives up on them
            # (never counted as accepted, whatever the server did).
            _, pending = await asyncio.wait(self._in_flight, timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                # httpcore can lose pool slots to requests cancelled while waiting for a
                # connection (encode/httpcore#1093): once all 64 are gone every request of the
                # next phase would time out in the pool. The next phase gets a fresh client.
                await self._client.aclose()

    async def close(self) -> None:
        await self.stop()
        await self._client.aclose()

    # ------------------------------------------------------------------ reporters
    async def _report_loop(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while self._running.is_set():
            next_at += interval
            task = asyncio.create_task(self._submit(self.phase))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _content_id(self) -> str:
        if self._recent and random.random() < REPEAT_SHARE:
            return random.choice(self._recent)
        content_id = f"post-{uuid.uuid4().hex[:12]}"
        self._recent = [*self._recent[-49:], content_id]
        return content_id

    async def _submit(self, phase: str) -> None:
        tally = self.tally(phase)
        body = user_report(self._content_id())
        headers = {"X-API-Key": API_KEY, "Idempotency-Key": f"chaos-{uuid.uuid4()}"}
        deadline = time.monotonic() + RETRY_FOR_S
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.post(f"{self.system.url('intake')}/v1/reports",
                                                   json=body, headers=headers)
            except httpx.HTTPError as exc:
                tally.unanswered("intake", exc)
            else:
                tally.statuses[f"intake {response.status_code}"] += 1
                if response.status_code in (200, 201):
                    tally.accepted[response.json()["id"]] = time.time()
                    return
                self._note_server_error(tally, "intake", response)
                if response.status_code < 500 and response.status_code != 429:
                    return  # refused for a reason a resend does not change
            if time.monotonic() > deadline:
                tally.gave_up += 1
                return
            await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)))

    @staticmethod
    def _note_server_error(tally: Tally, where: str, response: httpx.Response) -> None:
        if response.status_code >= 500 and response.status_code != 503 \
                and len(tally.server_errors) < 20:
            tally.server_errors.append(f"{where} {response.status_code}: {response.text[:300]}")

    # ------------------------------------------------------------------ reviewers
    async def _review_loop(self, index: int) -> None:
        headers = self._reviewer_headers[index]
        # Reviewers decide a little slower than reports arrive, as a real team would.
        pause = max(0.05, self.reviewers / (self.rate * 0.6))
        while self._running.is_set():
            claimed = await self._claim(headers)
            if claimed is None:
                await asyncio.sleep(0.5)
                continue
            case_id, lease_token = claimed
            await self._decide(case_id, {**headers, LEASE_TOKEN: lease_token})
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))

    async def _claim(self, headers: dict) -> tuple[str, str] | None:
        """The claimed case's id and the lease token decision asks for."""
        tally = self.tally()
        try:
            response = await self._client.post(
                f"{self.system.url('routing')}/v1/queues/{QUEUE}/claim", headers=headers)
        except httpx.HTTPError as exc:
            tally.unanswered("routing claim", exc)
            await asyncio.sleep(1)
            return None
        tally.statuses[f"routing claim {response.status_code}"] += 1
        self._note_server_error(tally, "routing claim", response)
        if response.status_code != 200:
            if response.status_code >= 500:
                await asyncio.sleep(1)
            return None
        claimed = response.json()
        return claimed["id"], claimed["lease_token"]

    async def _decide(self, case_id: str, headers: dict) -> None:
        """Decide the claimed case; 404 while decision has not heard of it yet, so wait."""
        phase = self.phase
        tally = self.tally(phase)
        body = {"actions": [{"code": random.choice(["remove", "label"])}],
                "policy_id": "CS-HATE-1", "facts": "Reported under fire.",
                "reasoning": "Checked under fire."}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = await self._client.post(
                    f"{self.system.url('decision')}/v1/cases/{case_id}/decisions",
                    json=body, headers=headers)
            except httpx.HTTPError as exc:
                tally.unanswered("decision", exc)
                await asyncio.sleep(1)
                continue
            tally.statuses[f"decision {response.status_code}"] += 1
            self._note_server_error(tally, "decision", response)
            if response.status_code == 201:
                decision_id = response.json()["id"]
                tally.decisions[decision_id] = case_id
                tally.decisions_at[decision_id] = time.time()
                return
            if response.status_code in (404, 503) or response.status_code >= 500:
                await asyncio.sleep(0.5)
                continue
            return  # 409: decided already (e.g. our own earlier attempt got through)
