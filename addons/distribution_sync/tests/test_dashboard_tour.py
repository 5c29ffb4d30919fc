from odoo.tests.common import HttpCase, tagged

from .dashboard_common import DashboardDataMixin


@tagged("-at_install", "post_install")
class TestDashboardTour(DashboardDataMixin, HttpCase):
    """Open the dashboard in a browser and find the figures of data made here."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDashboard()
        cls.backend.name = "Tour channel"
        for seconds in range(1, 22):  # p50 11 s, p95 20 s
            cls.make_exchange(latency=seconds, hours_ago=seconds / 10)
        failed = cls.make_exchange(state="error", latency=2, duplicate_count=4)
        for _index in range(2):
            cls.make_exchange(state="error", latency=2)  # 3 / 24: 12.5 %
        for index in range(4):  # 3 more duplicates
            cls.make_exchange(
                state="received",
                external_ref=f"TOUR-PENDING-{index + 1}",
                duplicate_count=3 if index == 0 else 0,
            )
        cls.make_exception(failed, "unknown_sku", 5 * 60)

    def test_dashboard_tour(self):
        self.start_tour("/odoo", "distribution_dashboard_tour", login="admin")
