"""UI strings in Korean and English (``i18n/<lang>.json``) and choosing the language of a request."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "en"
ONE = "_one"  # the suffix of a key's singular form, used when n == 1


@cache
def strings(lang: str) -> dict[str, str]:
    """The strings of one language; English fills any key a translation lacks."""

    def load(code: str) -> dict[str, str]:
        folder = resources.files("newstalk.web").joinpath("i18n")
        data: dict[str, str] = json.loads(folder.joinpath(f"{code}.json").read_text("utf-8"))
        data.update(json.loads(folder.joinpath(f"desk.{code}.json").read_text("utf-8")))  # the desk's strings
        return data

    base = load(DEFAULT_LANGUAGE)
    if lang == DEFAULT_LANGUAGE:
        return base
    # A singular form ("key_one") is the language's own: Korean counts have none, so English's
    # must not fill them in.
    return {**{k: v for k, v in base.items() if not k.endswith(ONE)}, **load(lang)}


class Translator:
    """``t("key", name=...)`` in templates: the string in this language, formatted."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.table = strings(lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.table.get(key, key)
        if values.get("n") == 1:  # "1 outlet", not "1 outlets", where the language has the form
            text = self.table.get(key + ONE, text)
        return text.format(**values) if values else text


def from_accept_language(header: str | None) -> str | None:
    """The first of our languages in an Accept-Language header, by weight."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, index, primary))
    return min(ranked)[2] if ranked else None


def choose(chosen: str | None, adopted: str | None, accept_language: str | None) -> str:
    """The switch's choice, else the one adopted from the listener's preferences, else the browser's."""
    for cookie in (chosen, adopted):
        if cookie in LANGUAGES:
            return cookie
    return from_accept_language(accept_language) or DEFAULT_LANGUAGE
