from datetime import datetime

from odoo.tests.common import TransactionCase, tagged

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.queue_job.tests.common import trap_jobs

from .common import LWA, ORDERS, RDT, AmazonTestMixin, amazon_order

FIRST = "902-3159896-1390916"
SECOND = "028-1234567-7654321"


@tagged("-at_install", "post_install")
class TestPullOrders(AmazonTestMixin, TransactionCase):
    """Scheduled pulls of Amazon orders, through the inbox, to sales orders."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpAmazon()

    def pull(self):
        with trap_jobs() as trap:
            result = self.backend._pull_orders()
        self.perform(trap)
        return result

    def sale_orders(self, external_id):
        return self.env["sale.order"].search(
            [
                ("distribution_backend_id", "=", self.backend.id),
                ("distribution_external_id", "=", external_id),
            ]
        )

    def test_pages_items_and_addresses(self):
        first, second = amazon_order(FIRST), amazon_order(SECOND)
        self.amazon.add_order(first)
        self.amazon.add_order(second)
        self.amazon.pages([first], [second])
        pulled = list(self.adapter.pull_orders(datetime(2025, 3, 1, 8, 0, 0, 123)))
        self.assertEqual([item["external_ref"] for item in pulled], [FIRST, SECOND])
        self.assertEqual(pulled[0]["event_id"], f"{FIRST}:2025-03-01T09:20:00Z")
        self.assertEqual(pulled[0]["topic"], "ORDER_CHANGE")
        self.assertEqual(pulled[0]["payload"]["ShippingAddress"]["PostalCode"], "51147")
        self.assertEqual(len(pulled[0]["payload"]["OrderItems"]), 2)
        calls = self.server.calls("GET", ORDERS)
        self.assertEqual(
            calls[0].query,
            {
                "MarketplaceIds": ["A1PA6795UKMFR9"],
                "OrderStatuses": [
                    "Pending,Unshipped,PartiallyShipped,Shipped,Canceled,Unfulfillable"
                ],
                "FulfillmentChannels": ["MFN"],
                "LastUpdatedAfter": ["2025-03-01T08:00:00Z"],
            },
        )
        self.assertEqual(
            calls[1].query,
            {"MarketplaceIds": ["A1PA6795UKMFR9"], "NextToken": ["page-2"]},
        )
        # one access token, one restricted data token for every address
        self.assertEqual(len(self.server.calls("POST", LWA)), 1)
        rdt = self.server.calls("POST", RDT)
        self.assertEqual(len(rdt), 1)
        self.assertEqual(
            rdt[0].json(),
            {
                "restrictedResources": [
                    {"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}
                ]
            },
        )
        # getOrders allows 0.0167 calls a second with a burst of 20: the
        # second page did not wait
        self.assertEqual(self.waits, [])

    def test_mfn_order_end_to_end_and_re_pull(self):
        order = amazon_order(FIRST)
        self.amazon.add_order(order)
        self.amazon.pages([order])
        result = self.pull()
        self.assertEqual(result, "1 orders pulled, 1 new, 0 already imported")
        sale = self.sale_orders(FIRST)
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.partner_shipping_id.zip, "51147")
        self.assertEqual(
            sorted(sale.order_line.mapped("product_id.default_code")),
            ["DIST-SHIPPING", "MUG-BLUE", "MUG-RED"],
        )
        # prices per unit, the promotion as a discount, taxes by their rate
        self.assertEqual(sale.amount_untaxed, 34.5)
        self.assertEqual(sale.amount_total, 41.4)
        self.assertTrue(sale.amazon_is_prime)
        self.assertFalse(sale.amazon_is_business_order)
        self.assertEqual(sale.amazon_fulfillment_channel, "MFN")
        self.assertEqual(str(sale.amazon_latest_ship_date), "2025-03-03 22:59:59")
        self.assertFalse(sale.note)
        # the same page pulled again: no item fetched, nothing stored
        items_calls = len(self.server.calls("GET", f"{ORDERS}/{FIRST}/orderItems"))
        self.amazon.pages([order])
        result = self.pull()
        self.assertEqual(result, "0 orders pulled, 0 new, 0 already imported")
        self.assertEqual(
            len(self.server.calls("GET", f"{ORDERS}/{FIRST}/orderItems")), items_calls
        )
        self.assertEqual(len(self.sale_orders(FIRST)), 1)
        self.assertEqual(
            self.Exchange.search_count([("backend_id", "=", self.backend.id)]), 1
        )

    def test_pending_then_unshipped_then_canceled(self):
        pending = amazon_order(
            FIRST, OrderStatus="Pending", LastUpdateDate="2025-03-01T09:16:00Z"
        )
        self.amazon.add_order(pending)
        self.amazon.pages([pending])
        self.assertEqual(self.pull(), "0 orders pulled, 0 new, 0 already imported")
        self.assertFalse(self.sale_orders(FIRST))
        self.assertFalse(self.server.calls("GET", f"{ORDERS}/{FIRST}/orderItems"))
        unshipped = amazon_order(FIRST)
        self.amazon.pages([unshipped])
        self.pull()
        sale = self.sale_orders(FIRST)
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.state, "sale")
        canceled = amazon_order(
            FIRST, OrderStatus="Canceled", LastUpdateDate="2025-03-01T11:00:00Z"
        )
        self.amazon.pages([canceled])
        self.pull()
        self.assertEqual(self.sale_orders(FIRST), sale)
        self.assertEqual(sale.state, "cancel")
        # a cancelled order needs no address: only the unshipped one's
        self.assertEqual(len(self.server.calls("GET", f"{ORDERS}/{FIRST}/address")), 1)

    def test_fba_orders_of_a_merchant_marketplace_are_not_pulled(self):
        fba = amazon_order(SECOND, FulfillmentChannel="AFN", OrderStatus="Shipped")
        self.amazon.add_order(fba)
        self.amazon.pages([fba])
        self.assertEqual(list(self.adapter.pull_orders(datetime(2025, 3, 1))), [])

    def test_expired_access_token_is_refreshed_once(self):
        order = amazon_order(FIRST)
        self.amazon.add_order(order)
        self.amazon.pages([order], [])
        pulled = self.adapter.pull_orders(datetime(2025, 3, 1))
        next(pulled)
        self.assertEqual(len(self.server.calls("POST", LWA)), 1)
        # the token is cached: the second page uses it...
        self.amazon.expire_tokens()
        # ...and Amazon refuses it: one new token, the call once more
        self.assertEqual(list(pulled), [])
        self.assertEqual(len(self.server.calls("POST", LWA)), 2)
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 3)
        form = self.server.calls("POST", LWA)[0].body.decode()
        self.assertIn("grant_type=refresh_token", form)
        # the token call's log keeps no credential
        logs = (
            self.env["distribution.call.log"]
            .sudo()
            .search([("backend_id", "=", self.backend.id), ("topic", "=", "auth")])
        )
        self.assertTrue(logs)
        for log in logs:
            self.assertFalse(log.request_body)
            self.assertFalse(log.response_body)

    def test_a_token_refused_twice_is_an_error(self):
        self.amazon.pages([])
        self.server.route(
            "POST",
            LWA,
            lambda r: (200, {"access_token": "Atza|x", "expires_in": 3600}, {}),
        )
        error = None
        try:
            list(self.adapter.pull_orders(datetime(2025, 3, 1)))
        except PermanentError as err:
            error = err
        self.assertTrue(error and "HTTP 403" in error.message)
        self.assertEqual(len(self.server.calls("POST", LWA)), 2)

    def test_429_then_recovery(self):
        order = amazon_order(FIRST)
        self.amazon.add_order(order)
        self.amazon.pages([order])
        self.server.add(
            "GET",
            ORDERS,
            status=429,
            json_body={
                "errors": [
                    {
                        "code": "QuotaExceeded",
                        "message": "You exceeded your quota for the requested "
                        "resource.",
                    }
                ]
            },
            headers={"x-amzn-RateLimit-Limit": "0.0167"},
        )
        pulled = list(self.adapter.pull_orders(datetime(2025, 3, 1)))
        self.assertEqual([item["external_ref"] for item in pulled], [FIRST])
        self.assertEqual(len(self.server.calls("GET", ORDERS)), 2)
        self.assertEqual(len(self.waits), 1)
