"""Each company sees its own rules and levels."""

from odoo.tests.common import TransactionCase, new_test_user

from .common import StockPublishMixin


class TestMultiCompany(StockPublishMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpStockPublish()
        cls.other_company = cls.env["res.company"].create({"name": "Publish Other Co"})
        cls.other_wh = cls.env["stock.warehouse"].create(
            {"name": "Other North", "code": "ONO", "company_id": cls.other_company.id}
        )
        cls.put(cls.mug, 10, cls.wh1)
        cls.put(cls.mug, 4, cls.other_wh)
        cls.own, cls.own_rule = cls.make_channel("Own channel")
        cls.other = cls.make_backend("Other channel", company=cls.other_company)
        cls.other_rule = cls.env["distribution.publish.rule"].create(
            {"backend_id": cls.other.id, "warehouse_ids": [(6, 0, cls.other_wh.ids)]}
        )
        cls.user = new_test_user(
            cls.env,
            login="publish_user",
            groups="distribution_connector.group_distribution_user",
            company_id=cls.env.company.id,
            company_ids=[(6, 0, cls.env.company.ids)],
        )

    def test_levels_are_per_company(self):
        self.recompute()
        self.assertEqual(self.level(self.own).computed_qty, 10)
        other_level = self.level(self.other)
        self.assertEqual(other_level.computed_qty, 4)
        self.assertEqual(other_level.company_id, self.other_company)

    def test_users_see_their_companies_only(self):
        self.recompute()
        Level = self.env["distribution.stock.level"].with_user(self.user)
        self.assertEqual(Level.search([]).backend_id, self.own)
        Rule = self.env["distribution.publish.rule"].with_user(self.user)
        self.assertEqual(Rule.search([]), self.own_rule)
