"""`newstalk users`: bootstrap an admin as a real process, then log in as them over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.test_cli import one_line_error, run


@pytest.mark.anyio
async def test_create_admin_then_log_in(database_url: str, tmp_path: Path, client: httpx.AsyncClient) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    made = run(
        "users",
        "create-admin",
        "Root@Example.org",
        "--password-file",
        str(secret),
        cwd=tmp_path,
        database_url=database_url,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().endswith("root@example.org")

    again = run(
        "users",
        "create-admin",
        "root@example.org",
        "--password-file",
        str(secret),
        cwd=tmp_path,
        database_url=database_url,
    )
    assert again.returncode == 1
    assert "already has an account (admin)" in one_line_error(again)

    login = await client.post("/api/v1/auth/login", json={"email": "root@example.org", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "admin"
    headers = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
    assert (await client.get("/api/v1/pipeline/dead", headers=headers)).status_code == 200

    listener = await client.post(
        "/api/v1/auth/register", json={"email": "ed@example.org", "password": PASSWORD}
    )
    assert listener.status_code == 202
    promoted = run("users", "set-role", "ed@example.org", "editor", cwd=tmp_path, database_url=database_url)
    assert promoted.stdout.strip() == "ed@example.org is now editor"
    listed = run("users", "list", cwd=tmp_path, database_url=database_url).stdout.splitlines()
    assert [line.split("\t")[1:3] for line in listed] == [
        ["root@example.org", "admin"],
        ["ed@example.org", "editor"],
    ]


def test_create_admin_refuses_bad_input_in_one_line(database_url: str, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("tiny\n", encoding="utf-8")
    weak = run(
        "users",
        "create-admin",
        "a@example.org",
        "--password-file",
        str(short),
        cwd=tmp_path,
        database_url=database_url,
    )
    assert weak.returncode == 1
    assert "password must be at least 10 characters" in one_line_error(weak)
    missing = run(
        "users",
        "create-admin",
        "a@example.org",
        "--password-file",
        str(tmp_path / "nope"),
        cwd=tmp_path,
        database_url=database_url,
    )
    assert "cannot read" in one_line_error(missing)
    # No terminal and no file: says how to pass the password instead of hanging on a prompt.
    prompt = run("users", "create-admin", "a@example.org", cwd=tmp_path, database_url=database_url)
    assert "--password-file" in one_line_error(prompt)
    role = run("users", "set-role", "a@example.org", "boss", cwd=tmp_path, database_url=database_url)
    assert role.returncode == 2
    assert "no role 'boss'" in one_line_error(role)
