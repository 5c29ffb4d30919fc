"""Who may change a 3PL's column maps, called as RPC calls them."""

from odoo.exceptions import AccessError, ValidationError
from odoo.service.model import call_kw
from odoo.tests.common import TransactionCase, new_test_user, tagged

from odoo.addons.distribution_connector.tests.common import DistributionTestMixin


@tagged("-at_install", "post_install")
class TestCsvAccess(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()
        cls.tpl = cls.make_backend("CSV 3PL", adapter="csv", kind="3pl")
        cls.line = cls.env["distribution.csv.column"].create(
            {
                "backend_id": cls.tpl.id,
                "document": "stock_in",
                "field_name": "sku",
                "column": "Article",
            }
        )
        cls.user = new_test_user(
            cls.env,
            login="csv-user",
            groups="distribution_connector.group_distribution_user",
        )
        cls.manager = new_test_user(
            cls.env,
            login="csv-manager",
            groups="distribution_connector.group_distribution_manager",
        )

    def rpc(self, user, method, args, kwargs=None):
        model = self.env["distribution.csv.column"].with_user(user)
        return call_kw(model, method, args, kwargs or {})

    def test_users_read_maps_managers_change_them(self):
        [read] = self.rpc(self.user, "read", [self.line.ids, ["column"]])
        self.assertEqual(read["column"], "Article")
        with self.assertRaises(AccessError):
            self.rpc(self.user, "write", [self.line.ids, {"column": "SKU"}])
        with self.assertRaises(AccessError):
            self.rpc(self.user, "unlink", [self.line.ids])
        self.rpc(self.manager, "write", [self.line.ids, {"column": "SKU"}])
        self.assertEqual(self.line.column, "SKU")

    def test_a_field_of_another_document_is_refused(self):
        with self.assertRaises(ValidationError) as caught:
            self.line.field_name = "tracking_number"
        self.assertIn("not a field of Stock snapshots in", str(caught.exception))
