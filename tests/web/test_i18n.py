"""The UI's strings: every key in both languages, English singular forms for a count of one."""

import json
from importlib import resources

from newstalk.web.i18n import ONE, Translator, strings


def _own(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        resources.files("newstalk.web").joinpath("i18n", name).read_text("utf-8")
    )
    return data


def test_one_outlet_is_singular_in_english_and_korean_has_no_plural() -> None:
    en, ko = Translator("en"), Translator("ko")
    assert (en("story.outlets", n=1), en("story.outlets", n=2)) == ("1 outlet", "2 outlets")
    assert en("search.count", n=1, q="rate") == "1 result for “rate”"
    assert en("desk.failures", n=1) == "1 failure"
    assert en("desk.failures", n=3) == "3 failures in a row"
    assert ko("story.outlets", n=1) == ko("story.outlets", n=2).replace("2", "1")
    assert not any(key.endswith(ONE) for key in strings("ko"))  # English's singulars never fill Korean


def test_every_string_exists_in_both_languages() -> None:
    for base in ("", "desk."):
        en, ko = _own(f"{base}en.json"), _own(f"{base}ko.json")
        # The language switch names each language in itself ("lang.ko"), the same on every page.
        assert {k for k in en if not k.endswith(ONE) and not k.startswith("lang.")} == set(ko), base
