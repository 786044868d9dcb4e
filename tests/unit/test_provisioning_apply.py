"""The parallel apply's scheduling: stages between kinds, the bound on writes in flight, what a
failure stops, and how progress is reported. The writes themselves are exercised against the
real services by tests/integration/test_provisioning.py and tests/e2e/test_seed_at_scale.py."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from provisioning.apply import Progress, Result, _Counter, _run_stage, progress_lines, stages
from provisioning.clients import ProvisioningError
from provisioning.plan import Change


def teams(count: int, action: str = "created") -> list[Change]:
    return [Change("team", f"team-{n:03}", action) for n in range(count)]


def test_stages_cut_the_plan_where_the_kind_or_the_direction_changes():
    plan = [
        Change("credential", "c1", "created"),
        Change("credential", "c2", "updated"),
        Change("model", "m1", "created"),
        *teams(3),
        Change("team", "old", "deleted"),
        Change("model_group", "g-old", "deleted"),
    ]
    assert [[c.name for c in stage] for stage in stages(plan)] == [
        ["c1", "c2"],
        ["m1"],
        ["team-000", "team-001", "team-002"],
        ["old"],
        ["g-old"],
    ]


class Writes:
    """A write that takes a moment, counts how many run at once, and fails where told."""

    def __init__(self, fail: set[str] = frozenset(), seconds: float = 0.005):
        self.fail, self.seconds = fail, seconds
        self.lock = threading.Lock()
        self.running = self.most_at_once = 0
        self.started: list[str] = []

    def __call__(self, change: Change) -> str | None:
        with self.lock:
            self.started.append(change.name)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.seconds)
            if change.name in self.fail:
                raise ProvisioningError(f"{change.name} refused")
            return f"sk-{change.name}"
        finally:
            with self.lock:
                self.running -= 1


def run_stage(stage: list[Change], write: Writes, concurrency: int):
    reported: list[Progress] = []
    result, counter = Result(stage), _Counter(len(stage), reported.append)
    with ThreadPoolExecutor(max_workers=16) as pool:
        failures = _run_stage(pool, stage, concurrency, write, result, counter)
    return failures, result, reported


def test_a_stage_keeps_at_most_the_concurrency_in_flight_and_collects_every_key():
    write = Writes()
    failures, result, reported = run_stage(teams(60), write, concurrency=5)
    assert failures == []
    assert write.most_at_once == 5
    assert sorted(result.issued_keys) == [f"team-{n:03}" for n in range(60)]
    assert result.issued_keys["team-007"] == "sk-team-007"
    assert [p.done for p in reported] == list(range(1, 61))


def test_concurrency_one_writes_strictly_one_after_another_in_plan_order():
    write = Writes(seconds=0)
    run_stage(teams(10), write, concurrency=1)
    assert write.most_at_once == 1
    assert write.started == [f"team-{n:03}" for n in range(10)]


def test_a_failure_stops_new_writes_and_lets_those_in_flight_finish():
    write = Writes(fail={"team-010"})
    failures, result, reported = run_stage(teams(200), write, concurrency=4)
    assert [(f.change.name, f.error) for f in failures] == [("team-010", "team-010 refused")]
    # Up to the failed one, plus at most the other three in flight when it failed (and the
    # slots they freed before its failure was seen): far from all 200.
    assert 11 <= len(write.started) <= 11 + 2 * 4
    assert write.running == 0
    assert len(reported) == len(write.started)  # every started write was waited for
    assert set(result.issued_keys) == set(write.started) - {"team-010"}
    assert [p.change.name for p in reported if not p.succeeded] == ["team-010"]


def test_every_failure_among_those_in_flight_is_reported():
    write = Writes(fail={"team-000", "team-001", "team-002"}, seconds=0.02)
    failures, _, _ = run_stage(teams(50), write, concurrency=3)
    assert sorted(f.change.name for f in failures) == ["team-000", "team-001", "team-002"]
    assert len(write.started) == 3


def test_an_unexpected_error_is_reported_by_its_type():
    def broken(change):
        raise KeyError("id")

    failures, _, _ = run_stage(teams(1), broken, concurrency=2)
    assert [f.error for f in failures] == ["KeyError: 'id'"]


def progress(done: int, total: int, succeeded: bool = True) -> Progress:
    return Progress(done, total, Change("team", f"t{done}", "created"), 12.5, 0, succeeded)


def test_a_short_apply_reports_every_change():
    lines: list[str] = []
    report = progress_lines(lines.append, every_seconds=3600)
    for done in range(1, 6):
        report(progress(done, 5))
    assert lines == [f"[{n}/5] team t{n}: created (12.5/s)" for n in range(1, 6)]


def test_a_long_apply_reports_the_first_each_failure_and_the_last():
    lines: list[str] = []
    report = progress_lines(lines.append, every_seconds=3600)
    for done in range(1, 1001):
        report(progress(done, 1000, succeeded=done != 400))
    assert lines == [
        "[1/1000] team t1: created (12.5/s)",
        "[400/1000] FAILED team t400: created (12.5/s)",
        "[1000/1000] team t1000: created (12.5/s)",
    ]
