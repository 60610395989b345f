"""Gates' reports of unanswered events become a per-gate metric, an alert line and readiness
detail; the wait is measured without trusting the gate's clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from gateway.gate_health import GateHealth
from gateway.metrics import Metrics
from gateway.protocol import GateStatus, decode_status, encode_status


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def status(
    gate: str, unanswered: int | None, oldest: float | None, online: bool = True
) -> GateStatus:
    return GateStatus(
        lot_id="L1",
        gate_id=gate,
        online=online,
        at=datetime(2026, 11, 23, 1, 0, tzinfo=UTC),  # the gate's clock: never used for ages
        buffered=2,
        unanswered=unanswered,
        oldest_unanswered_s=oldest,
    )


def test_the_wait_grows_from_the_gates_own_figure_and_the_alert_fires_once_then_clears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = GateHealth(alert_after_s=30, repeat_s=60, clock=clock)
    caplog.set_level(logging.INFO, logger="gateway.gate_health")
    health.record(status("in-1", 3, 20.0))
    assert health.overdue() == []
    clock.now += 11
    health.check()
    (overdue,) = health.overdue()
    assert (overdue.lane, overdue.unanswered, overdue.waited_s) == ("L1/in-1", 3, 31.0)
    clock.now += 5
    health.check()  # still overdue: no second line before repeat_s
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "L1/in-1 has 3 events without a decision" in warnings[0].message
    clock.now += 60
    health.check()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    health.record(status("in-1", 0, None))
    assert health.overdue() == []
    assert "no events waiting past the alert" in caplog.records[-1].getMessage()


def test_an_offline_gate_or_an_older_gate_reports_nothing_unanswered() -> None:
    health = GateHealth(alert_after_s=1)
    health.record(status("in-1", 4, 100.0, online=False))
    health.record(status("in-2", None, None))
    assert health.overdue() == []
    reported = [(r.lane, r.unanswered) for r in health.reports()]
    assert reported == [("L1/in-1", None), ("L1/in-2", None)]


def test_the_metrics_show_each_gates_figures_at_scrape_time() -> None:
    metrics = Metrics()
    metrics.gate_health.record(status("in-1", 3, 12.5))
    metrics.gate_health.record(status("out-1", 0, None))
    text = metrics.render().decode()
    assert 'parking_gate_unanswered_events{gate="in-1",lot="L1"} 3.0' in text
    assert 'parking_gate_unanswered_events{gate="out-1",lot="L1"} 0.0' in text
    assert 'parking_gate_buffered_events{gate="in-1",lot="L1"} 2.0' in text
    oldest = 'parking_gate_oldest_unanswered_seconds{gate="in-1",lot="L1"}'
    line = next(x for x in text.splitlines() if x.startswith(oldest))
    assert float(line.rsplit(" ", 1)[1]) >= 12.5


def test_statuses_stay_readable_both_ways() -> None:
    """A status without the new fields is encoded without them (an older gateway refuses fields
    it does not know); a gateway ignores fields of newer gates."""
    old_style = GateStatus(lot_id="L1", gate_id="G1", online=True, at=datetime.now(UTC))
    assert b"unanswered" not in encode_status(old_style)
    newer = encode_status(status("G1", 1, 2.0)).replace(b'"v":1', b'"v":1,"later_field":7')
    assert decode_status(newer).unanswered == 1


def test_a_report_checks_its_own_gate_and_check_covers_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = GateHealth(alert_after_s=30, repeat_s=60, clock=clock)
    caplog.set_level(logging.INFO, logger="gateway.gate_health")
    health.record(status("in-1", 1, 25.0))
    health.record(status("in-2", 1, 40.0))  # overdue on arrival: its own alert at once
    assert [r.getMessage()[:11] for r in caplog.records] == ["gate L1/in-"]
    assert "L1/in-2" in caplog.records[0].getMessage()
    clock.now += 10  # in-1 is overdue now, without a report of its own
    health.record(status("in-3", 0, None))  # another gate's report: in-1 not checked here
    assert len(caplog.records) == 1
    health.check()  # the consumer's periodic check (gateway.consumer, HEALTH_CHECK_S)
    assert len(caplog.records) == 2 and "L1/in-1" in caplog.records[1].getMessage()
    health.record(status("in-2", 0, None))
    assert "L1/in-2: no events waiting" in caplog.records[-1].getMessage()
    assert [o.lane for o in health.overdue()] == ["L1/in-1"]
