"""Exchanges, exceptions and queue jobs with known figures, for the
dashboard tests."""

from datetime import timedelta
from itertools import count

from odoo import fields

from odoo.addons.distribution_connector.tests.common import DistributionTestMixin

_sequence = count(1)


def percentile_cont(values, fraction):
    """PostgreSQL's ``percentile_cont``: linear interpolation between the
    two closest ranks of the sorted values."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


class DashboardDataMixin(DistributionTestMixin):
    @classmethod
    def setUpDashboard(cls):
        cls.setUpDistribution()
        cls.Exchange = cls.env["distribution.exchange"].sudo()
        cls.Exception = cls.env["distribution.exception"].sudo()
        cls.now = fields.Datetime.now()

    @classmethod
    def make_exchange(
        cls,
        state="done",
        latency=None,
        hours_ago=1.0,
        kind="order",
        direction="in",
        backend=None,
        **vals,
    ):
        """An exchange received ``hours_ago`` and, when ``latency`` (seconds)
        is given, processed that long after."""
        received_at = cls.now - timedelta(hours=hours_ago)
        values = {
            "backend_id": (backend or cls.backend).id,
            "direction": direction,
            "topic": kind,
            "kind": kind,
            "external_event_id": f"dash-{next(_sequence)}",
            "received_at": received_at,
            "state": state,
            **vals,
        }
        if latency is not None:
            values["processed_at"] = received_at + timedelta(seconds=latency)
        return cls.Exchange.create(values)

    @classmethod
    def make_call(cls, state="done", hours_ago=1.0, topic="stock", backend=None):
        """An HTTP call of the backend, logged ``hours_ago``."""
        return cls.env["distribution.call.log"].create(
            {
                "backend_id": (backend or cls.backend).id,
                "called_at": cls.now - timedelta(hours=hours_ago),
                "topic": topic,
                "method": "POST",
                "path": f"/{topic}",
                "response_status": 200 if state == "done" else 500,
                "state": state,
            }
        )

    @classmethod
    def make_exception(cls, exchange, type_, minutes_old, state="open"):
        """An exception opened ``minutes_old`` minutes before the
        transaction's now (which the report measures ages against)."""
        exception = cls.Exception.create(
            {"exchange_id": exchange.id, "type": type_, "state": state}
        )
        exception.flush_recordset()
        cls.env.cr.execute(
            "UPDATE distribution_exception SET create_date = "
            "(now() AT TIME ZONE 'UTC') - make_interval(mins => %s) WHERE id = %s",
            [minutes_old, exception.id],
        )
        exception.invalidate_recordset(["create_date"])
        return exception
