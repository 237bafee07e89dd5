"""The real ``newstalk`` console script, run as a subprocess against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.feedserver import FeedServer, Route, atom, items, rss

NEWSTALK = Path(sys.executable).parent / "newstalk"
FEEDS_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "feeds"
MINIFLUX = FEEDS_DIR / "miniflux" / "internal" / "reader" / "parser" / "testdata"
SMALL_ATOM = MINIFLUX / "small_atom.xml"
LARGE_RSS = MINIFLUX / "large_rss.xml"


def run(
    *args: str, cwd: Path, database_url: str | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``newstalk`` with a clean NEWSTALK_* environment (cwd without a .env)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    if database_url:
        clean["NEWSTALK_DATABASE_URL"] = database_url
    clean.update(env)
    return subprocess.run(
        [str(NEWSTALK), *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("newstalk: ")
    return lines[0]


def feed_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["up"],
        ["api"],
        ["worker"],
        ["scheduler"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["sources"],
        ["sources", "add"],
        ["sources", "list"],
        ["sources", "remove"],
        ["sources", "import-opml"],
        ["sources", "export-opml"],
        ["feeds"],
        ["feeds", "check"],
        ["users"],
        ["users", "create-admin"],
        ["users", "set-role"],
        ["users", "list"],
    ],
    ids=lambda c: " ".join(c) or "root",
)
def test_help(command: list[str], tmp_path: Path) -> None:
    proc = run(*command, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: newstalk" in proc.stdout
    assert " ".join(["newstalk", *command]) in " ".join(proc.stdout.split())
    assert proc.stderr == ""


def test_root_help_lists_every_command(tmp_path: Path) -> None:
    out = run("--help", cwd=tmp_path).stdout
    for name in ("up", "api", "worker", "scheduler", "db", "sources", "feeds", "users"):
        assert f" {name} " in out


def test_db_current_on_a_migrated_database(database_url: str, tmp_path: Path) -> None:
    proc = run("db", "current", cwd=tmp_path, database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    assert "(current)" in proc.stdout
    assert "database: empty" not in proc.stdout


def test_db_upgrade_then_current_on_a_new_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    before = run("db", "current", cwd=tmp_path, database_url=url)
    assert "database: empty" in before.stdout
    assert "run newstalk db upgrade" in before.stdout
    up = run("db", "upgrade", cwd=tmp_path, database_url=url)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("database at ")
    assert "(current)" in run("db", "current", cwd=tmp_path, database_url=url).stdout


def test_api_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    proc = run("api", "--port", "1", cwd=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    # Logging is set up first, so INFO lines from Alembic may precede the verdict.
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("newstalk: database: schema at None")
    assert "run 'newstalk db upgrade' first" in last


@pytest.mark.skipif(not SMALL_ATOM.is_file(), reason="shared feed files are not available")
def test_feeds_check_real_files(tmp_path: Path) -> None:
    proc = run("feeds", "check", str(SMALL_ATOM), str(LARGE_RSS), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = feed_lines(proc.stdout)
    by_feed = {str(SMALL_ATOM): 0, str(LARGE_RSS): 0}
    for item in lines:
        by_feed[str(item["feed"])] += 1
        assert str(item["url"]).startswith("http")
        assert item["title"]
        assert len(str(item["content_hash"])) == 64
    assert all(n > 0 for n in by_feed.values()), by_feed
    assert len({item["content_hash"] for item in lines}) == len(lines)


def test_feeds_check_bad_targets_fail_one_line_each(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 this is not a feed <<<")
    missing = tmp_path / "missing.xml"
    proc = run("feeds", "check", str(garbage), str(missing), cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(f"newstalk: feeds check: {garbage}: ")
    assert lines[1].startswith(f"newstalk: feeds check: {missing}: ")


def test_feeds_check_mixing_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.atom"
    good.write_bytes(atom("Good", items("good", 3, base_url="https://example.org")))
    proc = run("feeds", "check", str(good), str(tmp_path / "nope.xml"), cwd=tmp_path)
    assert proc.returncode == 1
    assert [i["title"] for i in feed_lines(proc.stdout)] == [
        e.title for e in items("good", 3, base_url="https://example.org")
    ]
    assert str(tmp_path / "nope.xml") in one_line_error(proc)


def test_feeds_check_url_needs_private_networks_allowed(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/f.xml"] = Route(rss("Local", items("local", 4, base_url=feed_server.url(""))))
    url = feed_server.url("/f.xml")
    ok = run("feeds", "check", url, cwd=tmp_path, NEWSTALK_ALLOW_PRIVATE_NETWORKS="true")
    assert ok.returncode == 0, ok.stderr
    got = feed_lines(ok.stdout)
    assert len(got) == 4
    assert {i["feed_title"] for i in got} == {"Local"}
    assert all("utm_source" not in str(i["url"]) for i in got)

    refused = run("feeds", "check", url, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "NEWSTALK_ALLOW_PRIVATE_NETWORKS" in one_line_error(refused)
    assert feed_server.hits["/f.xml"] == 1  # the refused fetch never reached the server


def test_sources_add_list_export_remove_import(
    database_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/a.xml"] = Route(rss("Alpha News", items("a", 2, base_url=feed_server.url(""))))
    feed_server.routes["/b.atom"] = Route(
        atom("Beta News", items("b", 2, base_url=feed_server.url(""))), "application/atom+xml"
    )
    env = {"NEWSTALK_ALLOW_PRIVATE_NETWORKS": "true"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run(*args, cwd=tmp_path, database_url=database_url, **env)
        assert proc.returncode == 0, proc.stderr
        return proc

    added = cli("sources", "add", feed_server.url("/a.xml"), "--category", "economy").stdout.strip()
    source_id, feed_url, title, state = added.split("\t")
    assert (feed_url, title, state) == (feed_server.url("/a.xml"), "Alpha News", "active")
    cli("sources", "add", feed_server.url("/b.atom"))
    listed = cli("sources", "list").stdout.strip().splitlines()
    assert [line.split("\t")[1:3] for line in listed] == [
        [feed_server.url("/a.xml"), "Alpha News"],
        [feed_server.url("/b.atom"), "Beta News"],
    ]

    again = run("sources", "add", feed_server.url("/a.xml"), cwd=tmp_path, database_url=database_url, **env)
    assert again.returncode == 1
    assert "already subscribed" in one_line_error(again)

    opml = tmp_path / "subs.opml"
    cli("sources", "export-opml", str(opml))
    exported = opml.read_text(encoding="utf-8")
    assert exported.startswith("<?xml")
    assert feed_server.url("/a.xml") in exported
    assert feed_server.url("/b.atom") in exported
    assert 'text="Alpha News"' in cli("sources", "export-opml").stdout
    for line in listed:
        assert (
            cli("sources", "remove", line.split("\t")[0]).stdout.strip()
            == f"removed source {line.split()[0]}"
        )
    assert cli("sources", "list").stdout == ""
    missing = run("sources", "remove", source_id, cwd=tmp_path, database_url=database_url)
    assert missing.returncode == 1
    assert f"no source with id {source_id}" in one_line_error(missing)

    assert (
        cli("sources", "import-opml", str(opml)).stdout.strip()
        == "added 2, skipped 0 already subscribed, 0 invalid"
    )
    relisted = cli("sources", "list").stdout.strip().splitlines()
    assert sorted(line.split("\t")[1:3] for line in relisted) == sorted(
        line.split("\t")[1:3] for line in listed
    )
    assert (
        cli("sources", "import-opml", str(opml)).stdout.strip()
        == "added 0, skipped 2 already subscribed, 0 invalid"
    )


def test_worker_with_an_unknown_stage(tmp_path: Path) -> None:
    proc = run("worker", "nonsense", cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "unknown stage 'nonsense'" in line
    assert "collect" in line
    assert "'all'" in line
    assert "'relay'" in line


def test_worker_relay_needs_kafka_and_kafka_needs_servers(tmp_path: Path) -> None:
    proc = run("worker", "relay", cwd=tmp_path)
    assert proc.returncode == 2
    assert "NEWSTALK_BUS=kafka" in one_line_error(proc)
    proc = run("worker", "relay", cwd=tmp_path, NEWSTALK_BUS="kafka")
    assert proc.returncode != 0
    assert "NEWSTALK_KAFKA_BOOTSTRAP_SERVERS" in proc.stderr


def test_sources_add_with_an_interval_and_list_shows_why(
    database_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/slow.xml"] = Route(rss("Slow News", items("slow", 2, base_url=feed_server.url(""))))
    env = {"NEWSTALK_ALLOW_PRIVATE_NETWORKS": "true"}
    too_fast = run(
        "sources",
        "add",
        feed_server.url("/slow.xml"),
        "--interval",
        "5",
        cwd=tmp_path,
        database_url=database_url,
        **env,
    )
    assert too_fast.returncode == 1
    assert "politeness floor" in one_line_error(too_fast)
    added = run(
        "sources",
        "add",
        feed_server.url("/slow.xml"),
        "--interval",
        "3600",
        cwd=tmp_path,
        database_url=database_url,
        **env,
    )
    assert added.returncode == 0, added.stderr
    listed = run("sources", "list", cwd=tmp_path, database_url=database_url, **env)
    assert listed.stdout.strip().split("\t")[4] == "polled every 3600 s: set by source"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_worker_serves_its_metrics_with_metrics_port(database_url: str, tmp_path: Path, how: str) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env["NEWSTALK_DATABASE_URL"] = database_url
    args = [str(NEWSTALK), "worker", "live"]
    if how == "flag":
        args += ["--metrics-port", str(port)]
    else:  # how Kubernetes sets it (deploy/k8s/base/config.yaml)
        env["NEWSTALK_METRICS_PORT"], env["NEWSTALK_METRICS_HOST"] = str(port), "127.0.0.1"
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    text = resp.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "newstalk_build_info{version=" in text, f"worker exited {proc.poll()}"
        assert "newstalk_stage_jobs_total" in text
        assert "process_cpu_seconds_total" in text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_desk_hint_names_the_command_as_it_can_be_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newstalk.cli import _this_command

    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    exe = venv_bin / "newstalk"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(exe), "up"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # scripts/up runs .venv/bin/newstalk, not on PATH
    assert _this_command() == os.path.join(".venv", "bin", "newstalk")
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # an activated virtualenv
    assert _this_command() == "newstalk"
    monkeypatch.setattr(sys, "argv", ["newstalk", "up"])
    assert _this_command() == "newstalk"
