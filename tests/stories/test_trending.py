from datetime import UTC, datetime, timedelta

import pytest

from newstalk.stories.trending import TrendInput, TrendReason, category_baseline, trending

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def burst(n: int, minutes: int, outlets: int | None = None) -> tuple[list[datetime], list[str]]:
    times = [NOW - timedelta(minutes=minutes) + timedelta(minutes=minutes * i / n) for i in range(n)]
    return times, [f"outlet-{i % (outlets or n)}" for i in range(n)]


def test_burst_reason_reads_like_the_issue() -> None:
    times, outlets = burst(14, 40)
    result = trending(TrendInput(times, outlets, "economy", NOW), category_baseline_per_hour=2.8)
    assert result.reason == "14 outlets in 40 minutes, 5× the usual pace for economy"
    assert result.why.text("ko") == "40분 동안 언론사 14곳: 경제 분야 평소의 5× 속도"
    assert result.outlets == 14
    assert result.velocity_per_hour == 14.0
    assert 0.5 < result.score < 1.0


def test_more_outlets_trend_more_than_one_outlet_reposting() -> None:
    diverse = trending(TrendInput(*burst(10, 30), "world", NOW), 1.0)
    single = trending(TrendInput(*burst(10, 30, outlets=1), "world", NOW), 1.0)
    assert diverse.score > single.score
    assert single.reason.startswith("10 articles from 1 outlet in 30 minutes")
    assert single.why.text("ko").startswith("30분 동안 언론사 1곳, 기사 10건: 국제 분야")


def test_acceleration_against_own_history_raises_the_score() -> None:
    steady_times = [NOW - timedelta(hours=h) for h in range(2, 12)]
    steady_times += [NOW - timedelta(minutes=20)]
    steady = trending(TrendInput(steady_times, [f"o{i}" for i in range(11)], "sports", NOW), 1.0)
    times, outlets = burst(8, 30)
    fresh_burst = trending(
        TrendInput(times + steady_times[:-1], outlets + [f"o{i}" for i in range(10)], "sports", NOW), 1.0
    )
    assert fresh_burst.score > steady.score
    assert "slower than usual" in steady.reason or "usual pace" in steady.reason


def test_recency_decay() -> None:
    times, outlets = burst(6, 30)
    fresh = trending(TrendInput(times, outlets, "tech", NOW), 1.0)
    later = trending(TrendInput(times, outlets, "tech", NOW + timedelta(minutes=25)), 1.0)
    assert later.score < fresh.score


def test_no_recent_coverage() -> None:
    result = trending(TrendInput([NOW - timedelta(hours=5)], ["a"], "politics", NOW), 1.0)
    assert result.score == 0.0
    assert result.reason == "no new coverage for 5 hours"
    empty = trending(TrendInput([], [], "politics", NOW), 1.0)
    assert (empty.score, empty.reason) == (0.0, "no coverage yet")
    assert (result.why.text("ko"), empty.why.text("ko")) == ("5시간째 새 보도 없음", "아직 보도 없음")


def test_one_minute_is_singular_and_hours_keep_one_decimal() -> None:
    assert TrendReason("quiet", minutes=1).text() == "no new coverage for 1 minute"
    assert TrendReason("quiet", minutes=135).text() == "no new coverage for 2.2 hours"
    assert TrendReason("quiet", minutes=135).text("ko") == "2.2시간째 새 보도 없음"
    one = TrendReason("active", minutes=0.4, outlets=1, articles=1, pace="slower", category="sports")
    assert one.text() == "1 outlet in 1 minute, slower than usual for sports"
    assert one.text("ko") == "1분 동안 언론사 1곳: 스포츠 분야 평소보다 느림"


def test_the_stored_reason_reads_back_and_junk_does_not() -> None:
    result = trending(TrendInput(*burst(6, 30), "tech", NOW), 1.0)
    assert TrendReason.from_dict(result.why.as_dict()) == result.why
    for junk in (None, "x", {}, {"kind": "loud"}, {"kind": "active", "outlets": "many"}):
        assert TrendReason.from_dict(junk) is None


def test_mismatched_input_names_the_problem() -> None:
    with pytest.raises(ValueError, match="one outlet per article"):
        TrendInput([NOW], [], "world", NOW)


def test_category_baseline() -> None:
    counts = {"economy": 1680, "sports": 168}
    assert category_baseline(counts, days=7) == {"economy": 10.0, "sports": 1.0}
    per_story = category_baseline(counts, days=7, story_counts={"economy": 70, "sports": 0})
    assert per_story["economy"] == pytest.approx(1.0)
    assert per_story["sports"] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="positive"):
        category_baseline(counts, days=0)
