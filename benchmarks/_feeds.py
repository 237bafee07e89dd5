"""Synthetic feeds for the ingestion benchmark and the HTTP server that serves them.

The server runs in its own process (``start_server``) so it never shares the GIL with
the pipeline under test. Feed ``i`` is RSS 2.0 when ``i`` is even and Atom when odd;
feeds ``i % 4 in (0, 1)`` are English and the rest Korean, so both languages come in
both formats. Content is generated from templates with a seeded RNG, so every item has
its own text (and content hash) and every run serves the same bytes.

Versions: the server starts at version 1. Setting version ``v >= 2`` (``GET
/_control?version=v``) adds ``NEW_PER_CHANGE`` items to each feed in
``changed_feeds(n, v, seed)`` for every version up to ``v``. Each feed's ETag names its
own content version and its Last-Modified the date of its newest item, so unchanged feeds
answer ``If-None-Match`` (or, without it, ``If-Modified-Since``) with 304.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from multiprocessing.process import BaseProcess
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

NEW_PER_CHANGE = 5
CHANGED_FRACTION = 0.10
ITEM_SPACING = timedelta(minutes=20)

EN_PLACES = [
    "Riverside",
    "Northgate",
    "Lakewood",
    "Harbor City",
    "Elmstead",
    "Brookfield",
    "Westmoor",
    "Cedar Falls",
    "Port Allen",
    "Greenhill",
    "Stonebridge",
    "Maple Grove",
    "Ashford",
    "Kingsport",
]
EN_SUBJECTS = [
    "The city council",
    "The regional transit authority",
    "A coalition of local businesses",
    "The state health department",
    "University researchers",
    "The school board",
    "Environmental groups",
    "The port operator",
    "Hospital administrators",
    "The county sheriff",
    "A group of tenants",
    "The central bank",
    "Farm cooperatives",
    "The energy regulator",
]
EN_VERBS = [
    "approved",
    "rejected",
    "postponed a vote on",
    "unveiled",
    "criticized",
    "expanded",
    "announced funding for",
    "launched a review of",
    "signed an agreement on",
    "questioned",
]
EN_OBJECTS = [
    "a new bus rapid transit line",
    "the downtown housing plan",
    "a flood defence project",
    "the hospital expansion",
    "a program for after-school tutoring",
    "the water rate increase",
    "a solar farm on former industrial land",
    "the bridge repair schedule",
    "the budget for libraries",
    "a pilot for electric school buses",
    "new rules for short-term rentals",
    "the wildfire response plan",
]
EN_DETAILS = [
    "Officials said the first phase would begin next spring.",
    "Critics argued the estimate did not include maintenance costs.",
    "Residents packed the hearing, and several spoke for more than an hour.",
    "The proposal still needs approval from two other agencies.",
    "A spokesperson declined to say when a final decision would be made.",
    "Supporters say the change will save households money within three years.",
    "The vote followed months of negotiation between the parties.",
    "An independent audit is expected to be published before the end of the quarter.",
    "Local merchants worry the construction will keep customers away.",
    "The agency promised to publish monthly progress reports online.",
    "Several board members asked for a more detailed cost breakdown.",
    "Analysts described the decision as a cautious compromise.",
]
KO_PLACES = [
    "서울",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "수원",
    "청주",
    "전주",
    "춘천",
    "제주",
    "포항",
    "창원",
]
KO_SUBJECTS = [
    "시의회는",
    "교육청은",
    "보건당국은",
    "지역 상인회는",
    "연구진은",
    "교통공사는",
    "환경단체는",
    "도청은",
    "항만공사는",
    "주민자치회는",
    "한국은행은",
    "농협은",
    "소방본부는",
    "대학 병원은",
]
KO_OBJECTS = [
    "새 버스 노선 계획을",
    "도심 주택 공급안을",
    "홍수 방어 사업을",
    "병원 증축 계획을",
    "방과후 학습 지원 사업을",
    "수도 요금 인상안을",
    "폐공장 부지 태양광 단지를",
    "교량 보수 일정을",
    "도서관 예산안을",
    "전기 통학버스 시범 사업을",
    "단기 임대 규제안을",
    "산불 대응 계획을",
]
KO_VERBS = [
    "승인했다",
    "부결했다",
    "표결을 미뤘다",
    "공개했다",
    "비판했다",
    "확대하기로 했다",
    "지원하기로 발표했다",
    "재검토하기로 했다",
    "협약을 체결했다",
    "문제를 제기했다",
]
KO_DETAILS = [
    "관계자는 첫 단계 공사가 내년 봄에 시작될 것이라고 밝혔다.",
    "비판론자들은 추정치에 유지보수 비용이 빠져 있다고 지적했다.",
    "공청회에는 주민들이 몰려 여러 명이 한 시간 넘게 의견을 말했다.",
    "이 안은 아직 다른 두 기관의 승인을 받아야 한다.",
    "대변인은 최종 결정 시점에 대해서는 언급을 피했다.",
    "지지자들은 이번 변화로 3년 안에 가계 부담이 줄어들 것이라고 말했다.",
    "이번 표결은 수개월에 걸친 협상 끝에 이뤄졌다.",
    "독립 감사 결과는 분기 말 이전에 공개될 예정이다.",
    "지역 상인들은 공사 기간 동안 손님이 줄어들까 걱정하고 있다.",
    "기관은 매달 진행 상황 보고서를 온라인에 공개하겠다고 약속했다.",
    "일부 위원들은 더 자세한 비용 내역을 요구했다.",
    "전문가들은 이번 결정을 신중한 절충안으로 평가했다.",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a server the benchmark starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_korean(feed: int) -> bool:
    return feed % 4 >= 2


def is_atom(feed: int) -> bool:
    return feed % 2 == 1


def changed_feeds(n_feeds: int, version: int, seed: int) -> list[int]:
    """The feeds that gain items when the server moves to ``version`` (none for version 1)."""
    if version < 2:
        return []
    k = max(1, round(n_feeds * CHANGED_FRACTION))
    return sorted(random.Random(f"{seed}:changed:{version}").sample(range(n_feeds), k))


def item_count(feed: int, n_items: int, n_feeds: int, version: int, seed: int) -> int:
    """How many items feed ``feed`` has ever published at ``version``."""
    return n_items + NEW_PER_CHANGE * sum(
        feed in changed_feeds(n_feeds, v, seed) for v in range(2, version + 1)
    )


def _item_text(feed: int, index: int, seed: int) -> tuple[str, list[str]]:
    rng = random.Random(f"{seed}:{feed}:{index}")
    if is_korean(feed):
        place, subj = rng.choice(KO_PLACES), rng.choice(KO_SUBJECTS)
        obj, verb = rng.choice(KO_OBJECTS), rng.choice(KO_VERBS)
        amount = rng.randint(3, 980)
        title = f"{place} {subj.removesuffix('는').removesuffix('은')}, {amount}억 원 규모 {obj} {verb}"
        lead = f"{place} {subj} {rng.randint(2, 28)}일 {amount}억 원 규모의 {obj} {verb}."
        paragraphs = [f"{lead} {' '.join(rng.sample(KO_DETAILS, 2))} (기사 번호 {feed}-{index})"]
        for _ in range(rng.randint(0, 2)):
            paragraphs.append(" ".join(rng.sample(KO_DETAILS, rng.randint(2, 3))))
    else:
        place, subj = rng.choice(EN_PLACES), rng.choice(EN_SUBJECTS)
        obj, verb = rng.choice(EN_OBJECTS), rng.choice(EN_VERBS)
        amount = rng.randint(3, 980)
        title = f"{place}: {subj.removeprefix('The ').removeprefix('A ')} {verb} {obj}"
        lead = f"{subj} in {place} on Tuesday {verb} {obj}, a measure worth {amount} million dollars."
        paragraphs = [f"{lead} {' '.join(rng.sample(EN_DETAILS, 2))} (Story {feed}-{index}.)"]
        for _ in range(rng.randint(0, 2)):
            paragraphs.append(" ".join(rng.sample(EN_DETAILS, rng.randint(2, 3))))
    return title, paragraphs


def render_feed(feed: int, total: int, n_items: int, seed: int, epoch: datetime) -> bytes:
    """Feed ``feed`` showing its newest ``n_items`` of ``total`` items, newest first."""
    site = f"https://news{feed}.example.com"
    lang = "ko" if is_korean(feed) else "en"
    entries = []
    for index in range(total - 1, max(total - n_items, 0) - 1, -1):
        title, paragraphs = _item_text(feed, index, seed)
        link = f"{site}/2026/story-{index}"
        html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        published = epoch + ITEM_SPACING * index + timedelta(seconds=feed)
        if is_atom(feed):
            entries.append(
                f'<entry><title>{escape(title)}</title><link rel="alternate" href="{link}"/>'
                f"<id>{link}</id><updated>{published.isoformat()}</updated>"
                f"<author><name>Desk {feed}</name></author>"
                f'<content type="html">{escape(html)}</content></entry>'
            )
        else:
            entries.append(
                f"<item><title>{escape(title)}</title><link>{link}?utm_source=rss</link>"
                f'<guid isPermaLink="true">{link}</guid><pubDate>{format_datetime(published)}</pubDate>'
                f"<description>{escape(html)}</description></item>"
            )
    name = f"Bench news {feed}"
    if is_atom(feed):
        doc = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
            f'<title>{name}</title><id>{site}/</id><link rel="alternate" href="{site}/"/>'
            f"<updated>{(epoch + ITEM_SPACING * total).isoformat()}</updated>{''.join(entries)}</feed>"
        )
    else:
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{name}</title><link>{site}/</link><description>{name}</description>"
            f"<language>{lang}</language>{''.join(entries)}</channel></rss>"
        )
    return doc.encode("utf-8")


class _State:
    def __init__(self, n_feeds: int, n_items: int, seed: int) -> None:
        self.n_feeds, self.n_items, self.seed = n_feeds, n_items, seed
        self.version = 1
        # Items are dated back from start-up so none is in the future.
        self.epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        self.cache: dict[tuple[int, int], bytes] = {}

    def body(self, feed: int) -> tuple[bytes, str, datetime]:
        """The feed's bytes, ETag and Last-Modified (the date of its newest item)."""
        total = item_count(feed, self.n_items, self.n_feeds, self.version, self.seed)
        key = (feed, total)
        body = self.cache.get(key)
        if body is None:
            body = self.cache[key] = render_feed(feed, total, self.n_items, self.seed, self.epoch)
        modified = self.epoch + ITEM_SPACING * (total - 1) + timedelta(seconds=feed)
        return body, f'"f{feed}-{total}"', modified


def _not_modified(headers: dict[str, str], etag: str, modified: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if "if-none-match" in headers:
        return headers["if-none-match"] == etag
    since = headers.get("if-modified-since")
    if not since:
        return False
    try:
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _response(status: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def _serve(state: _State, ready: multiprocessing.queues.Queue[int], host: str, port: int) -> None:  # type: ignore[name-defined]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                parts = urlsplit(target)
                if parts.path == "/_control":
                    state.version = int(parse_qs(parts.query)["version"][0])
                    out = _response("200 OK", b"ok", {"Content-Type": "text/plain"})
                elif parts.path.startswith("/feeds/") and parts.path.endswith(".xml"):
                    feed = int(parts.path[len("/feeds/") : -len(".xml")])
                    body, etag, modified = state.body(feed)
                    validators = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True)}
                    if _not_modified(headers, etag, modified):
                        out = _response("304 Not Modified", b"", validators)
                    else:
                        ctype = "application/atom+xml" if is_atom(feed) else "application/rss+xml"
                        out = _response(
                            "200 OK", body, {**validators, "Content-Type": f"{ctype}; charset=utf-8"}
                        )
                else:
                    out = _response("404 Not Found", b"not found", {"Content-Type": "text/plain"})
                writer.write(out)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, backlog=1024)
    ready.put(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _server_main(
    n_feeds: int,
    n_items: int,
    seed: int,
    ready: multiprocessing.queues.Queue[int],  # type: ignore[name-defined]
    host: str,
    port: int,
) -> None:
    state = _State(n_feeds, n_items, seed)
    for feed in range(n_feeds):
        state.body(feed)
    try:
        asyncio.run(_serve(state, ready, host, port))
    except OSError as exc:
        ready.put(-1)
        raise SystemExit(f"feed server: cannot listen on {host}:{port}: {exc}") from exc


def start_server(
    n_feeds: int, n_items: int, seed: int, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseProcess, int]:
    """Start the feed server in a child process; returns the process and its port (0: any free one)."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    proc = ctx.Process(target=_server_main, args=(n_feeds, n_items, seed, ready, host, port), daemon=True)
    proc.start()
    bound = ready.get(timeout=60)
    if bound < 0:
        proc.join(timeout=10)
        raise OSError(f"feed server: cannot listen on {host}:{port}")
    return proc, bound
