"""Sample feeds for ``newstalk up --demo``: Korean RSS, English Atom and English JSON Feed.

The stories are invented for this project (no copyrighted text). Three items of each
feed are there at start-up; one more appears every minute, so a new user sees
articles arrive without any internet access.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Response

from newstalk.config import Settings
from newstalk.errors import NotFound

STARTED = time.time()
_BASE_URL = ["http://127.0.0.1:8000"]  # where this process serves the demo; set by subscribe_demo_feeds
INITIAL = 3
EVERY_S = 60

KO_ECONOMY = [
    (
        "한빛시, 청년 창업 지원금 20억 원 추가 편성",
        "한빛시는 올해 하반기 청년 창업 지원 예산을 20억 원 늘린다고 밝혔다. 시는 기술 기반 창업 기업 120곳을 선정해 "
        "최대 3천만 원씩 지원할 계획이다. 신청은 다음 달 1일부터 시 누리집에서 받는다.",
    ),
    (
        "가상의 '누리전자', 3분기 영업이익 12% 증가",
        "누리전자는 3분기 영업이익이 지난해 같은 기간보다 12% 늘어난 4천200억 원을 기록했다고 발표했다. "
        "회사는 메모리 가격 회복과 가전 판매 호조를 이유로 꼽았다.",
    ),
    (
        "기준금리 동결 전망 우세…시장 '연내 인하' 기대",
        "다음 주 통화정책회의를 앞두고 기준금리가 연 3.25%로 동결될 것이라는 전망이 우세하다. "
        "전문가 10명 가운데 8명이 동결을 예상했으며, 연내 한 차례 인하 가능성을 점쳤다.",
    ),
    (
        "전통시장 온라인 장보기 이용자 1년 새 두 배",
        "전통시장 온라인 장보기 서비스 이용자가 1년 만에 두 배로 늘었다. 배달 가능 지역이 넓어지고 "
        "주말 당일 배송이 도입된 것이 영향을 준 것으로 분석된다.",
    ),
    (
        "수출 5개월 연속 증가…반도체·자동차 견인",
        "이달 수출이 지난해 같은 달보다 7.1% 늘어 5개월 연속 증가세를 이어갔다. 반도체와 자동차가 "
        "증가를 이끌었고, 무역수지는 35억 달러 흑자를 기록했다.",
    ),
    (
        "편의점 도시락 가격 평균 5% 인상",
        "주요 편의점들이 다음 달부터 도시락 가격을 평균 5% 올린다. 쌀값과 인건비 상승이 이유로 제시됐다.",
    ),
]

EN_WORLD = [
    (
        "Harbor city opens Asia's longest pedestrian bridge",
        "The fictional port city of Westhaven opened a 2.4-kilometre pedestrian bridge on Tuesday, linking its old "
        "town to a new waterfront park. Officials expect 30,000 visitors a day during the first month.",
    ),
    (
        "Island nation pledges to run its grid on renewables by 2030",
        "The government of the invented island state of Corallis said it would close its last diesel power station "
        "by 2030, replacing it with solar farms, batteries and a small geothermal plant.",
    ),
    (
        "Rail strike ends after three-day walkout",
        "Train drivers in the demonstration country of Norland returned to work on Friday after unions accepted a "
        "4.5 percent pay rise spread over two years. Normal timetables resume on Monday.",
    ),
    (
        "Global wheat harvest forecast raised on good weather",
        "An imaginary agricultural agency raised its world wheat harvest forecast by 1.2 percent, citing rain in key "
        "growing regions. Prices for December delivery fell slightly after the report.",
    ),
    (
        "Museum returns 200 artefacts to their community of origin",
        "A national museum in the sample city of Lindmoor handed back 200 carved objects to the community they came "
        "from, after a five-year review of its collection.",
    ),
    (
        "Mountain tunnel cuts cross-border journey to 40 minutes",
        "A new 11-kilometre road tunnel under the fictional Silverpeak range opened to traffic, cutting the drive "
        "between two border towns from two hours to about 40 minutes.",
    ),
]

EN_TECH = [
    (
        "Open-source weather model beats last year's forecasts",
        "A volunteer project released an open weather model that, in its own tests, forecast rainfall more accurately "
        "than last year's version across 500 stations. The code and data are public.",
    ),
    (
        "Startup shows a battery that charges in six minutes",
        "A demonstration battery from the invented company Voltleaf reached 80 percent charge in six minutes in lab "
        "tests. The firm says road trials will begin next year.",
    ),
    (
        "Library app adds audio briefings in Korean and English",
        "A sample city library added spoken daily briefings to its app, reading the top local stories aloud in Korean "
        "and English each morning at seven.",
    ),
    (
        "Researchers map city noise with 1,000 cheap sensors",
        "Engineers placed 1,000 low-cost microphones on lamp posts in the fictional town of Brookfield to map traffic "
        "noise street by street, and published the results as open data.",
    ),
    (
        "Space agency tests a reusable upper stage",
        "The demonstration space agency of Norland completed a second test flight of a reusable upper stage, landing "
        "it on a floating platform 600 kilometres offshore.",
    ),
]


def _visible(items: list[tuple[str, str]], now: float) -> list[tuple[int, str, str, datetime]]:
    """Items published so far: INITIAL at start-up, then one more every EVERY_S seconds."""
    shown = min(len(items), INITIAL + int((now - STARTED) // EVERY_S))
    base = datetime.fromtimestamp(STARTED, UTC)
    out = []
    for i in range(shown):
        offset = (i - INITIAL + 1) * EVERY_S if i >= INITIAL else -(INITIAL - i) * 600
        title, body = items[i]
        out.append((i, title, body, base + timedelta(seconds=offset)))
    return sorted(out, key=lambda x: x[3], reverse=True)


def korean_rss(base: str, now: float) -> bytes:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{base}/demo/articles/ko/{i}?utm_source=rss</link>"
        f'<guid isPermaLink="false">demo-ko-{i}</guid><pubDate>{format_datetime(d)}</pubDate>'
        f"<description>{escape(b)}</description></item>"
        for i, t, b, d in _visible(KO_ECONOMY, now)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>뉴스톡 데모 경제</title><link>{base}/demo</link><language>ko</language>"
        f"<description>뉴스톡 데모용 가상 경제 뉴스</description>{entries}</channel></rss>"
    ).encode()


def english_atom(base: str, now: float) -> bytes:
    visible = _visible(EN_WORLD, now)
    updated = (visible[0][3] if visible else datetime.fromtimestamp(STARTED, UTC)).isoformat()
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link href="{base}/demo/articles/world/{i}"/>'
        f"<id>urn:newstalk:demo:world:{i}</id><updated>{d.isoformat()}</updated><published>{d.isoformat()}</published>"
        f'<author><name>NewsTalk Demo Desk</name></author><content type="html">{escape("<p>" + b + "</p>")}</content></entry>'
        for i, t, b, d in visible
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
        f"<title>NewsTalk Demo World</title><id>urn:newstalk:demo:world</id><updated>{updated}</updated>"
        f'<link rel="alternate" href="{base}/demo"/>{entries}</feed>'
    ).encode()


def english_json(base: str, now: float) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "NewsTalk Demo Tech",
        "home_page_url": f"{base}/demo",
        "language": "en",
        "items": [
            {
                "id": f"demo-tech-{i}",
                "url": f"{base}/demo/articles/tech/{i}",
                "title": t,
                "content_text": b,
                "date_published": d.isoformat(),
            }
            for i, t, b, d in _visible(EN_TECH, now)
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


FEEDS = {
    "economy-ko.xml": ("application/rss+xml; charset=utf-8", korean_rss),
    "world-en.atom": ("application/atom+xml; charset=utf-8", english_atom),
    "tech-en.json": ("application/feed+json; charset=utf-8", english_json),
}

router = APIRouter(prefix="/demo", tags=["demo"], include_in_schema=False)


@router.get("/feeds/{name}")
async def demo_feed(name: str) -> Response:
    """One of the sample feeds, growing by one item a minute."""
    if name not in FEEDS:
        raise NotFound(f"demo: no feed {name!r}; try {', '.join(FEEDS)}")
    media_type, render = FEEDS[name]
    return Response(render(_BASE_URL[0], time.time()), media_type=media_type)


async def subscribe_demo_feeds(settings: Settings, base: str) -> int:
    """Subscribe to the sample feeds served by this process (without fetching them now)."""
    from newstalk.runtime import Services
    from newstalk.sources import repository, service

    _BASE_URL[0] = base
    services = Services.build(settings)
    added = 0
    try:
        async with services.db.unit() as uow:
            for name in FEEDS:
                url = f"{base}/demo/feeds/{name}"
                if await repository.get_by_url(uow.session, url) is None:
                    await service.add_source(uow, settings, None, url=url, category="demo")
                    added += 1
    finally:
        await services.aclose()
    return added
