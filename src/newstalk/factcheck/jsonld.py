"""schema.org ClaimReview for a verdict, as JSON-LD (what search engines read as a fact check)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# A 1-5 rating readers and crawlers can compare across fact-checkers; the name says it plainly.
RATINGS: dict[str, tuple[int, str]] = {
    "refuted": (1, "False"),
    "disputed": (2, "Disputed"),
    "unverified": (3, "Unverified"),
    "supported": (5, "True"),
}


def claim_review(
    *,
    url: str,
    claim: str,
    verdict: str,
    explanation: str,
    checked_at: datetime | None,
    language: str,
    outlet: str | None,
    appearance_url: str | None,
    publisher: str,
) -> dict[str, Any]:
    value, name = RATINGS[verdict]
    item: dict[str, Any] = {"@type": "Claim"}
    if outlet:
        item["author"] = {"@type": "Organization", "name": outlet}
    if appearance_url:
        item["appearance"] = [{"@type": "CreativeWork", "url": appearance_url}]
    out: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": claim,
        "inLanguage": language,
        "author": {"@type": "Organization", "name": publisher},
        "itemReviewed": item,
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": value,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": name,
            "ratingExplanation": explanation,
        },
    }
    if checked_at is not None:
        out["datePublished"] = checked_at.date().isoformat()
    return out
