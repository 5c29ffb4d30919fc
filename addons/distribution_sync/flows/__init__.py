"""Flows: what each canonical object does to Odoo.

``distribution.exchange._get_flow_class()`` picks the plain Python class
that applies an exchange, by its canonical ``kind`` (and direction); an
addon adds or replaces a flow by extending that method with ``_inherit``.
An inbound flow is built with the exchange (already in sudo, with the
backend's company) and the validated canonical data; ``run()`` returns the
resulting record or raises a ``DistributionError``.

Outbound flows are built with the exchange alone, which points to the Odoo
record to send (``res_model``/``res_id``); ``payload()`` builds the
canonical object and ``run()`` sends it through the backend's adapter.
"""


class InboundFlow:
    """Base of the inbound flows: what every one of them works with."""

    kind = None

    def __init__(self, exchange, data):
        self.exchange = exchange
        self.data = data
        self.backend = exchange.backend_id
        self.company = self.backend.company_id
        self.env = exchange.env
        self.bindings = self.env["distribution.binding"]

    def run(self):
        raise NotImplementedError


from . import order_cancellation  # noqa: E402
from . import order_import  # noqa: E402
from . import order_return  # noqa: E402
from . import shipment_import  # noqa: E402
from . import receipt_import  # noqa: E402
from . import stock_snapshot  # noqa: E402
from . import fulfillment_export  # noqa: E402
from . import settlement_import  # noqa: E402
