"""The sentiment of a customer's message: VADER's compound score, -1 (negative) to 1 (positive).

A lexicon model that ships its word list in the package, so it runs on the machine with no network;
one analyzer per process (loading the lexicon takes ~50 ms). Playbooks' "negative sentiment" signal
reads the stored scores.
"""

import functools
import re

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

#: a score above this is positive, below its negative is negative (VADER's own convention)
NEUTRAL_BAND = 0.05
_QUOTED = re.compile(r"^\s*>.*$", re.MULTILINE)


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_score(text: str) -> float | None:
    """The compound score of ``text`` without its quoted lines; None when there is nothing to score."""
    text = _QUOTED.sub("", text or "").strip()[:5000]
    if not text:
        return None
    return round(_analyzer().polarity_scores(text)["compound"], 4)


def sentiment_label(score: float | None) -> str:
    if score is None:
        return ""
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"
