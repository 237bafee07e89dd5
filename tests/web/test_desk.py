"""The editors' and admins' desk in process: every page and form, with real rows, real CSRF and real roles."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.accounts.models import Role
from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.factcheck.models import Claim, Evidence
from newstalk.kit.bus.dbqueue import DEAD, QueueJob
from newstalk.kit.db import Database, utcnow
from newstalk.sources.models import Source
from newstalk.stories.models import Story, StoryArticle
from tests.support.accounts import PASSWORD, make_account
from tests.web.test_session import csrf_of

pytestmark = pytest.mark.anyio

CLAIM = "Drivers accepted a 4.5 percent pay rise."
QUOTE = "Drivers accepted a 5.5 percent pay rise over two years."
OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Feeds</title></head><body>
<outline text="Economy"><outline type="rss" text="Wire" xmlUrl="https://wire.example.org/rss.xml"/></outline>
<outline type="rss" text="Daily" xmlUrl="https://daily.example.org/feed.xml"/>
</body></opml>"""


@dataclass
class Desk:
    sources: list[int]
    stories: list[int]
    articles: list[int]  # the first story's articles
    claim: int
    dead_job: int


async def seed(settings: Settings) -> Desk:
    """Two outlets, two stories (the first with two articles), a claim waiting for review with
    conflicting evidence, and a dead-lettered job: real rows in the test database."""
    db = Database.open(settings.async_database_url)
    now = utcnow()
    try:
        async with db.unit() as uow:
            session = uow.session
            sources = []
            for name in ("Wire", "Daily"):
                src = Source(
                    feed_url=f"https://{name.lower()}.example.net/feed.xml",
                    title=name,
                    fetch_interval_s=900,
                    next_fetch_at=now + timedelta(minutes=15),
                    last_error="HTTP 503 from server" if name == "Daily" else None,
                    consecutive_failures=2 if name == "Daily" else 0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(src)
                await session.flush()
                sources.append(src.id)
            stories, articles = [], []
            for n, (title, texts) in enumerate(
                [("Bus drivers settle pay", (CLAIM, QUOTE)), ("Rail strike ends", ("Trains run again.",))]
            ):
                story = Story(
                    status="open",
                    title=title,
                    summary=[title],
                    languages=["en"],
                    category="economy",
                    article_count=len(texts),
                    outlet_count=len(texts),
                    first_seen_at=now,
                    last_seen_at=now,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                session.add(story)
                await session.flush()
                stories.append(story.id)
                for i, text in enumerate(texts):
                    tag = uuid.uuid4().hex
                    article = Article(
                        source_id=sources[i],
                        url=f"https://example.net/{tag}",
                        content_hash=tag + tag,
                        title=f"{title} ({i + 1})",
                        content_text=text,
                        language="en",
                        published_at=now,
                        first_seen_at=now,
                        stored_at=now,
                    )
                    session.add(article)
                    await session.flush()
                    session.add(StoryArticle(article_id=article.id, story_id=story.id, added_at=now))
                    if n == 0:
                        articles.append(article.id)
            claim = Claim(
                article_id=articles[0],
                source_id=sources[0],
                story_id=stories[0],
                text=CLAIM,
                start=0,
                end=len(CLAIM),
                language="en",
                score=0.9,
                kinds=["number"],
                verdict="refuted",
                confidence=0.62,
                final_verdict="refuted",
                explanation="Another outlet reports 5.5 percent.",
                detail={},
                verifier="nli",
                review_status="pending",
                review_reason="low confidence",
                checked_at=now,
            )
            session.add(claim)
            await session.flush()
            session.add(
                Evidence(
                    claim_id=claim.id,
                    article_id=articles[1],
                    source_id=sources[1],
                    origin="story",
                    quote=QUOTE,
                    start=0,
                    end=len(QUOTE),
                    stance="refutes",
                    score=0.8,
                    related=0.9,
                    retrieval_score=0.7,
                    conflicts=["number: 4.5 percent vs 5.5 percent"],
                )
            )
            job = QueueJob(
                stage="factcheck",
                topic="story.updated",
                dedup_key=f"story:{stories[1]}:1",
                payload={"story_id": stories[1], "version": 1},
                status=DEAD,
                attempts=5,
                last_error="RuntimeError: model timed out",
                available_at=now,
                first_seen_at=now,
                created_at=now,
            )
            session.add(job)
            await session.flush()
            return Desk(sources, stories, articles, claim.id, job.id)
    finally:
        await db.dispose()


async def sign_in(client: httpx.AsyncClient, settings: Settings, role: Role) -> str:
    """A fresh account with ``role``, signed in through the login form; returns a page's CSRF token."""
    client.cookies.clear()
    email = f"{role.value}-{uuid.uuid4().hex[:6]}@example.org"
    await make_account(settings, role, email)
    token = csrf_of((await client.get("/login")).text)
    response = await client.post("/login", data={"csrf": token, "email": email, "password": PASSWORD})
    assert response.status_code == 303
    return csrf_of((await client.get("/")).text)


async def count(settings: Settings, what: type[Any]) -> int:
    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(what)) or 0)
    finally:
        await db.dispose()


async def test_roles_anonymous_log_in_listeners_get_403_editors_see_review_admins_all(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await seed(settings)
    admin_only = ("/desk/sources", "/desk/dead", "/desk/users")
    for path in ("/desk", "/desk/review", "/desk/stories", *admin_only):
        anonymous = await client.get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == f"/login?next={path}"

    await sign_in(client, settings, Role.listener)
    refused = await client.get("/desk/review")
    assert refused.status_code == 403
    assert "This page is for editors and admins" in refused.text
    assert 'href="/desk"' not in (await client.get("/")).text

    await sign_in(client, settings, Role.editor)
    assert 'href="/desk"' in (await client.get("/")).text
    for path in ("/desk", "/desk/review", "/desk/stories"):
        assert (await client.get(path)).status_code == 200, path
    desk = (await client.get("/desk")).text
    assert "Claims waiting for review: 1" in desk
    review = (await client.get("/desk/review")).text
    assert '<a href="/desk/review" aria-current="page">' in review
    assert "style=" not in review  # the CSP forbids inline styles: desk.css is linked
    assert "/static/desk.css?v=" in review
    assert 'href="/desk/sources"' not in desk
    for path in admin_only:
        page = await client.get(path)
        assert page.status_code == 403, path
        assert "for admins only" in page.text

    await sign_in(client, settings, Role.admin)
    for path in ("/desk", "/desk/review", "/desk/stories", *admin_only):
        assert (await client.get(path)).status_code == 200, path
    # Korean: the desk's strings come from desk.ko.json.
    korean = await client.get("/desk/users", headers={"accept-language": "ko"})
    assert "사용자와 권한" in korean.text
    assert "편집 데스크" in korean.text


async def test_an_editor_confirms_and_overturns_verdicts_with_notes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    desk = await seed(settings)
    token = await sign_in(client, settings, Role.editor)
    queue = (await client.get("/desk/review")).text
    assert CLAIM in queue
    assert "62%" in queue
    assert "low confidence" in queue
    # The evidence's side of the conflict is marked, as on the listener's story page.
    assert "Drivers accepted a <mark>5.5 percent</mark> pay rise" in queue

    no_csrf = await client.post(f"/desk/review/{desk.claim}", data={"decision": "confirm"})
    assert no_csrf.status_code == 403
    no_verdict = await client.post(
        f"/desk/review/{desk.claim}", data={"csrf": token, "decision": "overturn", "verdict": "maybe"}
    )
    assert no_verdict.status_code == 400
    assert "pick the verdict it should have" in no_verdict.text
    assert (await client.get(f"/api/v1/claims/{desk.claim}")).json()["review"]["status"] == "pending"
    missing = await client.post("/desk/review/999999", data={"csrf": token, "decision": "confirm"})
    assert missing.status_code == 404
    assert "claim 999999 not found" in missing.text

    done = await client.post(
        f"/desk/review/{desk.claim}",
        data={"csrf": token, "decision": "overturn", "verdict": "disputed", "note": "Both figures appear."},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/desk/review?done=overturned#claim-{desk.claim}"
    claim = (await client.get(f"/api/v1/claims/{desk.claim}")).json()
    assert (claim["verdict"], claim["review"]["status"]) == ("disputed", "overturned")
    assert claim["review"]["note"] == "Both figures appear."
    after = (await client.get("/desk/review?done=overturned")).text
    assert "Verdict overturned" in after
    assert "Nothing waits for review." in after
    # The listener's story page shows the editor's verdict and note.
    story = (await client.get(f"/stories/{desk.stories[0]}")).text
    assert 'class="verdict disputed"' in story
    assert "Both figures appear." in story

    # A reviewed claim leaves the queue; its story's desk page still offers the review forms.
    story_desk = f"/desk/stories/{desk.stories[0]}"
    page = (await client.get(story_desk)).text
    assert f'action="/desk/review/{desk.claim}"' in page
    assert "<title>Bus drivers settle pay · NewsTalk</title>" in page
    assert page.count('id="claims-h"') == 1
    assert "Reviewed by an editor (overturned)" in page
    assert "Both figures appear." in page
    refused = await client.post(
        f"/desk/review/{desk.claim}",
        data={"csrf": token, "decision": "overturn", "verdict": "refuted", "next": story_desk},
    )
    assert refused.status_code == 422  # refuted is NewsTalk's own verdict: that is a confirm
    assert "use decision=confirm" in refused.text
    assert 'id="claims-h"' in refused.text
    confirm = await client.post(
        f"/desk/review/{desk.claim}",
        data={"csrf": token, "decision": "confirm", "note": "Checked the filing.", "next": story_desk},
    )
    assert confirm.status_code == 303
    assert confirm.headers["location"] == f"{story_desk}?done=confirmed#claim-{desk.claim}"
    claim = (await client.get(f"/api/v1/claims/{desk.claim}")).json()
    assert (claim["verdict"], claim["review"]["status"]) == ("refuted", "confirmed")
    # Only a story's desk page is a place to go back to.
    elsewhere = await client.post(
        f"/desk/review/{desk.claim}",
        data={"csrf": token, "decision": "confirm", "next": "https://evil.example/"},
    )
    assert elsewhere.headers["location"].startswith("/desk/review?done=confirmed")


async def test_an_editor_splits_and_merges_stories(client: httpx.AsyncClient, settings: Settings) -> None:
    desk = await seed(settings)
    token = await sign_in(client, settings, Role.editor)
    listing = (await client.get("/desk/stories")).text
    assert f'href="/desk/stories/{desk.stories[0]}"' in listing
    page = (await client.get(f"/desk/stories/{desk.stories[0]}")).text
    assert f'name="article_ids" value="{desk.articles[1]}"' in page

    nothing = await client.post(f"/desk/stories/{desk.stories[0]}/split", data={"csrf": token})
    assert nothing.status_code == 400
    assert "Tick at least one article" in nothing.text
    everything = await client.post(
        f"/desk/stories/{desk.stories[0]}/split",
        data={"csrf": token, "article_ids": [str(a) for a in desk.articles]},
    )
    assert everything.status_code == 422
    assert "at least one article in the story" in everything.text

    split = await client.post(
        f"/desk/stories/{desk.stories[0]}/split", data={"csrf": token, "article_ids": [str(desk.articles[1])]}
    )
    assert split.status_code == 303
    location = re.fullmatch(r"/desk/stories/(\d+)\?done=split", split.headers["location"])
    assert location, split.headers["location"]
    new_id = int(location.group(1))
    moved = (await client.get(f"/api/v1/stories/{new_id}")).json()
    assert [e["article_id"] for e in moved["timeline"]] == [desk.articles[1]]

    itself = await client.post(
        f"/desk/stories/{desk.stories[0]}/merge", data={"csrf": token, "story_id": str(desk.stories[0])}
    )
    assert itself.status_code == 422
    assert "cannot be merged into itself" in itself.text
    bad = await client.post(f"/desk/stories/{desk.stories[0]}/merge", data={"csrf": token, "story_id": "x"})
    assert bad.status_code == 400
    merged = await client.post(
        f"/desk/stories/{desk.stories[0]}/merge", data={"csrf": token, "story_id": str(desk.stories[1])}
    )
    assert merged.status_code == 303
    assert (await client.get(f"/api/v1/stories/{desk.stories[1]}")).json()["merged_into"] == desk.stories[0]
    # The merged story's desk page leads to the one kept.
    gone = await client.get(f"/desk/stories/{desk.stories[1]}")
    assert gone.headers["location"] == f"/desk/stories/{desk.stories[0]}"
    assert (await client.get("/desk/stories/999999")).status_code == 404


async def test_an_admin_manages_sources_and_their_opml(client: httpx.AsyncClient, settings: Settings) -> None:
    desk = await seed(settings)
    token = await sign_in(client, settings, Role.admin)
    page = (await client.get("/desk/sources")).text
    assert "HTTP 503 from server" in page
    assert "2 failures in a row" in page
    assert "every 900 s" in page
    assert 'aria-label="Pause: Wire"' in page

    paused = await client.post(f"/desk/sources/{desk.sources[0]}/pause", data={"csrf": token})
    assert paused.status_code == 303
    source = (await client.get(f"/api/v1/sources/{desk.sources[0]}")).json()
    assert source["status"] == "paused"
    page = (await client.get("/desk/sources?done=paused")).text
    assert "Source paused." in page
    assert f'action="/desk/sources/{desk.sources[0]}/resume"' in page
    resumed = await client.post(f"/desk/sources/{desk.sources[0]}/resume", data={"csrf": token})
    assert resumed.status_code == 303
    assert (await client.get(f"/api/v1/sources/{desk.sources[0]}")).json()["status"] == "active"
    assert (
        await client.post(f"/desk/sources/{desk.sources[0]}/explode", data={"csrf": token})
    ).status_code == 404

    bad_url = await client.post("/desk/sources", data={"csrf": token, "url": "ftp://x"})
    assert bad_url.status_code == 400
    assert "must start with http" in bad_url.text
    before = await count(settings, Source)

    # An upload that is not XML: a clear error and no source added.
    for junk, why in (
        (b"name,url\nWire,https://x.example/rss\n", "not well-formed XML"),
        (b"\x89PNG", "not valid utf-8"),
    ):
        refused = await client.post(
            "/desk/sources/opml", data={"csrf": token}, files={"file": ("feeds.opml", junk, "text/x-opml")}
        )
        assert refused.status_code == 422
        assert "Nothing was imported" in refused.text
        assert why in refused.text
    assert await count(settings, Source) == before
    no_csrf = await client.post("/desk/sources/opml", files={"file": ("feeds.opml", OPML, "text/x-opml")})
    assert no_csrf.status_code == 403
    assert await count(settings, Source) == before
    empty = await client.post(
        "/desk/sources/opml", data={"csrf": token}, files={"file": ("feeds.opml", b"", "text/x-opml")}
    )
    assert empty.status_code == 400
    assert "Choose an OPML file" in empty.text

    imported = await client.post(
        "/desk/sources/opml", data={"csrf": token}, files={"file": ("feeds.opml", OPML, "text/x-opml")}
    )
    assert imported.status_code == 200
    assert "Imported: 2 added, 0 already subscribed." in imported.text
    assert await count(settings, Source) == before + 2

    export = await client.get("/desk/sources/opml")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/x-opml")
    assert "attachment" in export.headers["content-disposition"]
    assert 'xmlUrl="https://wire.example.org/rss.xml"' in export.text
    assert "https://daily.example.net/feed.xml" in export.text

    removed = await client.post(f"/desk/sources/{desk.sources[1]}/remove", data={"csrf": token})
    assert removed.status_code == 303
    assert (await client.get(f"/api/v1/sources/{desk.sources[1]}")).status_code == 404


async def test_an_admin_retries_dead_letters_and_changes_roles(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    desk = await seed(settings)
    listener = await make_account(settings, Role.listener, "jiwoo@example.org")
    token = await sign_in(client, settings, Role.admin)
    page = (await client.get("/desk/dead")).text
    assert "RuntimeError: model timed out" in page
    assert "No dead letters" in (await client.get("/desk/dead?stage=audio")).text
    retried = await client.post(f"/desk/dead/{desk.dead_job}/retry", data={"csrf": token})
    assert retried.status_code == 303
    assert "No dead letters" in (await client.get("/desk/dead?done=retried")).text
    again = await client.post(f"/desk/dead/{desk.dead_job}/retry", data={"csrf": token})
    assert again.status_code == 404
    assert f"no dead job with id {desk.dead_job}" in again.text

    users = (await client.get("/desk/users")).text
    assert "jiwoo@example.org" in users
    wrong = await client.post(f"/desk/users/{listener.id}/role", data={"csrf": token, "role": "owner"})
    assert wrong.status_code == 400
    assert "Pick one of the roles" in wrong.text
    promoted = await client.post(f"/desk/users/{listener.id}/role", data={"csrf": token, "role": "editor"})
    assert promoted.status_code == 303
    # The new editor may open the review queue at once (with their existing token).
    queue = await client.get("/api/v1/factcheck/review", headers=listener.headers)
    assert queue.status_code == 200
    forged = await client.post(f"/desk/users/{listener.id}/role", data={"csrf": "0" * 64, "role": "admin"})
    assert forged.status_code == 403
    me = await client.get("/api/v1/users", headers={"authorization": f"Bearer {listener.access_token}"})
    assert me.status_code == 403  # still an editor, not an admin
