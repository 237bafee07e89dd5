"""The ``newstalk`` command: run the service in one process or per role, manage the database and sources."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from newstalk.errors import NewsTalkError

if TYPE_CHECKING:
    from newstalk.config import Settings

T = TypeVar("T")

app = typer.Typer(
    name="newstalk",
    help="NewsTalk: a self-hosted AI newsroom. `newstalk up` runs everything in one process.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Database schema: upgrade to the code's version or show the current one.",
    no_args_is_help=True,
)
sources_app = typer.Typer(
    help="Subscribe to feeds, list, remove, import and export OPML.", no_args_is_help=True
)
feeds_app = typer.Typer(help="Fetch and parse feeds without storing anything.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(sources_app, name="sources")
eval_app = typer.Typer(
    help="Measure quality on public data sets; prints one table, or JSON.", no_args_is_help=True
)
users_app = typer.Typer(help="Accounts: bootstrap an admin, change roles, list users.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(users_app, name="users")
app.add_typer(eval_app, name="eval")
search_app = typer.Typer(help="The search index: rebuild it.", no_args_is_help=True)
app.add_typer(search_app, name="search")

HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit; never a traceback."""
    typer.echo(f"newstalk: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    from newstalk.config import load_settings

    try:
        return load_settings(**overrides)
    except NewsTalkError as exc:
        fail(exc.detail, 2)


def setup_logging(settings: Settings, role: str = "up") -> None:
    """Redacted logs (text or JSON lines) and, when an OTLP endpoint is set, traces."""
    import atexit

    from newstalk.kit import tracing
    from newstalk.kit.logs import JsonFormatter, install_redaction

    install_redaction()
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
        # uvicorn's loggers get the same handler (its own ones print plain text).
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers = [handler]
            logging.getLogger(name).propagate = False
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    try:
        endpoint = tracing.endpoint_of(settings.otel_endpoint)
        if tracing.configure(endpoint, service=settings.otel_service_name, role=role):
            atexit.register(tracing.shutdown)
    except tracing.TracingUnavailable as exc:
        fail(str(exc), 2)
    # One line per fetch is noise at INFO; fetch outcomes are in metrics and source health.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning NewsTalkError into a one-line message."""
    import asyncio

    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except NewsTalkError as exc:
        fail(exc.detail)


def _this_command() -> str:
    """How to run this command again: ``newstalk`` when that is on PATH, else the path it was run by
    (``.venv/bin/newstalk`` after ``scripts/up``)."""
    import os
    import shutil

    invoked = sys.argv[0]
    if os.sep not in invoked or shutil.which("newstalk") == os.path.abspath(invoked):
        return "newstalk"
    relative = os.path.relpath(invoked)
    return invoked if relative.startswith("..") else relative


def ensure_migrated(settings: Settings, *, auto: bool) -> None:
    """Upgrade (embedded) or refuse to start (production roles) when the schema is behind."""
    from newstalk.kit import migrate

    if auto:
        migrate.upgrade(settings.sync_database_url)
        return
    try:
        current, head = migrate.schema_revisions(settings.sync_database_url)
    except Exception as exc:
        fail(f"database: cannot connect ({type(exc).__name__}); check NEWSTALK_DATABASE_URL")
    if current != head:
        fail(f"database: schema at {current}, code needs {head}; run 'newstalk db upgrade' first")


def _graceful_server(config: Any) -> Any:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """Shuts down gracefully on SIGTERM/SIGINT and exits 0 (uvicorn re-raises the signal)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # Long-lived responses (the SSE stream) end now instead of holding the shutdown open.
            for hook in getattr(getattr(self.config.app, "state", None), "exit_hooks", ()):
                hook()

    return GracefulServer(config)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options: X-Forwarded-* believed only from NEWSTALK_TRUSTED_PROXIES."""
    trusted = settings.trusted_proxies.strip()
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def limit_malloc_arenas(settings: Settings) -> None:
    """Cap glibc's malloc arenas (``NEWSTALK_MALLOC_ARENA_MAX``) before any thread allocates."""
    from newstalk.kit.memory import limit_arenas

    limit_arenas(settings.malloc_arena_max)


def serve(settings: Settings, host: str, port: int, *, run_pipeline: bool, demo: bool = False) -> None:
    import uvicorn

    from newstalk.main import create_app

    limit_malloc_arenas(settings)

    application = create_app(settings, run_pipeline=run_pipeline, demo=demo)
    # JSON logs: keep the handlers setup_logging gave uvicorn's loggers.
    extra: dict[str, Any] = {"log_config": None} if settings.log_format == "json" else {}
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        **extra,
        **proxy_options(settings),
        timeout_graceful_shutdown=int(settings.fetch_timeout_s) + 10,
    )
    _graceful_server(config).run()


@app.command()
def up(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    demo: Annotated[
        bool, typer.Option(help="Also serve sample Korean and English feeds and subscribe to them.")
    ] = False,
) -> None:
    """Run everything in one process: API, scheduler and every pipeline stage (SQLite by default)."""
    overrides: dict[str, Any] = {"allow_private_networks": True} if demo else {}
    if demo:
        overrides["public_url"] = f"http://{host}:{port}"
    settings = settings_or_exit(**overrides)
    setup_logging(settings)
    ensure_migrated(settings, auto=True)
    base = f"http://{host}:{port}"
    typer.echo(f"newstalk: web app: {base}/", err=True)
    if demo:
        from newstalk.demo import subscribe_demo_feeds

        added = run_async(lambda: subscribe_demo_feeds(settings, base))
        typer.echo(
            f"newstalk: demo feeds subscribed ({added} new); articles appear at {base}/api/v1/news",
            err=True,
        )
        typer.echo(
            "newstalk: to use the editors' desk at /desk, make an admin from this folder in another"
            f" terminal: {_this_command()} users create-admin you@example.org (it asks for a password)",
            err=True,
        )
    typer.echo(f"newstalk: API docs at {base}/docs", err=True)
    serve(settings, host, port, run_pipeline=True, demo=demo)


@app.command()
def api(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Run the HTTP API only (scale it out; run workers and one scheduler beside it)."""
    settings = settings_or_exit()
    setup_logging(settings, "api")
    ensure_migrated(settings, auto=False)
    serve(settings, host, port, run_pipeline=False)


MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        help="Serve Prometheus /metrics on this port of NEWSTALK_METRICS_HOST (default 127.0.0.1; "
        "0: none; default NEWSTALK_METRICS_PORT; the API serves the shared gauges).",
        min=0,
        max=65535,
    ),
]


def _run_roles(
    settings: Settings,
    stages: list[str] | None,
    scheduler: bool,
    metrics_port: int | None = None,
    relay: bool | None = None,
) -> None:
    import asyncio

    from newstalk import __version__
    from newstalk.kit import metrics
    from newstalk.pipeline.runner import start_pipeline
    from newstalk.runtime import Services

    limit_malloc_arenas(settings)
    metrics.BUILD_INFO.labels(__version__).set(1)
    port = settings.metrics_port if metrics_port is None else metrics_port
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr=settings.metrics_host, registry=metrics.REGISTRY)

    async def main() -> None:
        services = Services.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = start_pipeline(services, stop, stages=stages, scheduler=scheduler, relay=relay)
        try:
            await stop.wait()
            logging.getLogger("newstalk").info("stopping: finishing in-flight jobs, releasing the rest")
            await asyncio.wait(tasks, timeout=settings.fetch_timeout_s + 10)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.aclose()

    asyncio.run(main())


@app.command()
def worker(
    stage: Annotated[
        str, typer.Argument(help="A stage name (collect, extract, stories, ...), 'all', or 'relay'.")
    ],
    metrics_port: MetricsPortOpt = None,
) -> None:
    """Run one pipeline stage (or all of them) until SIGTERM.

    'relay' runs only the Kafka outbox relay and dead-letter sink (NEWSTALK_BUS=kafka); every
    worker process on Kafka runs one too, and one of them at a time publishes.
    """
    from newstalk.pipeline.stages import STAGE_NAMES as names

    settings = settings_or_exit()
    if stage not in (*names, "all", "relay"):
        fail(f"worker: unknown stage {stage!r}; choose one of {', '.join(names)}, 'all' or 'relay'", 2)
    if stage == "relay" and settings.bus != "kafka":
        fail("worker relay: the outbox relay is for NEWSTALK_BUS=kafka; the queue table needs none", 2)
    setup_logging(settings, "worker")
    ensure_migrated(settings, auto=False)
    if stage == "relay":
        _run_roles(settings, [], scheduler=False, metrics_port=metrics_port, relay=True)
        return
    _run_roles(settings, None if stage == "all" else [stage], scheduler=False, metrics_port=metrics_port)


@app.command()
def scheduler(metrics_port: MetricsPortOpt = 0) -> None:
    """Run the scheduler (exactly one per deployment): enqueue polls for due sources."""
    settings = settings_or_exit()
    setup_logging(settings, "scheduler")
    ensure_migrated(settings, auto=False)
    _run_roles(settings, [], scheduler=True, metrics_port=metrics_port)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema."""
    from newstalk.kit import migrate

    settings = settings_or_exit()
    try:
        migrate.upgrade(settings.sync_database_url, revision)
    except Exception as exc:
        fail(f"db upgrade: {type(exc).__name__}: {exc}".splitlines()[0])
    typer.echo(f"database at {migrate.current_revision(settings.sync_database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the code's."""
    from newstalk.kit import migrate

    settings = settings_or_exit()
    try:
        current = migrate.current_revision(settings.sync_database_url)
    except Exception as exc:
        fail(f"db current: cannot connect ({type(exc).__name__}); check NEWSTALK_DATABASE_URL")
    head = migrate.head_revision()
    typer.echo(
        f"database: {current or 'empty'}  code: {head}  {'(current)' if current == head else '(run newstalk db upgrade)'}"
    )


async def _with_services(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from newstalk.runtime import Services

    services = Services.build(settings)
    try:
        return await fn(services)
    finally:
        await services.aclose()


async def _with_database(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(db)`` with only the database open: read-only commands need no fetcher, queue or pools."""
    from newstalk.kit.db import Database

    db = Database.open(settings.async_database_url)
    try:
        return await fn(db)
    finally:
        await db.dispose()


def _source_line(s: Any, *, polling: bool = False) -> str:
    state = s.status if s.status == "active" else f"{s.status}: {s.paused_reason or ''}"
    line = f"{s.id}\t{s.feed_url}\t{s.title}\t{state}"
    # `sources list` adds the poll interval and why (source health has the same fields).
    return f"{line}\tpolled every {s.fetch_interval_s} s: {s.poll_reason or 'adaptive'}" if polling else line


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="Feed URL, or a web page that links to its feed.")],
    title: Annotated[str | None, typer.Option(help="Display name (default: the feed's title).")] = None,
    category: Annotated[str | None, typer.Option(help="Category, e.g. economy.")] = None,
    language: Annotated[str | None, typer.Option(help="Language hint, e.g. ko or en.")] = None,
    full_text: Annotated[
        bool, typer.Option(help="The feed has summaries only: fetch each article page.")
    ] = False,
    interval: Annotated[
        int | None,
        typer.Option(
            "--interval",
            help="Poll every N seconds (at least NEWSTALK_POLL_MIN_S); default: adaptive, "
            "at least every NEWSTALK_FRESHNESS_S.",
        ),
    ] = None,
) -> None:
    """Subscribe to a feed (fetched once now to check it and find its title)."""
    from newstalk.sources import service

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    async def go(services: Any) -> str:
        async with services.db.unit() as uow:
            source = await service.add_source(
                uow,
                settings,
                services.fetcher,
                url=url,
                title=title,
                category=category,
                language=language,
                full_text=full_text,
                poll_interval_s=interval,
            )
        return _source_line(source)

    typer.echo(run_async(lambda: _with_services(settings, go)))


@sources_app.command("list")
def sources_list() -> None:
    """List sources: id, feed URL, title, status, poll interval and why."""
    from newstalk.sources.listing import list_sources

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)
    for source in list_sources(settings.sync_database_url):
        typer.echo(_source_line(source, polling=True))


@sources_app.command("remove")
def sources_remove(
    source_id: Annotated[int, typer.Argument(help="The source's id (see `sources list`).")],
) -> None:
    """Unsubscribe and delete the source's articles."""
    from newstalk.sources import service

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    async def go(services: Any) -> None:
        async with services.db.unit() as uow:
            await service.delete_source(uow, source_id)

    run_async(lambda: _with_services(settings, go))
    typer.echo(f"removed source {source_id}")


@sources_app.command("import-opml")
def sources_import_opml(
    path: Annotated[Path, typer.Argument(help="An OPML file.", exists=True, dir_okay=False)],
) -> None:
    """Subscribe to every feed in an OPML file; already subscribed ones are skipped."""
    from newstalk.sources import service
    from newstalk.sources.opml import parse_opml

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)
    try:
        outlines = parse_opml(path.read_bytes())
    except NewsTalkError as exc:
        fail(exc.detail)

    async def go(services: Any) -> tuple[int, int, list[str]]:
        async with services.db.unit() as uow:
            return await service.import_outlines(uow, settings, outlines)

    added, skipped, errors = run_async(lambda: _with_services(settings, go))
    for err in errors:
        typer.echo(f"newstalk: {err}", err=True)
    typer.echo(f"added {added}, skipped {skipped} already subscribed, {len(errors)} invalid")


@sources_app.command("export-opml")
def sources_export_opml(
    path: Annotated[
        Path | None, typer.Argument(help="Write here instead of standard output.", dir_okay=False)
    ] = None,
) -> None:
    """Write every source as OPML 2.0."""
    from newstalk.sources import service
    from newstalk.sources.opml import render_opml

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    async def go(services: Any) -> bytes:
        async with services.db.read() as session:
            return render_opml(await service.export_outlines(session), title="NewsTalk sources")

    data = run_async(lambda: _with_services(settings, go))
    if path is None:
        sys.stdout.buffer.write(data)
    else:
        path.write_bytes(data)


def _read_password(password_file: Path | None) -> str:
    """From a file (first line) or prompted twice without echo."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            fail(f"users: cannot read {password_file}: {exc.strerror}")
        if not lines or not lines[0]:
            fail(f"users: {password_file} is empty; put the password on its first line")
        return lines[0]
    if not sys.stdin.isatty():
        fail("users: no terminal to prompt for a password; pass --password-file FILE")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != first:
        fail("users: the passwords differ")
    return str(first)


@users_app.command("create-admin")
def users_create_admin(
    email: Annotated[str, typer.Argument(help="The admin's email address (their login).")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from the first line of this file instead of prompting."),
    ] = None,
) -> None:
    """Create the first (or another) admin account."""
    from newstalk.accounts import service

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)
    password = _read_password(password_file)

    async def go(services: Any) -> str:
        async with services.db.unit() as uow:
            user = await service.create_admin(uow, email=email, password=password)
        return f"created admin {user.id} {user.email}"

    typer.echo(run_async(lambda: _with_services(settings, go)))


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    role: Annotated[str, typer.Argument(help="listener, editor or admin.")],
) -> None:
    """Change an account's role; it applies from the account's next request."""
    from newstalk.accounts import service
    from newstalk.accounts.models import Role

    if role not in Role.__members__:
        fail(f"users: no role {role!r}; use listener, editor or admin", 2)
    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    async def go(services: Any) -> str:
        async with services.db.unit() as uow:
            user = await service.set_role_by_email(uow, email, Role(role))
        # API processes subscribed to Redis drop the account's cached principals now;
        # without Redis they do within NEWSTALK_AUTH_CACHE_TTL_S.
        await services.principal_fanout.publish(user_id=user.id)
        return f"{user.email} is now {user.role}"

    typer.echo(run_async(lambda: _with_services(settings, go)))


@search_app.command("reindex")
def search_reindex(
    batch: Annotated[int, typer.Option(help="Articles per transaction.", min=1, max=10000)] = 500,
) -> None:
    """Rebuild the search index from every article and open story (the pipeline keeps it current)."""
    from newstalk.search.service import reindex

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    def progress(what: str, done: int, total: int, elapsed: float) -> None:
        typer.echo(f"search: {what} {done}/{total} ({done / max(elapsed, 1e-9):.0f}/s)", err=True)

    async def go(services: Any) -> int:
        return await reindex(services.db, batch=batch, progress=progress)

    written = run_async(lambda: _with_services(settings, go))
    typer.echo(f"search: indexed {written} documents")


@users_app.command("list")
def users_list() -> None:
    """List accounts: id, email, role, created."""
    from newstalk.accounts import repository

    settings = settings_or_exit()
    ensure_migrated(settings, auto=False)

    async def go(db: Any) -> list[str]:
        async with db.read() as session:
            users = await repository.list_users(session, after_id=None, limit=1_000_000)
        return [f"{u.id}\t{u.email}\t{u.role}\t{u.created_at:%Y-%m-%d}" for u in users]

    for line in run_async(lambda: _with_database(settings, go)):
        typer.echo(line)


@feeds_app.command("check")
def feeds_check(
    targets: Annotated[list[str], typer.Argument(help="Feed URLs or files.")],
) -> None:
    """Fetch and parse feeds, print their items as JSON lines; store nothing. Exit 1 if any failed."""
    import asyncio

    from newstalk.ingestion.process import parse_and_normalize
    from newstalk.kit.db import utcnow
    from newstalk.runtime import build_fetcher

    settings = settings_or_exit()

    async def go() -> int:
        failures = 0
        fetcher = build_fetcher(settings)
        try:
            for target in targets:
                try:
                    if "://" in target:
                        result = await fetcher.fetch(target)
                        body, url, ctype = result.body, result.url, result.content_type
                    else:
                        body, url = await asyncio.to_thread(_read_feed_file, target, settings.fetch_max_bytes)
                        ctype = None
                    feed, items = await asyncio.to_thread(
                        parse_and_normalize,
                        body,
                        url=url,
                        content_type=ctype,
                        first_seen_at=utcnow(),
                    )
                except NewsTalkError as exc:
                    failures += 1
                    typer.echo(f"newstalk: feeds check: {target}: {exc.detail}", err=True)
                    continue
                except Exception as exc:  # a bug must still be one line per bad feed, never a traceback
                    failures += 1
                    typer.echo(
                        f"newstalk: feeds check: {target}: unexpected {type(exc).__name__}: {exc}".splitlines()[
                            0
                        ],
                        err=True,
                    )
                    continue
                for a in items:
                    sys.stdout.write(
                        json.dumps(
                            {
                                "feed": target,
                                "feed_title": feed.title,
                                "url": a.url,
                                "title": a.title,
                                "published_at": a.published_at.isoformat(),
                                "language": a.language,
                                "author": a.author,
                                "content_hash": a.content_hash,
                                "summary": a.summary,
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
        finally:
            await fetcher.aclose()
        return failures

    failures = asyncio.run(go())
    if failures:
        raise typer.Exit(1)


@eval_app.command("stories")
def eval_stories(
    path: Annotated[Path, typer.Argument(help="A data file or folder in the chosen format.", exists=True)],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="bbc: JSONL with title/body (duplicate pairs); uci: UCI News Aggregator CSV (story "
            "clusters, B-cubed); fnc1: folder with stances.jsonl + bodies.jsonl (related vs unrelated).",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Evaluate near-duplicate detection and story clustering on a labelled data set."""
    evaluators = {
        "bbc": "newstalk.stories.evaluate.bbc:evaluate_bbc",
        "uci": "newstalk.stories.evaluate.uci:evaluate_uci",
        "fnc1": "newstalk.stories.evaluate.fnc1:evaluate_fnc1",
    }
    if fmt not in evaluators:
        fail(f"eval stories: --format must be one of {', '.join(evaluators)}", 2)
    import importlib

    module, _, name = evaluators[fmt].partition(":")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    evaluate = getattr(importlib.import_module(module), name)
    result = run_evaluation(lambda: evaluate(path), f"eval stories: {path} is not a readable {fmt} data set")
    print_result(f"stories ({fmt}) on {path}", result, as_json=as_json)


@eval_app.command("category")
def eval_category(
    path: Annotated[
        Path, typer.Argument(help="An ag_news-format CSV (class index, title, description).", exists=True)
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Accuracy of the story category classifier; on its own training file only held-out rows count."""
    from newstalk.providers.embeddings import build_embeddings
    from newstalk.stories.category import CategoryClassifier, evaluate_ag_news

    settings = settings_or_exit()
    result = run_evaluation(
        lambda: evaluate_ag_news(path, CategoryClassifier.load(), build_embeddings(settings)),
        f"eval category: {path} is not a readable ag_news CSV",
    )
    if not result.get("n"):
        fail(f"eval category: {path} has no labelled rows (expected: class index 1-4, title, description)")
    print_result(f"category on {path}", result, as_json=as_json)


@eval_app.command("factcheck")
def eval_factcheck(
    path: Annotated[Path, typer.Argument(help="A data file, or an FNC-1 folder.", exists=True)],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="fnc1: folder with stances.jsonl + bodies.jsonl; fever: JSON lines claim/evidence/label; "
            "climate-fever: Climate-FEVER JSON lines; nli-tsv: sentence1/sentence2/gold_label TSV; "
            "klue-json: the KLUE-NLI JSON list.",
        ),
    ],
    cache: Annotated[
        Path | None,
        typer.Option(help="Folder for an on-disk embedding cache (re-runs are fast); none by default."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Accuracy of the local verifier; pairs it trained on are scored by the fold model that never saw them."""
    from newstalk.training.factcheck.datasets import FORMATS

    if fmt not in FORMATS:
        fail(f"eval factcheck: --format must be one of {', '.join(FORMATS)}", 2)
    from newstalk.factcheck.features import DiskCachedEncoder, Encoder
    from newstalk.factcheck.verifiers.local import VerifierModel
    from newstalk.providers.embeddings import build_embeddings
    from newstalk.training.factcheck.evaluate import evaluate

    settings = settings_or_exit()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def run() -> dict[str, Any]:
        encoder: Encoder = build_embeddings(settings)
        if cache is not None:
            encoder = DiskCachedEncoder(encoder, cache, getattr(encoder, "name", "embeddings"))
        return evaluate(path, fmt, VerifierModel.load(), encoder)

    result = run_evaluation(run, f"eval factcheck: {path} is not a readable {fmt} data set")
    print_result(f"factcheck ({fmt}) on {path}", result, as_json=as_json)


@eval_app.command("verdicts")
def eval_verdicts(
    data: Annotated[
        Path,
        typer.Argument(
            help="The shared factcheck folder (climate-fever/ and fnc-1-dev/ inside).",
            exists=True,
            file_okay=False,
        ),
    ],
    limit: Annotated[
        int, typer.Option(help="Claims (FNC-1: headline-body pairs) per data set.", min=10)
    ] = 300,
    skip: Annotated[
        int, typer.Option(help="Start this far into the hash order (a sample no one has looked at).", min=0)
    ] = 0,
    fit: Annotated[
        bool,
        typer.Option(
            "--fit",
            help="Fit the shipped confidence calibration on the calibration half first "
            "(writes src/newstalk/factcheck/data/calibration.json).",
        ),
    ] = False,
    cache: Annotated[
        Path | None,
        typer.Option(help="Folder for an on-disk embedding cache (re-runs are fast); none by default."),
    ] = None,
    records: Annotated[
        Path | None, typer.Option(help="Write every verdict (both halves) to this JSON-lines file.")
    ] = None,
    both_halves: Annotated[
        bool,
        typer.Option(
            "--both-halves", help="Report on both halves (a sample the calibration was not fitted on)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Verdicts on the product path (retrieved evidence, as the API): precision, abstention, calibration."""
    from newstalk.factcheck.checker import Checker
    from newstalk.factcheck.features import DiskCachedEncoder, Encoder, LruEncoder
    from newstalk.factcheck.verifiers.local import LocalVerifier
    from newstalk.providers.embeddings import build_embeddings
    from newstalk.training.factcheck.verdict_eval import evaluate_verdicts

    settings = settings_or_exit()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def run() -> dict[str, Any]:
        base: Encoder = build_embeddings(settings)
        if cache is not None:
            base = DiskCachedEncoder(base, cache, getattr(base, "name", "embeddings"))
        encoder = LruEncoder(base)
        verifier = LocalVerifier(encoder, held_out=True)
        result = evaluate_verdicts(
            Checker(verifier, encoder),
            data,
            limit,
            fit=fit,
            records_path=records,
            skip=skip,
            both_halves=both_halves,
        )
        result["pairs_judged_by_fold_model"] = verifier.fold_judged
        return result

    result = run_evaluation(run, f"eval verdicts: {data} is not the shared factcheck folder")
    if as_json:
        print_result("", result, as_json=True)
        return
    table = result.pop("reliability")
    print_result(f"verdicts on the product path, {data}", result, as_json=False)
    typer.echo("\n| confidence bin | verdicts | mean confidence | accuracy |\n|---|---|---|---|")
    for row in table:
        typer.echo(f"| {row['bin']} | {row['n']} | {row['confidence']:.3f} | {row['accuracy']:.3f} |")


@eval_app.command("speech")
def eval_speech(
    path: Annotated[
        Path, typer.Argument(help="A text file, one sentence per line.", exists=True, dir_okay=False)
    ],
    voice: Annotated[
        list[str] | None,
        typer.Option(
            help="A character (anchor, host, narrator, reporter, storyteller) or all; repeat for several."
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="en or ko.")] = "en",
    start: Annotated[int, typer.Option(min=1, help="First sentence to use, counted from 1.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="How many sentences from --start.")] = None,
    recognizer: Annotated[
        list[str] | None,
        typer.Option(
            help="whisper-base, tiny.en (en) or vosk-ko (ko); repeat for several. Default: all for the language."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (one object, or a list for several voices).")
    ] = False,
) -> None:
    """Intelligibility of voices as shipped: product normalizer, renderer and Opus, then speech recognizers (WER/CER)."""
    from newstalk.speech.evaluate import evaluate_speech, format_result
    from newstalk.speech.voices import VOICES

    voices = list(VOICES) if voice and "all" in voice else voice or ["anchor"]
    for key in voices:
        if key not in VOICES:
            fail(f"eval speech: unknown voice {key!r}; choose one of {', '.join(VOICES)} or all", 2)
    if lang not in ("en", "ko"):
        fail("eval speech: --lang must be en or ko", 2)
    results = []
    try:
        for key in voices:
            results.append(
                evaluate_speech(path, voice=key, lang=lang, recognizers=recognizer, start=start, limit=limit)
            )
    except NewsTalkError as exc:
        fail(exc.detail)
    except (OSError, ValueError) as exc:
        fail(f"eval speech: {path}: {type(exc).__name__}: {exc}".splitlines()[0])
    if as_json:
        doc: object = results[0] if len(results) == 1 else results
        typer.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    else:
        typer.echo("\n\n".join(format_result(r) for r in results))


@eval_app.command("feed")
def eval_feed(
    data: Annotated[
        Path, typer.Option(help="The shared news data folder.", exists=True, file_okay=False)
    ] = Path("../shared/data/news"),
    seed: Annotated[int, typer.Option(help="Seed for listeners, timeline and responses.")] = 7,
    listeners: Annotated[int, typer.Option(min=10, max=100_000)] = 600,
    days: Annotated[int, typer.Option(min=2, max=60)] = 10,
    eval_days: Annotated[int, typer.Option(min=1, help="Last days held out for scoring.")] = 3,
    per_source: Annotated[int, typer.Option(min=20, help="Stories taken from each data set.")] = 400,
    cache: Annotated[
        Path | None, typer.Option(help="Folder to keep the story embeddings in between runs.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """SIMULATED listeners over real stories: nDCG@10 and AUC of the feed against recency, popularity, random."""
    from newstalk.feed.evaluate import evaluate_feed, format_result
    from newstalk.providers.embeddings import build_embeddings

    if eval_days >= days:
        fail("eval feed: --eval-days must be smaller than --days", 2)
    settings = settings_or_exit()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = run_evaluation(
        lambda: evaluate_feed(
            data,
            build_embeddings(settings),
            seed=seed,
            listeners=listeners,
            days=days,
            eval_days=eval_days,
            per_source=per_source,
            cache=cache,
        ),
        f"eval feed: {data} does not hold the shared news data sets",
    )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    else:
        typer.echo(format_result(result))


@eval_app.command("pipeline")
def eval_pipeline(
    stream: Annotated[
        Path, typer.Argument(help="A labelled stream (JSONL, see docs/evaluation.md).", exists=True)
    ],
    waves: Annotated[
        int, typer.Option(min=1, max=100, help="Reveal the stream in this many chronological waves.")
    ] = 4,
    database_url: Annotated[
        str | None, typer.Option(help="Run on this (empty) database instead of a fresh SQLite file.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=10, help="Give up after this many seconds per wait.")] = 3600,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """PRODUCT PATH: serve a labelled stream as RSS, run `newstalk up` on it, score what the API returns."""
    from newstalk.replay.run import run_pipeline_eval
    from newstalk.replay.stream import read_stream

    data = read_stream(stream)
    if data.skipped:
        typer.echo(f"eval pipeline: skipped {data.skipped} malformed rows: {data.skip_reasons}", err=True)

    def run() -> dict[str, Any]:
        result = run_pipeline_eval(
            data.items,
            waves=waves,
            database_url=database_url,
            timeout_s=timeout,
            progress=lambda msg: typer.echo(f"eval pipeline: {msg}", err=True),
        )
        return {"stream": str(stream), "skipped_rows": data.skipped, **result}

    try:
        result = run_evaluation(run, f"eval pipeline: {stream} could not be replayed")
    except RuntimeError as exc:
        fail(str(exc))
    print_result(f"pipeline (product path) on {stream}", result, as_json=as_json)


@eval_app.command("stream")
def eval_stream(
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the JSONL stream here.")],
    uci: Annotated[Path | None, typer.Option(help="UCI News Aggregator CSV.", exists=True)] = None,
    fnc1: Annotated[
        Path | None, typer.Option(help="FNC-1 folder (stances.jsonl, bodies.jsonl).", exists=True)
    ] = None,
    fnc1_events: Annotated[int | None, typer.Option(min=1, help="Take the first N FNC-1 events.")] = None,
    ko_en: Annotated[
        Path | None, typer.Option(help="Parallel file prefix (PREFIX.ko and PREFIX.en).")
    ] = None,
    ko_en_start: Annotated[int, typer.Option(min=0, help="First parallel line.")] = 0,
    ko_en_events: Annotated[int | None, typer.Option(min=1, help="Parallel lines to read.")] = None,
    ko_en_stride: Annotated[
        int, typer.Option(min=1, help="Take every Nth line (neighbours are sentences of one article).")
    ] = 1,
    demo: Annotated[bool, typer.Option(help="The demo's own articles, labelled by event.")] = False,
) -> None:
    """Convert shared data sets into one labelled stream for `eval pipeline` (events kept apart by prefix)."""
    from datetime import timedelta

    from newstalk.replay import stream as streams

    if uci is None and fnc1 is None and ko_en is None and not demo:
        fail("eval stream: give at least one of --uci, --fnc1, --ko-en, --demo", 2)
    skipped: dict[str, int] = {}
    items: list[streams.StreamItem] = []
    if demo:
        from newstalk.demo import demo_stream

        items.extend(demo_stream())
    parts: list[list[streams.StreamItem]] = []
    if uci is not None:
        parts.append(list(streams.from_uci(uci, skipped=skipped)))
    if fnc1 is not None:
        parts.append(list(streams.from_fnc1(fnc1, limit=fnc1_events, skipped=skipped)))
    if ko_en is not None:
        parts.append(
            list(streams.from_ko_en(ko_en, start=ko_en_start, limit=ko_en_events, stride=ko_en_stride))
        )
    # Each data set onto the same day, so their events interleave instead of following each other.
    for part in parts:
        items.extend(streams.shift_to(part, streams.EPOCH + timedelta(hours=24), timedelta(hours=24)))
    n = streams.write_stream(sorted(items, key=lambda i: (i.published, i.id)), out)
    events = len({i.event for i in items})
    typer.echo(f"eval stream: wrote {n} articles in {events} events to {out}; skipped rows: {skipped or 0}")


def run_evaluation(evaluate: Callable[[], dict[str, Any]], unreadable: str) -> dict[str, Any]:
    """Run an evaluation; bad data ends in one line on stderr, never a traceback."""
    try:
        return evaluate()
    except NewsTalkError as exc:
        fail(exc.detail)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"{unreadable}: {type(exc).__name__}: {exc}".splitlines()[0])


def print_result(title: str, result: dict[str, Any], *, as_json: bool) -> None:
    """One JSON object, or a two-column markdown table."""
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    typer.echo(f"{title}\n\n| metric | value |\n|---|---|")
    for key, value in result.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        typer.echo(f"| {key} | {shown} |")


def _read_feed_file(target: str, max_bytes: int) -> tuple[bytes, str]:
    """A feed file's bytes (at most ``max_bytes``) and its file:// URL."""
    path = Path(target)
    if not path.is_file():
        raise NewsTalkError("no such file, and not a URL")
    with path.open("rb") as fh:
        body = fh.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise NewsTalkError(f"file is larger than {max_bytes} bytes (NEWSTALK_FETCH_MAX_BYTES)")
    return body, path.absolute().as_uri()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except NewsTalkError as exc:
        fail(exc.detail)
