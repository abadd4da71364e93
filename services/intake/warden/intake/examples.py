"""One valid report per channel: shown in the OpenAPI document, reused by tests and docs."""

from __future__ import annotations

import copy
from typing import Any

EXAMPLES: dict[str, dict[str, Any]] = {
    "user": {
        "channel": "user",
        "reporter": {"account_id": "user-4821"},
        "content": {"type": "content", "id": "post-99812",
                    "url": "https://social.example/p/99812", "owner_id": "acct-1173",
                    "content_type": "image", "language": "de"},
        "reason": "hate_speech",
        "text": "This post attacks people for their religion.",
        "locale": "de-DE",
    },
    "trusted_flagger": {
        "channel": "trusted_flagger",
        "notice_id": "TF-2025-000417",
        "flagger": {"organisation": "Example Flagger e.V.", "designation": "DSC-DE-TF-0012",
                    "designating_country": "DE", "contact_name": "Notice desk",
                    "contact_email": "notices@flagger.example"},
        "content": {"type": "content", "id": "video-5521",
                    "url": "https://social.example/v/5521"},
        "category": "terrorism",
        "explanation": "The video glorifies a recent attack and recruits for a listed "
                       "organisation.",
        "legal_basis": "§ 129a StGB",
        "good_faith_statement": True,
        "jurisdictions": ["DE"],
        "evidence": ["https://archive.example/snapshot/5521"],
    },
    "regulator": {
        "channel": "regulator",
        "order_reference": "TCO-DE-2025-0042",
        "order_type": "terrorist_content_removal_order",
        "authority": {"name": "Federal Criminal Police Office", "country": "DE",
                      "contact_email": "tco@authority.example"},
        "legal_basis": "Regulation (EU) 2021/784, Art. 3",
        "territorial_scope": ["DE", "AT"],
        "content": {"type": "content", "id": "video-7781",
                    "url": "https://social.example/v/7781"},
        "explanation": "Terrorist content within the meaning of Art. 2(7).",
    },
    "rights_holder": {
        "channel": "rights_holder",
        "notice_id": "CR-88120",
        "rights_holder": {"name": "Example Studios Ltd", "email": "legal@studios.example",
                          "representative": "Example IP Agents LLP"},
        "right": {"type": "copyright", "work": "Feature film 'Northern Lights' (2024)",
                  "original_url": "https://studios.example/northern-lights"},
        "content": {"type": "content", "id": "video-3310",
                    "url": "https://social.example/v/3310"},
        "explanation": "A full copy of the film, uploaded without a licence.",
        "sworn_statement": True,
        "jurisdictions": ["FR", "DE"],
    },
    "advertiser": {
        "channel": "advertiser",
        "escalation_id": "ESC-2025-19",
        "advertiser": {"account_id": "adv-5520", "name": "Example Shoes GmbH",
                       "contact_email": "ads@shoes.example"},
        "content": {"type": "ad", "id": "ad-88231", "url": "https://ads.example/ad-88231"},
        "policy": "Ads policy 4.2: health claims",
        "concern": "misapplied",
        "business_impact": {"level": "high", "description": "Spring campaign halted",
                            "daily_spend_at_risk": 12000.0, "currency": "EUR"},
        "text": "The ad makes no health claim; it was disapproved by mistake.",
    },
    "automated": {
        "channel": "automated",
        "signal_id": "sig-7f3a",
        "detector": {"name": "nudity-classifier", "version": "3.2.1"},
        "content": {"type": "content", "id": "img-20931", "url": "https://cdn.example/i/20931",
                    "content_type": "image"},
        "category": "adult_nudity",
        "score": 0.97,
        "threshold": 0.9,
    },
}


def example(channel: str) -> dict[str, Any]:
    """A fresh, mutable copy of the channel's example."""
    return copy.deepcopy(EXAMPLES[channel])


def openapi_examples() -> dict[str, dict[str, Any]]:
    return {channel: {"summary": f"{channel.replace('_', ' ')} report", "value": body}
            for channel, body in EXAMPLES.items()}
