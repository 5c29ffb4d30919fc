import json
import logging

from psycopg2.errors import UniqueViolation

from odoo import fields, models

from odoo.addons.distribution_connector.errors import (
    DistributionError,
    PermanentError,
    TransientError,
)

from ..flows.fulfillment_export import FulfillmentExport
from ..flows.order_cancellation import OrderCancellation
from ..flows.order_import import OrderImport
from ..flows.order_return import OrderReturn
from ..flows.receipt_import import ReceiptImport
from ..flows.settlement_import import SettlementImport
from ..flows.shipment_import import ShipmentImport
from ..flows.stock_snapshot import StockSnapshot
from ..models.distribution_exception import EXCEPTION_TYPES, FINDING_TYPES
from ..tools import schemas

_logger = logging.getLogger(__name__)

OUTBOUND_CHANNEL = "root.distribution.outbound"


class DistributionExchange(models.Model):
    _inherit = "distribution.exchange"

    exception_ids = fields.One2many("distribution.exception", "exchange_id")
    idempotency_key = fields.Char(
        readonly=True,
        index="btree_not_null",
        help="What a shipment or receipt does, applied once per backend: the "
        "sender's id of it, else a digest of its content (order or transfer, "
        "lines and quantities, carrier and tracking, date).",
    )
    is_duplicate = fields.Boolean(
        string="Applied already",
        readonly=True,
        help="Carried a shipment or receipt applied already (same idempotency "
        "key, another delivery id): it changed nothing.",
    )
    duplicate_of_id = fields.Many2one(
        "distribution.exchange",
        string="Duplicate of",
        readonly=True,
        ondelete="set null",
        help="The exchange that applied it.",
    )

    def _get_flow_class(self):
        """The flow class that applies this exchange, chosen by its canonical
        ``kind`` and its direction (an inbound ``shipment`` is a warehouse's
        shipment to confirm, an outbound one a fulfillment to send); None
        when no flow handles it. An addon adds or replaces a flow by
        extending this method with ``_inherit``."""
        self.ensure_one()
        if self.direction == "out":
            return FulfillmentExport if self.kind == FulfillmentExport.kind else None
        flows = (
            OrderImport,
            OrderCancellation,
            OrderReturn,
            ShipmentImport,
            ReceiptImport,
            StockSnapshot,
            SettlementImport,
        )
        return next((flow for flow in flows if flow.kind == self.kind), None)

    def _apply(self):
        if self.direction == "out":
            return self._apply_outbound()
        flow_class = self._get_flow_class()
        if not flow_class:
            return super()._apply()
        backend = self.backend_id
        try:
            payload = json.loads(self.raw_body or "")
        except ValueError as err:
            raise PermanentError(
                f"The body is not valid JSON: {err}", kind="invalid_payload"
            ) from err
        adapter = backend._get_adapter()
        canonical = adapter.to_canonical(self.kind, payload)
        schemas.validate(self.kind, canonical)
        if adapter.kind_is_unsigned(payload):
            schemas.check_unambiguous(self.kind, canonical, adapter.topics.values())
        exchange = self.sudo().with_company(backend.company_id)
        try:
            return flow_class(exchange, canonical).run()
        except UniqueViolation as err:
            # A concurrent import committed the same binding after this
            # transaction's snapshot: a new attempt will see and reuse it.
            raise TransientError(
                "A concurrent import created the same record "
                f"({err.diag.constraint_name}): retrying."
            ) from err

    def _outbound_flow(self):
        """The outbound flow sending this exchange, if any."""
        return self._get_flow_class() if self.direction == "out" else None

    def _apply_outbound(self):
        flow_class = self._outbound_flow()
        if not flow_class:
            return super()._apply()
        exchange = self.sudo().with_company(self.backend_id.company_id)
        return flow_class(exchange).run()

    def _enqueue_processing(self):
        """Outbound exchanges (a retried fulfillment) run on the outbound
        channel, never in the way of inbound orders."""
        outbound = self.filtered(lambda e: e._outbound_flow())
        jobs = [
            exchange.with_user(exchange.backend_id.job_user_id)
            .with_delay(
                channel=OUTBOUND_CHANNEL,
                description=f"Send {exchange.topic} exchange #{exchange.id}",
                identity_key=f"distribution.exchange.process:{exchange.id}:"
                f"{exchange.attempts}",
            )
            .process()
            for exchange in outbound
        ]
        outbound._mark_dispatched([job.uuid for job in jobs])
        return super(DistributionExchange, self - outbound)._enqueue_processing()

    def _record_failure(self, err):
        result = super()._record_failure(err)
        if self.direction == "out" and not self.raw_body:
            self._keep_outbound_payload()
        kinds = dict(EXCEPTION_TYPES)
        vals = {
            "type": err.kind if err.kind in kinds else "permanent",
            "message": self.backend_id._redact(err.message),
            "json_path": err.json_path,
            "key": err.key,
            "details": self.backend_id._redact(err.details) if err.details else False,
        }
        exceptions = self.env["distribution.exception"].sudo()
        existing = exceptions.search(
            [
                ("exchange_id", "=", self.id),
                ("state", "=", "open"),
                ("type", "not in", FINDING_TYPES),
            ],
            limit=1,
        )
        if existing:
            vals["occurrences"] = existing.occurrences + 1
            existing.write(vals)
        else:
            exceptions.create({**vals, "exchange_id": self.id})
        return result

    def _keep_outbound_payload(self):
        """What the failed call was to send, for the review queue (the flow's
        own write was rolled back with its attempt). Never raises."""
        flow_class = self._outbound_flow()
        if not flow_class:
            return
        exchange = self.sudo().with_company(self.backend_id.company_id)
        try:
            with self.env.cr.savepoint():
                payload = flow_class(exchange).payload()
                exchange.raw_body = json.dumps(payload, indent=2, sort_keys=True)
        except DistributionError as err:
            _logger.info("No payload kept for exchange %s: %s", self.id, err.kind)

    def _record_success(self, result):
        recorded = super()._record_success(result)
        self._resolve_open_exceptions()
        return recorded

    def _record_not_applied(self, err):
        """An event retried from the review queue that turns out not to
        apply (a newer version went through meanwhile) leaves nothing to
        review."""
        recorded = super()._record_not_applied(err)
        self._resolve_open_exceptions()
        return recorded

    def _resolve_open_exceptions(self):
        self.exception_ids.filtered(
            lambda e: e.state == "open" and e.type not in FINDING_TYPES
        ).sudo().write({"state": "resolved", "resolved_at": fields.Datetime.now()})

    # -- outbound fulfillments -------------------------------------------------

    def _fulfillment_exchange(self, backend, picking):
        """The outbound exchange sending ``picking`` to ``backend``: one per
        delivery, whatever the job runs."""
        event_id = f"stock.picking/{picking.id}"
        exchange = self.search(
            [
                ("backend_id", "=", backend.id),
                ("direction", "=", "out"),
                ("topic", "=", "fulfillment"),
                ("external_event_id", "=", event_id),
            ],
            limit=1,
        )
        return exchange or self.create(
            {
                "backend_id": backend.id,
                "direction": "out",
                "topic": "fulfillment",
                "kind": "shipment",
                "external_event_id": event_id,
                "external_ref": picking.sale_id.distribution_external_id,
                "content_type": "application/json",
                "res_model": "stock.picking",
                "res_id": picking.id,
            }
        )
