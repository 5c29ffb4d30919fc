import json
from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.distribution_connector.tools.access import (
    MANAGER_GROUP,
    check_group,
)
from odoo.addons.distribution_sync.flows.common import parse_datetime

from ..adapters.amazon import FBA_INVENTORY_TOPIC, AmazonAdapter
from ..adapters.amazon_api import LWA_TOKEN_URL, REGION_ENDPOINTS, cached_tokens
from .distribution_amazon_marketplace import CHANNELS

FBA_INVENTORY = "amazon_fba_inventory"
SETTLEMENTS = "amazon_settlement"
#: how long Amazon keeps reports: the first settlement pull looks this far back
REPORT_DAYS = 90


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    adapter = fields.Selection(
        selection_add=[("amazon", "Amazon")],
        ondelete={"amazon": "set default"},
    )
    amazon_region = fields.Selection(
        [("na", "North America"), ("eu", "Europe"), ("fe", "Far East")],
        string="Amazon region",
        default="eu",
        tracking=True,
        help="The Selling Partner API region of the seller's marketplaces; "
        "choosing it fills the API base URL with the region's endpoint.",
    )
    amazon_marketplace_line_ids = fields.One2many(
        "distribution.amazon.marketplace",
        "backend_id",
        string="Amazon marketplaces",
        help="The marketplaces whose orders are pulled, each with who ships "
        "its orders (the seller, Amazon, or both).",
    )
    amazon_seller_id = fields.Char(
        string="Amazon seller id",
        tracking=True,
        help="The merchant token of the seller (Seller Central, Account Info).",
    )
    amazon_feed_threshold = fields.Integer(
        string="Amazon feed from (items)",
        default=10,
        tracking=True,
        help="A stock batch of at least this many SKUs goes out as one "
        "JSON_LISTINGS_FEED (processed by Amazon within minutes, read back "
        "per SKU); smaller batches by patchListingsItem, one call a SKU. "
        "0: never by feed.",
    )
    amazon_fba_warehouse_id = fields.Many2one(
        "stock.warehouse",
        string="Amazon FBA warehouse",
        check_company=True,
        tracking=True,
        help="Stands for Amazon's fulfillment centres: orders Amazon "
        "fulfills (FBA) are delivered from it as soon as they are imported, "
        "and Amazon's inventory summaries are compared with its stock. Keep "
        "it out of the warehouses whose stock is published.",
    )
    amazon_settlement_import = fields.Boolean(
        string="Import Amazon settlements",
        default=True,
        tracking=True,
        help="Pull the settlement reports Amazon makes every two weeks and "
        "match them with the orders' invoices and credit notes.",
    )
    amazon_lwa_url = fields.Char(
        string="Login with Amazon token URL",
        default=LWA_TOKEN_URL,
        tracking=True,
        help="Where access tokens are obtained from the refresh token.",
    )
    amazon_refresh_token = fields.Char(
        string="Amazon refresh token",
        compute="_compute_secrets",
        inverse="_inverse_amazon_refresh_token",
        help="The refresh token the seller's authorisation of the app gave. "
        "Write-only: stored encrypted.",
    )
    amazon_refresh_token_enc = fields.Char(copy=False, groups="base.group_system")
    amazon_refresh_token_set = fields.Boolean(compute="_compute_secrets_set")

    def _get_adapter_class(self):
        """Amazon backends speak through ``AmazonAdapter``."""
        if self.adapter == "amazon":
            return AmazonAdapter
        return super()._get_adapter_class()

    def _secret_fields(self):
        return {
            **super()._secret_fields(),
            "amazon_refresh_token": "amazon_refresh_token_enc",
        }

    def _inverse_amazon_refresh_token(self):
        for backend in self:
            if backend.amazon_refresh_token:
                backend._set_secret(
                    "amazon_refresh_token", backend.amazon_refresh_token
                )

    def _amazon_refresh_token(self):
        """The decrypted refresh token, for the adapter. Never log it."""
        return self._get_secret("amazon_refresh_token") or None

    def _known_secrets(self):
        found = super()._known_secrets()
        if self.adapter == "amazon":
            found += [value for value in cached_tokens(self) if value]
        return found

    def _amazon_marketplace_ids(self, channel=None):
        """The backend's marketplace ids; with ``channel`` (``mfn`` or
        ``afn``), those whose orders that channel fulfills."""
        self.ensure_one()
        wanted = CHANNELS[channel][0] if channel else None
        return [
            line.marketplace_id
            for line in self.amazon_marketplace_line_ids
            if not wanted or wanted in CHANNELS[line.fulfillment_channel]
        ]

    def _amazon_fulfillment_channels(self, marketplace_id):
        """Amazon's ``FulfillmentChannel`` values imported from a marketplace."""
        self.ensure_one()
        return self.amazon_marketplace_line_ids.filtered(
            lambda line: line.marketplace_id == marketplace_id
        )._channels()

    @api.onchange("adapter", "amazon_region")
    def _onchange_amazon_region(self):
        if self.adapter == "amazon" and self.amazon_region:
            self.api_base_url = REGION_ENDPOINTS[self.amazon_region]

    def action_amazon_create_fba_warehouse(self):
        """Button: a warehouse of its own standing for Amazon's fulfillment
        centres (code ``FBA`` and the backend's id)."""
        check_group(self, MANAGER_GROUP)
        for backend in self.filtered(lambda b: not b.amazon_fba_warehouse_id):
            backend.amazon_fba_warehouse_id = (
                self.env["stock.warehouse"]
                .sudo()
                .create(
                    {
                        "name": self.env._(
                            "Amazon FBA (%(backend)s)", backend=backend.name
                        ),
                        "code": f"FBA{backend.id}"[:5],
                        "company_id": backend.company_id.id,
                    }
                )
            )
        return True

    # -- order import: what Amazon says of the order ------------------------------

    def _prepare_order_vals(self, data, vals):
        """Amazon's flags and deadline on the order; an order Amazon fulfills
        (FBA) is sold from the FBA warehouse (it is delivered when confirmed,
        see ``sale.order._amazon_delivered_by_amazon``)."""
        vals = super()._prepare_order_vals(data, vals)
        if self.adapter != "amazon":
            return vals
        info = data.get("channel_data") or {}
        channel = "AFN" if info.get("fulfillment_channel") == "AFN" else "MFN"
        vals.update(
            amazon_fulfillment_channel=channel,
            amazon_is_prime=bool(info.get("is_prime")),
            amazon_is_business_order=bool(info.get("is_business_order")),
            amazon_latest_ship_date=parse_datetime(info.get("latest_ship_date")),
            amazon_marketplace_id=info.get("marketplace_id") or False,
        )
        if channel == "AFN":
            if not self.amazon_fba_warehouse_id:
                raise PermanentError(
                    f"Order {data['external_id']} was fulfilled by Amazon, but "
                    f"backend {self.name} has no FBA warehouse: set one (or "
                    "create it from the backend), then retry.",
                    kind="configuration",
                    key=data["external_id"],
                )
            vals["warehouse_id"] = self.amazon_fba_warehouse_id.id
        return vals

    # -- FBA inventory: Amazon's stock, read for reconciliation ----------------------
    # Amazon owns the stock of its fulfillment centres: it is never
    # published, only compared. The check runs as every reconciliation
    # (cron, button, job, locked watermark); Amazon's summaries go through the
    # inbox as a stock snapshot of the FBA warehouse, whose differences with
    # Odoo become stock drift exceptions for review (Apply count).

    def _checks_fba_inventory(self):
        self.ensure_one()
        return (
            self.adapter == "amazon"
            and bool(self.amazon_fba_warehouse_id)
            and bool(self._amazon_marketplace_ids("afn"))
        )

    @api.model
    def _cron_check_fba_inventory(self):
        """Scheduled action: read the FBA inventory of every Amazon backend
        with FBA marketplaces."""
        return self._cron_reconcile(
            FBA_INVENTORY,
            "_check_fba_inventory",
            lambda backend: backend._checks_fba_inventory(),
        )

    def action_check_fba_inventory(self):
        """Button: read Amazon's FBA inventory now, in a job."""
        return self._delay_reconcile(
            "check_fba_inventory_job", "Read the FBA inventory of %(backend)s"
        )

    @api.private
    def check_fba_inventory_job(self):
        """Job entry point; transient failures retry the job."""
        self.ensure_one()
        return self._check_fba_inventory(retry=True)

    def _check_fba_inventory(self, retry=False):
        self.ensure_one()
        if not self._checks_fba_inventory():
            return "nothing to do: no FBA marketplace or no FBA warehouse"
        return self._run_reconcile(
            FBA_INVENTORY,
            "FBA inventory check",
            self._check_fba_inventory_run,
            self.env._("Reading the FBA inventory failed: %(error)s"),
            retry=retry,
        )

    def _check_fba_inventory_run(self, _watermark):
        started = fields.Datetime.now()
        adapter = self._get_adapter()
        marketplace = self._amazon_marketplace_ids("afn")[0]
        summaries = adapter.read_fba_inventory(marketplace)
        payload = {
            "MarketplaceId": marketplace,
            "WarehouseCode": self.amazon_fba_warehouse_id.code,
            "ReadAt": fields.Datetime.to_string(started),
            "InventorySummaries": summaries,
        }
        _exchange, created = (
            self.env["distribution.exchange"]
            .sudo()
            ._insert_inbound(
                self,
                FBA_INVENTORY_TOPIC,
                "stock_snapshot",
                # each check compares anew: Odoo's side moves too
                f"fba_inventory:{marketplace}:{payload['ReadAt']}",
                marketplace,
                json.dumps(payload, sort_keys=True).encode(),
                "application/json",
                {"x-distribution-source": FBA_INVENTORY},
            )
        )
        result = f"{len(summaries)} FBA SKUs read" + ("" if created else ", known")
        return result, started

    # -- settlements: Amazon's payouts, matched to orders and invoices ---------------

    def _imports_amazon_settlements(self):
        self.ensure_one()
        return self.adapter == "amazon" and self.amazon_settlement_import

    @api.model
    def _cron_import_amazon_settlements(self):
        """Scheduled action: pull the new settlement reports of every Amazon
        backend that imports them."""
        return self._cron_reconcile(
            SETTLEMENTS,
            "_import_amazon_settlements",
            lambda backend: backend._imports_amazon_settlements(),
        )

    def action_import_amazon_settlements(self):
        """Button: pull Amazon's new settlement reports now, in a job."""
        return self._delay_reconcile(
            "import_amazon_settlements_job", "Import the settlements of %(backend)s"
        )

    @api.private
    def import_amazon_settlements_job(self):
        """Job entry point; transient failures retry the job."""
        self.ensure_one()
        return self._import_amazon_settlements(retry=True)

    def _import_amazon_settlements(self, retry=False):
        self.ensure_one()
        if not self._imports_amazon_settlements():
            return "nothing to do: this backend does not import Amazon settlements"
        return self._run_reconcile(
            SETTLEMENTS,
            "settlement import",
            self._import_amazon_settlements_run,
            self.env._("Importing the Amazon settlements failed: %(error)s"),
            retry=retry,
        )

    def _import_amazon_settlements_run(self, watermark):
        """Each new report through the inbox (one exchange a report: the
        settlement flow stores and matches it)."""
        started = fields.Datetime.now()
        since = (
            watermark.watermark - timedelta(minutes=self.order_pull_overlap_minutes)
            if watermark.watermark
            else started - timedelta(days=REPORT_DAYS)
        )
        exchanges = self.env["distribution.exchange"].sudo()
        count = 0
        for item in self._get_adapter().pull_settlement_reports(since):
            _exchange, created = exchanges._insert_inbound(
                self,
                item["topic"],
                "settlement",
                item["event_id"],
                item["external_ref"],
                json.dumps(item["payload"], sort_keys=True).encode(),
                "application/json",
                {"x-distribution-source": SETTLEMENTS},
            )
            count += bool(created)
        return f"{count} settlement reports pulled", started
