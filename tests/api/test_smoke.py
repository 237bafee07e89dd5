import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    metrics = await client.get("/metrics")
    assert "newstalk_http_requests_total" in metrics.text
