"""One taxonomy of policy areas and categories for every channel.

Each category maps to the DSA statement-of-reasons category as the EU
Transparency Database spells it, and to a severity (1 = lowest, 5 = highest)
that routing uses for priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PolicyArea(StrEnum):
    COMMUNITY_STANDARDS = "community_standards"
    ADVERTISING = "advertising"
    INTELLECTUAL_PROPERTY = "intellectual_property"
    LEGAL_REGULATORY = "legal_regulatory"


class DsaCategory(StrEnum):
    """The ``category`` values the DSA Transparency Database accepts (its 2025 list, from
    ``App\\Models\\Statement::STATEMENT_CATEGORIES``)."""

    ANIMAL_WELFARE = "STATEMENT_CATEGORY_ANIMAL_WELFARE"
    CONSUMER_INFORMATION = "STATEMENT_CATEGORY_CONSUMER_INFORMATION"
    CYBER_VIOLENCE = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    CYBER_VIOLENCE_AGAINST_WOMEN = "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN"
    DATA_PROTECTION = "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS"
    ILLEGAL_OR_HARMFUL_SPEECH = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    INTELLECTUAL_PROPERTY = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    CIVIC_DISCOURSE = "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS"
    NOT_SPECIFIED_NOTICE = "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE"
    OTHER_VIOLATION_TC = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    PROTECTION_OF_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    PUBLIC_SECURITY = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    SCAMS_AND_FRAUD = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    SELF_HARM = "STATEMENT_CATEGORY_SELF_HARM"
    UNSAFE_PRODUCTS = "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS"
    VIOLENCE = "STATEMENT_CATEGORY_VIOLENCE"


@dataclass(frozen=True)
class Category:
    code: str
    area: PolicyArea
    dsa: DsaCategory
    severity: int
    label: str
    keywords: tuple[str, ...] = ()  # the statement of reasons' category_specification


_CS, _AD, _IP, _LR = (
    PolicyArea.COMMUNITY_STANDARDS,
    PolicyArea.ADVERTISING,
    PolicyArea.INTELLECTUAL_PROPERTY,
    PolicyArea.LEGAL_REGULATORY,
)

CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("child_sexual_exploitation", _CS, DsaCategory.PROTECTION_OF_MINORS, 5,
                 "Child sexual exploitation and abuse", ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",)),
        Category("child_endangerment", _CS, DsaCategory.PROTECTION_OF_MINORS, 4,
                 "Child endangerment"),
        Category("terrorism", _CS, DsaCategory.PUBLIC_SECURITY, 5, "Terrorist content",
                 ("KEYWORD_TERRORIST_CONTENT",)),
        Category("violent_extremism", _CS, DsaCategory.PUBLIC_SECURITY, 4, "Violent extremism",
                 ("KEYWORD_ILLEGAL_ORGANIZATIONS",)),
        Category("self_harm", _CS, DsaCategory.SELF_HARM, 5, "Suicide and self-injury",
                 ("KEYWORD_SELF_MUTILATION", "KEYWORD_SUICIDE")),
        Category("threat_to_life", _CS, DsaCategory.VIOLENCE, 5, "Credible threat to life"),
        Category("graphic_violence", _CS, DsaCategory.VIOLENCE, 3, "Graphic violence"),
        Category("animal_abuse", _CS, DsaCategory.ANIMAL_WELFARE, 3, "Animal abuse",
                 ("KEYWORD_ANIMAL_HARM",)),
        Category("hate_speech", _CS, DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH, 3, "Hate speech",
                 ("KEYWORD_HATE_SPEECH",)),
        Category("harassment", _CS, DsaCategory.CYBER_VIOLENCE, 3,
                 "Bullying and harassment", ("KEYWORD_CYBER_HARASSMENT",)),
        Category("non_consensual_intimate_imagery", _CS, DsaCategory.CYBER_VIOLENCE, 4,
                 "Non-consensual intimate imagery", ("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",)),
        Category("adult_nudity", _CS, DsaCategory.OTHER_VIOLATION_TC, 2,
                 "Adult nudity and sexual content", ("KEYWORD_ADULT_SEXUAL_MATERIAL",)),
        Category("sexual_solicitation", _CS, DsaCategory.OTHER_VIOLATION_TC, 2,
                 "Sexual solicitation", ("KEYWORD_ADULT_SEXUAL_MATERIAL",)),
        Category("election_misinformation", _CS, DsaCategory.CIVIC_DISCOURSE, 3,
                 "Election and civic misinformation", ("KEYWORD_MISINFORMATION_DISINFORMATION",)),
        Category("privacy_violation", _CS, DsaCategory.DATA_PROTECTION, 3,
                 "Sharing private information"),
        Category("scam", _CS, DsaCategory.SCAMS_AND_FRAUD, 3, "Scams and fraud"),
        Category("phishing", _CS, DsaCategory.SCAMS_AND_FRAUD, 3, "Phishing", ("KEYWORD_PHISHING",)),
        Category("illegal_goods", _CS, DsaCategory.UNSAFE_PRODUCTS, 3,
                 "Sale of illegal or unsafe goods", ("KEYWORD_PROHIBITED_PRODUCTS",)),
        Category("impersonation", _CS, DsaCategory.CYBER_VIOLENCE, 2, "Impersonation",
                 ("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",)),
        Category("spam", _CS, DsaCategory.OTHER_VIOLATION_TC, 1, "Spam"),
        Category("misleading_ad", _AD, DsaCategory.CONSUMER_INFORMATION, 3,
                 "Misleading advertising", ("KEYWORD_MISLEADING_INFO_GOODS_SERVICES",)),
        Category("prohibited_ad_content", _AD, DsaCategory.UNSAFE_PRODUCTS, 3,
                 "Prohibited products or content in ads", ("KEYWORD_PROHIBITED_PRODUCTS",)),
        Category("ad_policy_misapplied", _AD, DsaCategory.OTHER_VIOLATION_TC, 2,
                 "Advertising policy misapplied"),
        Category("copyright", _IP, DsaCategory.INTELLECTUAL_PROPERTY, 2, "Copyright infringement",
                 ("KEYWORD_COPYRIGHT_INFRINGEMENT",)),
        Category("trademark", _IP, DsaCategory.INTELLECTUAL_PROPERTY, 2, "Trademark infringement",
                 ("KEYWORD_TRADEMARK_INFRINGEMENT",)),
        Category("counterfeit", _IP, DsaCategory.INTELLECTUAL_PROPERTY, 3, "Counterfeit goods"),
        Category("illegal_content_order", _LR, DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH, 4,
                 "Order against illegal content"),
        Category("terrorist_content_order", _LR, DsaCategory.PUBLIC_SECURITY, 5,
                 "Terrorist-content removal order", ("KEYWORD_TERRORIST_CONTENT",)),
        Category("defamation", _LR, DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH, 2, "Defamation",
                 ("KEYWORD_DEFAMATION",)),
        Category("data_protection_request", _LR, DsaCategory.DATA_PROTECTION, 2,
                 "Data protection request", ("KEYWORD_RIGHT_TO_BE_FORGOTTEN",)),
    )
}


def category(code: str) -> Category:
    """Look up a category; ``KeyError`` for an unknown code (callers turn it into a 422)."""
    return CATEGORIES[code]
