"""Sample outlets for ``newstalk up --demo``: Korean and English coverage of the same events.

Four invented outlets (two Korean RSS feeds, an English Atom feed and an English JSON
Feed) report eight invented events. Most events are covered by several outlets in both
languages, and some outlets disagree on a detail (a number, a date), so stories, coverage,
conflicts, verdicts and briefings show what NewsTalk does. Every place, company and
person is fictional; no copyrighted text. Three items of each feed are there at
start-up and one more appears every minute; article links open a page on this server.

``demo_stream()`` gives the same articles as a labelled stream (``newstalk eval
pipeline``), so the demo itself is a test that no story mixes events.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from newstalk.config import Settings
from newstalk.errors import NotFound

STARTED = time.time()
_BASE_URL = ["http://127.0.0.1:8000"]  # where this process serves the demo; set by subscribe_demo_feeds
INITIAL = 3
EVERY_S = 60


@dataclass(frozen=True, slots=True)
class DemoArticle:
    event: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    feed: str  # file name under /demo/feeds/
    language: str
    articles: tuple[DemoArticle, ...]


HANBIT = Outlet(
    "한빛일보",
    "hanbit-ko.xml",
    "ko",
    (
        DemoArticle(
            "rates",
            "한빛중앙은행, 기준금리 연 3.25% 동결",
            "한빛중앙은행은 28일 통화정책회의에서 기준금리를 연 3.25%로 동결했다. 회의에 앞서 조사에 응한 "
            "전문가 10명 가운데 8명이 동결을 예상했다. 서민지 총재는 물가 상승률이 2%대 초반으로 내려왔지만 "
            "가계부채 증가세를 더 지켜보겠다고 말했다. 시장에서는 연내 한 차례 인하 가능성을 점치고 있다.",
        ),
        DemoArticle(
            "bridge",
            "웨스트헤이븐, 2.4km 항구 보행교 개통",
            "가상의 항구 도시 웨스트헤이븐이 화요일 길이 2.4킬로미터의 보행교를 개통했다. 다리는 구시가지와 "
            "새 해안 공원을 잇는다. 시는 첫 한 달 동안 하루 3만 명이 다리를 찾을 것으로 내다봤다.",
        ),
        DemoArticle(
            "profit",
            "누리전자, 3분기 영업이익 12% 늘어",
            "누리전자의 3분기 영업이익이 지난해 같은 기간보다 12% 늘어난 4천100억 원을 기록했다. 회사는 메모리 "
            "가격 회복과 가전 판매 호조를 이유로 꼽았다. 4분기에는 계절적 비수기로 증가 폭이 줄어들 전망이다.",
        ),
        DemoArticle(
            "lunch",
            "편의점 도시락 가격 다음 달부터 평균 5% 인상",
            "주요 편의점들이 다음 달 1일부터 도시락 가격을 평균 5% 올린다. 업계는 쌀값과 인건비 상승을 이유로 "
            "들었다. 가장 많이 팔리는 제육 도시락은 4천900원에서 5천200원이 된다.",
        ),
        DemoArticle(
            "museum",
            "린드무어 박물관, 조각 유물 200점 원래 공동체에 반환",
            "가상의 도시 린드무어의 국립박물관이 조각 유물 200점을 원래 공동체에 돌려줬다. 박물관은 5년 동안 "
            "소장품의 출처를 조사한 끝에 반환을 결정했다.",
        ),
    ),
)

NURI = Outlet(
    "누리경제신문",
    "nuri-ko.xml",
    "ko",
    (
        DemoArticle(
            "rates",
            "한빛중앙은행 기준금리 3.25% 유지…전문가 10명 중 7명 동결 예상",
            "한빛중앙은행이 기준금리를 연 3.25%로 유지했다. 사전 조사에서 전문가 10명 가운데 7명이 동결을 "
            "예상했다. 서민지 총재는 기자회견에서 가계부채 흐름을 확인한 뒤 인하 시점을 판단하겠다고 밝혔다.",
        ),
        DemoArticle(
            "rail",
            "노를란드 철도 파업 사흘 만에 종료…임금 4.5% 인상 합의",
            "가상의 나라 노를란드의 기관사들이 사흘간의 파업을 끝내고 금요일 업무에 복귀했다. 노조는 2년에 "
            "걸친 임금 4.5% 인상안을 받아들였다. 정상 운행은 월요일부터 재개된다.",
        ),
        DemoArticle(
            "battery",
            "볼트리프, 6분 만에 80% 충전되는 배터리 공개",
            "가상의 기업 볼트리프가 실험실 시험에서 6분 만에 80%까지 충전되는 배터리를 공개했다. 회사는 내년에 "
            "도로 주행 시험을 시작할 계획이라고 밝혔다.",
        ),
        DemoArticle(
            "profit",
            "누리전자 3분기 영업이익 4천200억 원…12% 증가",
            "누리전자는 3분기 영업이익이 지난해 같은 기간보다 12% 늘어난 4천200억 원이라고 발표했다. 메모리 "
            "가격 회복과 가전 판매 호조가 실적을 끌어올렸다.",
        ),
        DemoArticle(
            "lunch",
            "편의점 도시락값 평균 5% 오른다…쌀값·인건비 상승 탓",
            "다음 달부터 편의점 도시락 가격이 평균 5% 오른다. 쌀값과 인건비가 함께 오른 탓이다. 일부 편의점은 "
            "가격을 올리지 않은 실속 도시락을 따로 내놓기로 했다.",
        ),
    ),
)

HARBOR = Outlet(
    "Harbor Times",
    "harbor-en.atom",
    "en",
    (
        DemoArticle(
            "rates",
            "Hanbit Central Bank holds its key rate at 3.25 percent",
            "The Hanbit Central Bank kept its benchmark rate at 3.25 percent on Thursday, as eight of ten economists "
            "polled had expected. Governor Seo Min-ji said inflation had eased to just above 2 percent but household "
            "debt was still growing. Markets expect one cut before the end of the year.",
        ),
        DemoArticle(
            "bridge",
            "Westhaven opens 2.4-kilometre pedestrian bridge across its harbour",
            "The fictional port city of Westhaven opened a pedestrian bridge 2.4 kilometres long on Tuesday, linking its "
            "old town to a new waterfront park. Officials expect 30,000 visitors a day during the first month.",
        ),
        DemoArticle(
            "rail",
            "Norland train drivers return to work after three-day strike",
            "Train drivers in the fictional country of Norland returned to work on Friday after their union accepted "
            "a 5.5 percent pay rise spread over two years. Normal timetables resume on Monday.",
        ),
        DemoArticle(
            "battery",
            "Voltleaf shows a battery that charges to 80 percent in six minutes",
            "The invented company Voltleaf showed a battery that reached 80 percent charge in six minutes in lab "
            "tests. The firm says road trials will begin next year.",
        ),
        DemoArticle(
            "grid",
            "Corallis pledges to run its grid on renewables by 2030",
            "The government of the invented island state of Corallis said it would close its last diesel power "
            "station by 2030, replacing it with solar farms, batteries and a small geothermal plant.",
        ),
        DemoArticle(
            "museum",
            "Lindmoor museum returns 200 carved artefacts to their community",
            "The national museum of the fictional city of Lindmoor handed back 200 carved objects to the community "
            "they came from, after a five-year review of where its collection came from.",
        ),
    ),
)

NORTHERN = Outlet(
    "Northern Wire",
    "northern-en.json",
    "en",
    (
        DemoArticle(
            "rail",
            "Norland rail strike ends as drivers accept 4.5 percent pay rise",
            "Norland's three-day rail strike ended on Friday when train drivers accepted a 4.5 percent pay rise "
            "over two years. The rail operator said normal timetables would resume on Monday.",
        ),
        DemoArticle(
            "rates",
            "Hanbit central bank keeps rate at 3.25%, signals one cut this year",
            "Hanbit's central bank left its key interest rate at 3.25 percent. Governor Seo Min-ji said the bank "
            "would watch household debt before cutting, and markets now expect one cut this year.",
        ),
        DemoArticle(
            "bridge",
            "Westhaven's new harbour footbridge opens to walkers",
            "A 2.3 km footbridge across Westhaven's harbour opened on Tuesday. The city expects 30,000 "
            "visitors a day in the first month.",
        ),
        DemoArticle(
            "battery",
            "Voltleaf battery reaches 80 percent charge in six minutes",
            "A demonstration battery from Voltleaf reached 80 percent charge in six minutes in lab tests. Road "
            "trials are planned for next year.",
        ),
        DemoArticle(
            "profit",
            "Nuri Electronics third-quarter operating profit rises 12 percent",
            "Nuri Electronics said its third-quarter operating profit rose 12 percent from a year earlier to 420 "
            "billion won, helped by recovering memory prices and strong appliance sales.",
        ),
        DemoArticle(
            "grid",
            "Corallis to close its last diesel power station by 2030",
            "Corallis will close its last diesel power station by 2030 and run its grid on solar farms, batteries "
            "and geothermal power, the island's government said.",
        ),
    ),
)

OUTLETS = (HANBIT, NURI, HARBOR, NORTHERN)


def _visible(outlet: Outlet, now: float) -> list[tuple[int, DemoArticle, datetime]]:
    """Items published so far: INITIAL at start-up, then one more every EVERY_S seconds."""
    shown = min(len(outlet.articles), INITIAL + int((now - STARTED) // EVERY_S))
    base = datetime.fromtimestamp(STARTED, UTC)
    out = []
    for i in range(shown):
        offset = (i - INITIAL + 1) * EVERY_S if i >= INITIAL else -(INITIAL - i) * 600
        # Outlets publish a few minutes apart, so coverage of one event is not simultaneous.
        at = base + timedelta(seconds=offset - 120 * OUTLETS.index(outlet))
        out.append((i, outlet.articles[i], at))
    return sorted(out, key=lambda x: x[2], reverse=True)


def article_url(base: str, outlet: Outlet, i: int) -> str:
    return f"{base}/demo/articles/{outlet.feed.split('.')[0]}/{i}"


def rss(outlet: Outlet, base: str, now: float) -> bytes:
    entries = "".join(
        f"<item><title>{escape(a.title)}</title><link>{article_url(base, outlet, i)}?utm_source=rss</link>"
        f'<guid isPermaLink="false">demo-{outlet.feed}-{i}</guid><pubDate>{format_datetime(d)}</pubDate>'
        f"<description>{escape(a.body)}</description></item>"
        for i, a, d in _visible(outlet, now)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(outlet.name)}</title><link>{base}/demo</link><language>{outlet.language}</language>"
        f"<description>{escape(outlet.name)} (NewsTalk demo)</description>{entries}</channel></rss>"
    ).encode()


def atom(outlet: Outlet, base: str, now: float) -> bytes:
    visible = _visible(outlet, now)
    updated = (visible[0][2] if visible else datetime.fromtimestamp(STARTED, UTC)).isoformat()
    entries = "".join(
        f'<entry><title>{escape(a.title)}</title><link href="{article_url(base, outlet, i)}"/>'
        f"<id>urn:newstalk:demo:{outlet.feed}:{i}</id><updated>{d.isoformat()}</updated>"
        f"<published>{d.isoformat()}</published><author><name>{escape(outlet.name)} desk</name></author>"
        f'<content type="html">{escape("<p>" + a.body + "</p>")}</content></entry>'
        for i, a, d in visible
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{outlet.language}">'
        f"<title>{escape(outlet.name)}</title><id>urn:newstalk:demo:{outlet.feed}</id><updated>{updated}</updated>"
        f'<link rel="alternate" href="{base}/demo"/>{entries}</feed>'
    ).encode()


def json_feed(outlet: Outlet, base: str, now: float) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": outlet.name,
        "home_page_url": f"{base}/demo",
        "language": outlet.language,
        "items": [
            {
                "id": f"demo-{outlet.feed}-{i}",
                "url": article_url(base, outlet, i),
                "title": a.title,
                "content_text": a.body,
                "date_published": d.isoformat(),
            }
            for i, a, d in _visible(outlet, now)
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


RENDER = {
    "xml": ("application/rss+xml; charset=utf-8", rss),
    "atom": ("application/atom+xml; charset=utf-8", atom),
    "json": ("application/feed+json; charset=utf-8", json_feed),
}
FEEDS = {o.feed: o for o in OUTLETS}

router = APIRouter(prefix="/demo", tags=["demo"], include_in_schema=False)


@router.get("/feeds/{name}")
async def demo_feed(name: str) -> Response:
    """One of the sample feeds, growing by one item a minute."""
    outlet = FEEDS.get(name)
    if outlet is None:
        raise NotFound(f"demo: no feed {name!r}; try {', '.join(FEEDS)}")
    media_type, render = RENDER[name.rsplit(".", 1)[1]]
    return Response(render(outlet, _BASE_URL[0], time.time()), media_type=media_type)


@router.get("/articles/{slug}/{number}", response_class=HTMLResponse)
async def demo_article(slug: str, number: int) -> HTMLResponse:
    """The page an article's link opens."""
    outlet = next((o for o in OUTLETS if o.feed.split(".")[0] == slug), None)
    if outlet is None or not 0 <= number < len(outlet.articles):
        raise NotFound(f"demo: no article {slug}/{number}")
    a = outlet.articles[number]
    paragraphs = "".join(f"<p>{escape(s.strip())}.</p>" for s in a.body.rstrip(".").split(". ") if s.strip())
    return HTMLResponse(
        f'<!doctype html><html lang="{outlet.language}"><head><meta charset="utf-8">'
        f"<title>{escape(a.title)} | {escape(outlet.name)}</title></head><body><header>{escape(outlet.name)}"
        f" · NewsTalk demo (invented news)</header><article><h1>{escape(a.title)}</h1>{paragraphs}</article>"
        "</body></html>"
    )


def demo_stream(end: datetime | None = None) -> list[Any]:
    """The demo's articles as a labelled stream (event = what the article reports)."""
    from newstalk.replay.stream import StreamItem

    end = end or datetime.now(UTC)
    items = []
    for n, outlet in enumerate(OUTLETS):
        for i, a in enumerate(outlet.articles):
            at = end - timedelta(minutes=10 * (len(outlet.articles) - i) + 2 * n)
            items.append(
                StreamItem(
                    f"demo-{outlet.feed}-{i}",
                    f"demo:{a.event}",
                    outlet.language,
                    outlet.name,
                    a.title,
                    a.body,
                    at,
                )
            )
    return sorted(items, key=lambda x: (x.published, x.id))


async def subscribe_demo_feeds(settings: Settings, base: str) -> int:
    """Subscribe to the sample feeds served by this process (without fetching them now).

    A restart on another address moves the existing demo sources there instead of
    subscribing a second time.
    """
    from sqlalchemy import select

    from newstalk.runtime import Services
    from newstalk.sources import repository, service
    from newstalk.sources.models import Source

    _BASE_URL[0] = base
    services = Services.build(settings)
    added = 0
    try:
        async with services.db.unit() as uow:
            existing = (
                await uow.session.scalars(select(Source).where(Source.feed_url.like("%/demo/feeds/%")))
            ).all()
            by_name = {s.feed_url.rsplit("/", 1)[1]: s for s in existing}
            for name, gone in by_name.items():
                if name not in FEEDS and gone.category == "demo":
                    # A feed an earlier version of the demo served (it would only 404 now).
                    await uow.session.delete(gone)
            for outlet in OUTLETS:
                url = f"{base}/demo/feeds/{outlet.feed}"
                old = by_name.get(outlet.feed)
                if old is not None:
                    old.feed_url = url
                elif await repository.get_by_url(uow.session, url) is None:
                    await service.add_source(
                        uow,
                        settings,
                        None,
                        url=url,
                        title=outlet.name,
                        language=outlet.language,
                        category="demo",
                    )
                    added += 1
    finally:
        await services.aclose()
    return added
