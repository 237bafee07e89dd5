"""Search terms: the one tokenizer both the index and the queries go through.

Korean goes through Kiwi morphemes (``stories.text.kiwi``), so particles and endings
never reach the index: "삼성전자가" and "삼성전자는" both index "삼성전자". Everything
else is NFKC-normalized, case-folded, accent-folded ("Café" = "cafe"), stripped of
English stopwords and Snowball-stemmed ("elections" = "election"); Latin words inside
Korean text get the same treatment, so "AI" matches in either language. Terms are
``\\w+`` strings only, which is why a user's text can never become query syntax.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import Stemmer

from newstalk.stories.text import STOPWORDS, kiwi, normalize_text

# How much of a document is tokenized: the headline, the summary and this much body.
# Kiwi costs ~2 ms per 1,000 Korean characters here; leads carry what people search for.
BODY_CHARS = 2000
MAX_QUERY_TERMS = 32
MAX_TERM_CHARS = 64

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_TERM = re.compile(r"^\w+$")
_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"['\u2019]s\b", re.IGNORECASE)
# Kiwi tags that carry meaning: nouns, numerals, roots, verb/adjective stems, Latin words,
# numbers and Hanja. Particles (J*), endings (E*) and suffixes (X*) other than roots are dropped.
_KO_TAGS = frozenset({"NNG", "NNP", "NR", "XR", "VV", "VA", "SL", "SN", "SH"})
_LATIN_TAGS = frozenset({"SL", "SN"})

_stem_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects are not thread-safe; one per thread.
    stemmer: Stemmer.Stemmer | None = getattr(_stem_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _stem_local.stemmer = stemmer
    return stemmer


def clean(text: str) -> str:
    """Make any input safe to tokenize and store: no NUL bytes, no lone surrogates."""
    text = text.replace("\x00", " ")
    return text.encode("utf-8", "replace").decode("utf-8")


def fold(text: str) -> str:
    """normalize_text plus accent folding; Hangul syllables survive (NFKD, then NFC)."""
    text = normalize_text(_POSSESSIVE.sub("", text))
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)


def has_hangul(text: str) -> bool:
    """True when the text has Korean letters (then Kiwi tokenizes it)."""
    return _HANGUL.search(text) is not None


@lru_cache(maxsize=65536)
def _latin_term(word: str) -> str:
    return str(_stemmer().stemWord(word))


def _latin_terms(text: str) -> list[str]:
    return [_latin_term(w) for w in fold(text).split() if w not in STOPWORDS and len(w) <= MAX_TERM_CHARS]


def _korean_terms(text: str) -> list[str]:
    out: list[str] = []
    for token in kiwi().tokenize(unicodedata.normalize("NFKC", text)):
        tag = token.tag.split("-", 1)[0]
        if tag not in _KO_TAGS:
            continue
        if tag in _LATIN_TAGS:
            out.extend(_latin_terms(token.form))
        else:
            form = token.form.casefold()
            if _TERM.match(form) and len(form) <= MAX_TERM_CHARS:
                out.append(form)
    return out


def terms(text: str) -> list[str]:
    """Index terms of a text in order: Kiwi morphemes when it has Hangul, stemmed words otherwise."""
    text = clean(text)
    if not text.strip():
        return []
    return _korean_terms(text) if has_hangul(text) else _latin_terms(text)


def document_terms(title: str, parts: Iterable[str]) -> str:
    """The space-separated term string stored for a document (title first, then its text)."""
    body = " ".join(p for p in parts if p)[:BODY_CHARS]
    return " ".join(terms(f"{title}\n{body}"))


def query_terms(q: str) -> list[str]:
    """Distinct terms of a query, in order, at most MAX_QUERY_TERMS; operators are just words."""
    seen: dict[str, None] = {}
    for term in terms(q):
        seen.setdefault(term, None)
    return list(seen)[:MAX_QUERY_TERMS]


@lru_cache(maxsize=65536)
def _surface_key(word: str) -> tuple[bool, tuple[str, ...]]:
    """How a surface word compares with query terms: (True, folded Korean) or (False, its stems)."""
    folded = fold(word)
    if has_hangul(folded):
        return True, (folded,)
    return False, tuple(_latin_term(w) for w in folded.split())


def highlights(text: str, query: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` whose words match a query term (stem or Korean prefix).

    Cheap on purpose (no Kiwi, one cached lookup per distinct word): a Korean word
    matches when it starts with a Korean query term, which covers particles and endings
    ("삼성전자가" for "삼성전자").
    """
    if not query:
        return []
    wanted = set(query)
    korean = tuple(t for t in query if has_hangul(t))
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        is_korean, forms = _surface_key(match.group(0))
        hit = bool(korean) and forms[0].startswith(korean) if is_korean else any(f in wanted for f in forms)
        if hit:
            spans.append((match.start(), match.end()))
    return spans


def snippet(text: str, query: Sequence[str], width: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` around its densest run of matches, with match offsets into it."""
    text = " ".join(clean(text).split())
    spans = highlights(text, query)
    if len(text) <= width:
        return text, spans
    start = 0
    if spans:
        # The window that starts at a match and holds the most matches.
        best = max(range(len(spans)), key=lambda i: sum(1 for s in spans[i:] if s[1] <= spans[i][0] + width))
        start = max(0, spans[best][0] - width // 6)
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + width)
    cut = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return f"{prefix}{cut}{suffix}", inside
