"""kit's object store and pub/sub as a domain without rules of its own would use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newstalk.errors import InvalidInput, NotFound
from newstalk.kit.objectstore import LocalObjectStore, ObjectStore
from newstalk.kit.pubsub import Broadcaster, Codec, MemoryBroadcaster, build_broadcaster


def test_local_object_store_round_trip_and_refuses_keys_that_leave_its_folder(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    assert isinstance(store, ObjectStore)
    store.put("report-1.json", b'{"a": 1}', "application/json")
    assert store.exists("report-1.json")
    assert store.size("report-1.json") == 8
    assert store.open_range("report-1.json", 1, 3) == b'"a"'
    assert not store.exists("report-2.json")
    with pytest.raises(NotFound, match=r"objectstore: report-2\.json is not stored"):
        store.size("report-2.json")
    for bad in ("../escape", "a/b", "..hidden", ""):
        with pytest.raises(InvalidInput, match="not a valid object key"):
            store.put(bad, b"x", "text/plain")
    assert [p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()] == ["report-1.json"]


@pytest.mark.anyio
async def test_memory_broadcaster_fans_out_until_unsubscribed() -> None:
    codec: Codec[dict[str, int]] = Codec(json.dumps, json.loads)
    broadcaster: Broadcaster[dict[str, int]] = build_broadcaster(None, channel="test", codec=codec)
    assert isinstance(broadcaster, MemoryBroadcaster)
    first: list[dict[str, int]] = []
    second: list[dict[str, int]] = []
    stop_first = broadcaster.subscribe(first.append)
    broadcaster.subscribe(second.append)
    await broadcaster.publish([{"n": 1}, {"n": 2}])
    stop_first()
    await broadcaster.publish([{"n": 3}])
    assert first == [{"n": 1}, {"n": 2}]
    assert second == [{"n": 1}, {"n": 2}, {"n": 3}]
    await broadcaster.aclose()
