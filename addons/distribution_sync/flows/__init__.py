"""Flows: what each canonical object does to Odoo.

``FLOWS`` maps a canonical object kind (the exchange's ``kind``) to the plain
Python class that applies it. A flow is built with the exchange (already in
sudo, with the backend's company) and the validated canonical data; ``run()``
returns the resulting record or raises a ``DistributionError``.

Outbound flows (``OUTBOUND_FLOWS``, by the outbound exchange's topic) are
built with the exchange alone, which points to the Odoo record to send
(``res_model``/``res_id``); ``payload()`` builds the canonical object and
``run()`` sends it through the backend's adapter.
"""

FLOWS = {}
OUTBOUND_FLOWS = {}


def register_flow(cls):
    FLOWS[cls.kind] = cls
    return cls


def register_outbound_flow(cls):
    OUTBOUND_FLOWS[cls.topic] = cls
    return cls


from . import order_cancellation  # noqa: E402
from . import order_import  # noqa: E402
from . import order_return  # noqa: E402
from . import shipment_import  # noqa: E402
from . import receipt_import  # noqa: E402
from . import stock_snapshot  # noqa: E402
from . import fulfillment_export  # noqa: E402
