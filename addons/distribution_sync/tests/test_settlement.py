"""Settlements: a payout file matched to orders and their invoices."""

import base64
import json

from odoo.tests.common import HttpCase, TransactionCase, tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .common import OrderImportMixin


@tagged("-at_install", "post_install")
class TestSettlement(OrderImportMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.Settlement = cls.env["distribution.settlement"]

    def invoiced_order(self, external_id, post=True):
        """An imported order and its invoice (posted unless told not to)."""
        self.import_order(
            self.order_payload(external_id=external_id, name=f"#{external_id}")
        )
        order = self.orders(external_id)
        self.assertEqual(order.state, "sale")
        invoice = order._create_invoices()
        if post:
            invoice.action_post()
        return order, invoice

    def refunded(self, invoice):
        """A posted credit note reversing the whole invoice."""
        credit_note = invoice._reverse_moves()
        credit_note.action_post()
        return credit_note

    def settlement(self, lines, payout_amount=None, external_id="PAYOUT-1"):
        payload = {
            "external_id": external_id,
            "currency": self.currency.name,
            "payout_date": "2025-03-05T00:00:00Z",
            "period_start": "2025-03-01T00:00:00Z",
            "period_end": "2025-03-04T23:59:59Z",
            "lines": lines,
        }
        if payout_amount is not None:
            payload["payout_amount"] = payout_amount
        return payload

    def test_matched_unmatched_and_refunded_lines(self):
        paid, paid_invoice = self.invoiced_order("SET-1")
        short, short_invoice = self.invoiced_order("SET-2")
        refunded, refunded_invoice = self.invoiced_order("SET-3")
        credit_note = self.refunded(refunded_invoice)
        not_invoiced, _draft = self.invoiced_order("SET-4", post=False)
        total = paid_invoice.amount_total
        lines = [
            {
                "external_id": "T1",
                "type": "order",
                "external_order_id": "SET-1",
                "amount": total,
                "fee_amount": 1.5,
            },
            {
                # the channel settled less than invoiced
                "type": "order",
                "external_order_id": "SET-2",
                "amount": short_invoice.amount_total - 5,
            },
            {
                "type": "order",
                "external_order_id": "SET-3",
                "amount": refunded_invoice.amount_total,
            },
            {
                "type": "refund",
                "external_order_id": "SET-3",
                "amount": -credit_note.amount_total,
            },
            {"type": "order", "external_order_id": "NOPE-9", "amount": 10.0},
            {"type": "order", "external_order_id": "SET-4", "amount": 42.0},
            {"type": "fee", "amount": -3.0, "description": "Monthly plan"},
            # a refund of an order that has no credit note
            {"type": "refund", "external_order_id": "SET-1", "amount": -5.0},
        ]
        line_sum = sum(line["amount"] for line in lines)
        exchange = self.apply_settlement(
            self.settlement(lines, payout_amount=round(line_sum - 1.5, 2))
        )
        self.assertEqual(exchange.state, "done", exchange.error)
        settlement = self.Settlement.search([("backend_id", "=", self.backend.id)])
        self.assertEqual(settlement.name, "PAYOUT-1")
        self.assertEqual(exchange.res_id, settlement.id)
        states = settlement.line_ids.sorted("sequence").mapped("match_state")
        self.assertEqual(
            states,
            [
                "matched",
                "mismatch",
                "matched",
                "matched",
                "unmatched",
                "no_invoice",
                "fee",
                "no_invoice",
            ],
        )
        first = settlement.line_ids.sorted("sequence")[0]
        self.assertEqual(first.order_id, paid)
        self.assertEqual(first.invoice_ids, paid_invoice)
        refund_line = settlement.line_ids.sorted("sequence")[3]
        self.assertEqual(refund_line.order_id, refunded)
        self.assertEqual(refund_line.invoice_ids, credit_note)
        self.assertEqual(settlement.state, "exceptions")
        self.assertEqual(settlement.unmatched_count, 4)
        exceptions = exchange.exception_ids.sorted("json_path")
        self.assertEqual(
            [(exc.type, exc.key, exc.json_path) for exc in exceptions],
            [
                ("settlement_mismatch", "SET-2", "$.lines[1]"),
                ("settlement_unmatched", "NOPE-9", "$.lines[4]"),
                ("settlement_unmatched", "SET-4", "$.lines[5]"),
                ("settlement_unmatched", "SET-1", "$.lines[7]"),
            ],
        )
        self.assertEqual(set(exceptions.mapped("state")), {"open"})
        unknown = exceptions[1]
        self.assertEqual(json.loads(unknown.settlement_line_raw)["amount"], 10.0)
        self.assertIn("No order NOPE-9", unknown.message)
        self.assertIn(short.name, exceptions[0].message)
        self.assertIn(not_invoiced.name, exceptions[2].message)
        # the payout is the lines minus their fees: no payout exception
        self.assertFalse(
            settlement.exception_ids.filtered(lambda e: not e.settlement_line_id)
        )

    def apply_settlement(self, payload, event_id=None):
        exchange = self.receive(payload, event_id=event_id, kind="settlement")
        exchange.process()
        return exchange

    def test_retry_matches_again_once_the_invoice_is_posted(self):
        order, invoice = self.invoiced_order("SET-5", post=False)
        exchange = self.apply_settlement(
            self.settlement(
                [
                    {
                        "type": "order",
                        "external_order_id": "SET-5",
                        "amount": invoice.amount_total,
                    }
                ]
            )
        )
        exc = exchange.exception_ids
        self.assertEqual(exc.type, "settlement_unmatched")
        invoice.action_post()
        # a Distribution user (not a manager) may retry it
        user = self.env["res.users"].create(
            {
                "name": "Settlement reviewer",
                "login": "settlement-reviewer",
                "group_ids": [
                    (
                        4,
                        self.env.ref(
                            "distribution_connector.group_distribution_user"
                        ).id,
                    )
                ],
            }
        )
        exc.with_user(user).action_retry()
        self.assertEqual(exc.state, "resolved")
        settlement = exc.settlement_id
        self.assertEqual(settlement.line_ids.match_state, "matched")
        self.assertEqual(settlement.line_ids.order_id, order)
        self.assertEqual(settlement.state, "matched")

    def test_payout_that_is_not_the_lines_minus_fees(self):
        _order, invoice = self.invoiced_order("SET-6")
        exchange = self.apply_settlement(
            self.settlement(
                [
                    {
                        "type": "order",
                        "external_order_id": "SET-6",
                        "amount": invoice.amount_total,
                        "fee_amount": 2.0,
                    }
                ],
                payout_amount=invoice.amount_total,
            )
        )
        exc = exchange.exception_ids
        self.assertEqual(len(exc), 1)
        self.assertEqual(
            (exc.type, exc.json_path), ("settlement_mismatch", "$.payout_amount")
        )

    def test_a_new_version_of_the_payout_replaces_its_lines(self):
        _order, invoice = self.invoiced_order("SET-7")
        first = self.apply_settlement(
            self.settlement([{"type": "order", "external_order_id": "X", "amount": 1}]),
            event_id="v1",
        )
        self.assertEqual(first.exception_ids.state, "open")
        second = self.apply_settlement(
            self.settlement(
                [
                    {
                        "type": "order",
                        "external_order_id": "SET-7",
                        "amount": invoice.amount_total,
                    }
                ]
            ),
            event_id="v2",
        )
        settlement = self.Settlement.search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(settlement), 1)
        self.assertEqual(settlement.line_ids.match_state, "matched")
        self.assertEqual(first.exception_ids.state, "resolved")
        self.assertFalse(second.exception_ids)

    def test_invalid_settlement_is_kept_with_a_typed_exception(self):
        exchange = self.apply_settlement(
            {"external_id": "P", "currency": "USD", "lines": [{"type": "order"}]}
        )
        exc = self.assertOneException(exchange, "invalid_payload")
        self.assertTrue(exc.json_path.startswith("$.lines[0]"))
        self.assertFalse(self.Settlement.search([("backend_id", "=", self.backend.id)]))

    def test_upload_goes_through_the_inbox_once(self):
        _order, invoice = self.invoiced_order("SET-8")
        body = json.dumps(
            self.settlement(
                [
                    {
                        "type": "order",
                        "external_order_id": "SET-8",
                        "amount": invoice.amount_total,
                    }
                ],
                external_id="PAYOUT-UP",
            )
        ).encode()
        wizard = self.env["distribution.settlement.import"].create(
            {"backend_id": self.backend.id, "file": base64.b64encode(body)}
        )
        with trap_jobs() as trap:
            action = wizard.action_import()
            again = wizard.action_import()
            self.assertEqual(action["res_id"], again["res_id"])
            # what the backend's waiting dispatcher does once started: one
            # processing job for the one exchange
            self.Exchange.dispatch(self.backend.id)
            exchange = self.Exchange.browse(action["res_id"])
            self.assertEqual(
                (exchange.topic, exchange.kind), ("settlement", "settlement")
            )
            ran = self.run_trapped_jobs(trap)
        self.assertEqual(
            [job.recordset for job in ran if job.method_name == "process"], [exchange]
        )
        self.assertEqual(exchange.state, "done")
        settlement = self.Settlement.browse(exchange.res_id)
        self.assertEqual(settlement.name, "PAYOUT-UP")
        self.assertEqual(settlement.state, "matched")

    def test_unreadable_upload_is_kept(self):
        wizard = self.env["distribution.settlement.import"].create(
            {"backend_id": self.backend.id, "file": base64.b64encode(b"{not json")}
        )
        action = wizard.action_import()
        exchange = self.Exchange.browse(action["res_id"])
        self.assertEqual(exchange.state, "error")
        self.assertEqual(exchange.raw_body, "{not json")
        self.assertEqual(exchange.exception_ids.type, "invalid_payload")


@tagged("-at_install", "post_install")
class TestSettlementWebhook(OrderImportMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()

    def test_settlement_topic_is_accepted(self):
        payload = {
            "external_id": "PAYOUT-WH",
            "currency": self.currency.name,
            "lines": [{"type": "fee", "amount": -2.0}],
        }
        secret = "secret-of-Test channel-0123456789"
        body, headers = self.signed(secret, payload, event_id="payout-wh-1")
        with trap_jobs() as trap:
            response = self.url_open(
                self.webhook_path(self.backend, "settlement"),
                data=body,
                headers=headers,
            )
            self.assertEqual(response.status_code, 200, response.text)
            trap.assert_jobs_count(1, only=self.Exchange.dispatch)
            self.run_trapped_jobs(trap)
        exchange = self.Exchange.search(
            [("backend_id", "=", self.backend.id), ("topic", "=", "settlement")]
        )
        self.assertEqual(exchange.state, "done", exchange.error)
        settlement = self.env["distribution.settlement"].browse(exchange.res_id)
        self.assertEqual(settlement.line_ids.match_state, "fee")
