from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase

from .common import OrderImportMixin


class TestMultiCompany(OrderImportMixin, TransactionCase):
    """Company A runs ``cls.backend``; company B has its own channel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.company_a = cls.company
        cls.company_b = cls.env["res.company"].create(
            {"name": "Company B", "currency_id": cls.company_a.currency_id.id}
        )
        cls.backend_b = cls.make_backend("Channel of B", company=cls.company_b)
        # the mugs are company A's own products
        (cls.mug_blue | cls.mug_red).company_id = cls.company_a
        cls.tax_20_b = cls.make_tax(20.0, company=cls.company_b)

    def give_b_its_mugs(self):
        return (
            self.make_product("Blue mug (B)", "MUG-BLUE", 12.0, company=self.company_b),
            self.make_product("Red mug (B)", "MUG-RED", 8.5, company=self.company_b),
        )

    def test_product_of_another_company_is_unknown(self):
        exchange = self.import_order(self.order_payload(), backend=self.backend_b)
        exception = self.assertOneException(exchange, "unknown_sku")
        self.assertEqual(exception.key, "MUG-BLUE")
        self.assertEqual(exception.company_id, self.company_b)
        self.assertFalse(self.orders(backend=self.backend_b))
        self.assertFalse(
            self.env["sale.order"].search([("company_id", "=", self.company_b.id)])
        )

    def test_each_company_gets_its_own_product_and_taxes(self):
        blue_b, red_b = self.give_b_its_mugs()
        self.import_order(self.order_payload(), backend=self.backend_b)
        self.import_order(self.order_payload(), backend=self.backend)
        order_b = self.orders(backend=self.backend_b)
        order_a = self.orders(backend=self.backend)
        self.assertEqual(order_b.company_id, self.company_b)
        self.assertEqual(order_b.warehouse_id.company_id, self.company_b)
        self.assertEqual(order_b.state, "sale")
        self.assertIn(blue_b, order_b.order_line.product_id)
        self.assertIn(red_b, order_b.order_line.product_id)
        self.assertEqual(order_b.order_line.tax_ids, self.tax_20_b)
        self.assertIn(self.mug_blue, order_a.order_line.product_id)
        self.assertEqual(order_a.order_line.tax_ids, self.tax_20)

    def test_customer_of_another_company_is_not_reused(self):
        self.give_b_its_mugs()
        partner_a = self.env["res.partner"].create(
            {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "street": "12 Analytical Row",
                "zip": "N1 9GU",
                "company_id": self.company_a.id,
            }
        )
        written_at = partner_a.write_date
        self.import_order(self.order_payload(), backend=self.backend_b)
        order_b = self.orders(backend=self.backend_b)
        partner_b = order_b.partner_id
        self.assertNotEqual(partner_b, partner_a)
        self.assertEqual(partner_b.company_id, self.company_b)
        self.assertEqual(partner_b.email, "ada@example.com")
        self.assertFalse(partner_a.child_ids)
        self.assertEqual(partner_a.write_date, written_at)
        binding = self.Binding._find(self.backend_b, "res.partner", "CUST-1")
        self.assertEqual(binding.res_id, partner_b.id)
        self.assertEqual(binding.company_id, self.company_b)
        self.assertFalse(self.Binding._find(self.backend, "res.partner", "CUST-1"))

    def test_user_of_company_a_cannot_see_company_b(self):
        self.give_b_its_mugs()
        failed_b = self.import_order(
            self.order_payload(
                external_id="B-1",
                lines=[{"sku": "NOPE", "quantity": 1, "unit_price": 1}],
            ),
            backend=self.backend_b,
        )
        self.import_order(self.order_payload(external_id="B-2"), backend=self.backend_b)
        failed_a = self.import_order(
            self.order_payload(
                external_id="A-1",
                lines=[{"sku": "NOPE", "quantity": 1, "unit_price": 1}],
            ),
        )
        exception_b = failed_b.exception_ids
        exception_a = failed_a.exception_ids
        bindings_b = self.Binding.search([("backend_id", "=", self.backend_b.id)])
        self.assertTrue(exception_b and exception_a and bindings_b)

        user_a = self.env["res.users"].create(
            {
                "name": "Manager of A",
                "login": "manager-a@example.com",
                "company_id": self.company_a.id,
                "company_ids": [Command.set(self.company_a.ids)],
                "group_ids": [
                    Command.set(
                        [
                            self.env.ref(
                                "distribution_connector.group_distribution_manager"
                            ).id,
                            self.env.ref("sales_team.group_sale_salesman").id,
                        ]
                    )
                ],
            }
        )
        hidden = {
            "distribution.backend": self.backend_b,
            "distribution.exchange": failed_b,
            "distribution.exception": exception_b,
            "distribution.binding": bindings_b,
        }
        for model, records in hidden.items():
            with self.subTest(model=model):
                as_a = self.env[model].with_user(user_a)
                self.assertFalse(as_a.search([("id", "in", records.ids)]))
                self.assertFalse(as_a.search([]) & records.with_user(user_a))
                with self.assertRaises(AccessError):
                    records.with_user(user_a).read(["display_name"])

        # while company A's own records stay visible and workable
        self.assertEqual(
            self.env["distribution.backend"].with_user(user_a).search([]), self.backend
        )
        self.assertEqual(
            self.env["distribution.exception"].with_user(user_a).search([]), exception_a
        )
        exception_a.with_user(user_a).action_assign_to_me()
        self.assertEqual(exception_a.user_id, user_a)
