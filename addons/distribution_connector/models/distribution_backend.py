import logging
import secrets
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..adapters.generic_json import GenericJsonAdapter
from ..errors import PermanentError
from ..tools import cipher, setting
from ..tools.access import MANAGER_GROUP, check_group

_logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_MAX_BYTES = 2 * 1024 * 1024

#: write-only secret field -> column holding its ciphertext
SECRET_FIELDS = {
    "webhook_secret": "webhook_secret_enc",
    "api_key": "api_key_enc",
    "api_secret": "api_secret_enc",
}


#: what the webhook route reads of its backend, cached per webhook token
WEBHOOK_FIELDS = (
    "active",
    "paused",
    "adapter",
    "company_id",
    "job_user_id",
    "webhook_max_bytes",
    "webhook_secret_enc",
    "webhook_secret_previous_enc",
    "webhook_secret_previous_until",
)
#: writing one of these clears the cache of the webhook route (in every worker)
WEBHOOK_CACHED_FIELDS = frozenset((*WEBHOOK_FIELDS, "webhook_token"))


class _UnknownWebhookToken(Exception):
    """No backend has this webhook token: raised inside the cached lookup so
    that unknown tokens (anyone can send some) are never cached."""


def _new_webhook_token():
    return secrets.token_urlsafe(32)


class DistributionBackend(models.Model):
    """Someone we exchange data with: a sales channel, a B2B portal, a WMS,
    a 3PL or a carrier, spoken to through one adapter."""

    _name = "distribution.backend"
    _description = "Distribution Backend"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
        tracking=True,
    )
    kind = fields.Selection(
        [
            ("sales_channel", "Sales channel"),
            ("b2b_portal", "B2B portal"),
            ("wms", "Warehouse management system"),
            ("3pl", "Third-party logistics"),
            ("carrier", "Carrier"),
        ],
        required=True,
        default="sales_channel",
        tracking=True,
    )
    adapter = fields.Selection(
        [("generic_json", "Generic JSON")],
        required=True,
        default="generic_json",
        tracking=True,
        help="How this backend's messages are signed, identified and mapped.",
    )
    paused = fields.Boolean(
        tracking=True,
        help="A paused backend stores and acknowledges its webhooks but "
        "processes none of them until it is resumed (then in the order "
        "received), and sends nothing out.",
    )
    warehouse_line_ids = fields.One2many(
        "distribution.backend.warehouse",
        "backend_id",
        string="Warehouses",
        copy=True,
        help="Warehouses that serve this backend, in order of preference.",
    )
    warehouse_ids = fields.Many2many(
        "stock.warehouse",
        compute="_compute_warehouse_ids",
        string="Served warehouses",
    )
    api_base_url = fields.Char(
        string="API base URL",
        tracking=True,
        help="Root URL of the backend's API, e.g. https://example.myshopify.com",
    )
    allow_private_network = fields.Boolean(
        tracking=True,
        help="Allow plain http and private or loopback addresses for the API "
        "(an on-premise WMS, a test server). Off: only https to public hosts.",
    )
    http_connect_timeout = fields.Float(
        string="Connect timeout (s)", default=5.0, help="Outbound HTTP calls."
    )
    http_read_timeout = fields.Float(
        string="Read timeout (s)", default=30.0, help="Outbound HTTP calls."
    )
    rate_limit_per_second = fields.Float(
        default=2.0,
        help="Outbound calls per second allowed by the backend, shared by every "
        "Odoo worker. 0 disables the limit.",
    )
    rate_limit_burst = fields.Integer(
        default=10, help="Calls that may go out at once after a quiet period."
    )
    job_user_id = fields.Many2one(
        "res.users",
        string="Run jobs as",
        required=True,
        default=lambda self: self.env.ref("base.user_root"),
        help="Technical user the queue jobs of this backend run as: a "
        "Distribution Manager, since jobs record what they did on exchanges "
        "and stock levels, which plain users only read.",
    )

    # -- webhooks -----------------------------------------------------------
    webhook_token = fields.Char(
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: _new_webhook_token(),
        groups="distribution_connector.group_distribution_manager",
        help="Unguessable part of the webhook URL identifying this backend.",
    )
    webhook_url = fields.Char(
        compute="_compute_webhook_url",
        groups="distribution_connector.group_distribution_manager",
    )
    webhook_max_bytes = fields.Integer(
        string="Largest webhook body (bytes)",
        default=lambda self: int(
            setting("webhook_max_bytes") or DEFAULT_WEBHOOK_MAX_BYTES
        ),
    )
    webhook_secret_grace_hours = fields.Integer(
        default=72,
        help="When the webhook secret is replaced, the previous one is still "
        "accepted for this many hours so that the sender can switch over.",
    )
    webhook_secret_previous_until = fields.Datetime(
        string="Previous secret accepted until",
        copy=False,
        tracking=True,
    )

    # -- secrets: write-only fields, ciphertext columns ----------------------
    webhook_secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_webhook_secret",
        groups="distribution_connector.group_distribution_manager",
        help="Shared secret of the webhook signatures. Write-only: stored "
        "encrypted, never displayed.",
    )
    api_key = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_api_key",
        groups="distribution_connector.group_distribution_manager",
        string="API key / client id",
    )
    api_secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_api_secret",
        groups="distribution_connector.group_distribution_manager",
        string="API secret / access token",
    )
    webhook_secret_enc = fields.Char(copy=False, groups="base.group_system")
    webhook_secret_previous_enc = fields.Char(copy=False, groups="base.group_system")
    api_key_enc = fields.Char(copy=False, groups="base.group_system")
    api_secret_enc = fields.Char(copy=False, groups="base.group_system")
    webhook_secret_set = fields.Boolean(compute="_compute_secrets_set")
    api_key_set = fields.Boolean(compute="_compute_secrets_set")
    api_secret_set = fields.Boolean(compute="_compute_secrets_set")

    exchange_count = fields.Integer(compute="_compute_exchange_count")
    call_log_count = fields.Integer(
        string="HTTP calls", compute="_compute_call_log_count"
    )

    _webhook_token_unique = models.Constraint(
        "UNIQUE(webhook_token)", "Each backend needs its own webhook token."
    )
    _webhook_max_bytes_positive = models.Constraint(
        "CHECK(webhook_max_bytes > 0)", "The webhook size limit must be positive."
    )

    @api.depends("warehouse_line_ids.sequence", "warehouse_line_ids.warehouse_id")
    def _compute_warehouse_ids(self):
        for backend in self:
            backend.warehouse_ids = backend._ordered_warehouses()

    def _ordered_warehouses(self):
        """Served warehouses, most preferred first."""
        self.ensure_one()
        return self.warehouse_line_ids.sorted(
            lambda line: (line.sequence, line.id)
        ).warehouse_id

    @api.depends("webhook_token")
    def _compute_webhook_url(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for backend in self:
            backend.webhook_url = (
                f"{base_url}/distribution/webhook/{backend.webhook_token}/<topic>"
                if backend.webhook_token
                else False
            )

    @api.model
    def _secret_fields(self):
        """Write-only secret fields and the columns holding their ciphertext:
        ``{field: column}``. An addon adding a secret extends this (its field
        computed by ``_compute_secrets``, its inverse calling ``_set_secret``)
        and gets encryption, the change message and redaction from here."""
        return dict(SECRET_FIELDS)

    def _compute_secrets(self):
        # Write-only: the plain value is never read back into a form.
        for backend in self:
            for name in self._secret_fields():
                backend[name] = False

    def _compute_secrets_set(self):
        secrets = {
            name: column
            for name, column in self._secret_fields().items()
            if f"{name}_set" in self._fields
        }
        rows = (
            {
                row["id"]: row
                for row in self.sudo().read(list(secrets.values()), load=False)
            }
            if self.ids
            else {}
        )
        for backend in self:
            row = rows.get(backend.id, {})
            for name, column in secrets.items():
                backend[f"{name}_set"] = bool(row.get(column))

    def _set_secret(self, name, value):
        column = self._secret_fields()[name]
        for backend in self.sudo():
            vals = {column: cipher.encrypt(value) if value else False}
            if name == "webhook_secret" and backend.webhook_secret_enc and value:
                # rotation: keep accepting the old secret for a grace period
                vals["webhook_secret_previous_enc"] = backend.webhook_secret_enc
                vals["webhook_secret_previous_until"] = (
                    fields.Datetime.now()
                    + timedelta(hours=backend.webhook_secret_grace_hours)
                )
            backend.write(vals)
            backend.message_post(
                body=self.env._("%(secret)s changed.", secret=self._fields[name].string)
            )

    def _inverse_webhook_secret(self):
        for backend in self:
            if backend.webhook_secret:
                backend._set_secret("webhook_secret", backend.webhook_secret)

    def _inverse_api_key(self):
        for backend in self:
            if backend.api_key:
                backend._set_secret("api_key", backend.api_key)

    def _inverse_api_secret(self):
        for backend in self:
            if backend.api_secret:
                backend._set_secret("api_secret", backend.api_secret)

    def _get_secret(self, name):
        """Decrypted value of a secret, for adapters. Never log it."""
        self.ensure_one()
        return cipher.decrypt(self.sudo()[self._secret_fields()[name]])

    def _webhook_secrets(self):
        """Secrets a webhook signature may use: the current one, and the
        previous one until its grace period ends."""
        self.ensure_one()
        backend = self.sudo()
        found = []
        if backend.webhook_secret_enc:
            found.append(cipher.decrypt(backend.webhook_secret_enc))
        until = backend.webhook_secret_previous_until
        if (
            backend.webhook_secret_previous_enc
            and until
            and until > fields.Datetime.now()
        ):
            found.append(cipher.decrypt(backend.webhook_secret_previous_enc))
        return found

    def _known_secrets(self):
        """Every plain secret of the backend, to scrub them from texts."""
        self.ensure_one()
        backend = self.sudo()
        tokens = [backend[column] for column in self._secret_fields().values()]
        tokens.append(backend.webhook_secret_previous_enc)
        found = [cipher.decrypt(token) for token in tokens if token]
        found.append(backend.webhook_token)
        return [value for value in found if value]

    def _redact(self, text):
        """``text`` with every secret of the backend replaced by ``***``."""
        if not text:
            return text
        for backend in self:
            for value in backend._known_secrets():
                if len(value) >= 4:
                    text = text.replace(value, "***")
        return text

    def action_revoke_previous_webhook_secret(self):
        check_group(self, MANAGER_GROUP, "write")
        self.sudo().write(
            {
                "webhook_secret_previous_enc": False,
                "webhook_secret_previous_until": False,
            }
        )

    def action_regenerate_webhook_token(self):
        check_group(self, MANAGER_GROUP, "write")
        for backend in self.sudo():
            backend.webhook_token = _new_webhook_token()
            backend.message_post(body=self.env._("Webhook URL regenerated."))

    def action_reencrypt_secrets(self):
        """Re-encrypt the stored secrets under the primary key (key rotation).

        Called on no record, it re-encrypts the secrets of every backend the
        caller may change (every backend for the superuser).
        """
        check_group(self, MANAGER_GROUP, "write")
        columns = [*SECRET_FIELDS.values(), "webhook_secret_previous_enc"]
        backends = self.with_context(active_test=False)
        if not backends:
            with_secret = [(column, "!=", False) for column in columns]
            found = backends.sudo().search(["|"] * (len(columns) - 1) + with_secret)
            # those the caller may change: the backends of its companies
            backends = found.with_env(backends.env).filtered(
                lambda backend: backend.has_access("write")
            )
        for backend in backends.sudo():
            vals = {
                column: cipher.rotate(backend[column])
                for column in columns
                if backend[column]
            }
            if vals:
                backend.write(vals)

    @api.constrains("adapter")
    def _check_adapter(self):
        for backend in self:
            if backend._get_adapter_class() is None:
                raise ValidationError(
                    self.env._(
                        "No adapter is installed for %(adapter)s.",
                        adapter=backend.adapter,
                    )
                )

    @api.constrains("job_user_id")
    def _check_job_user(self):
        for backend in self:
            if not backend.job_user_id.sudo().has_group(MANAGER_GROUP):
                raise ValidationError(
                    self.env._(
                        "The jobs of %(backend)s run as %(user)s, who is no "
                        "Distribution Manager: they could not record their work.",
                        backend=backend.name,
                        user=backend.job_user_id.name,
                    )
                )

    def _get_adapter_class(self):
        """The adapter class of this backend's ``adapter`` code; None when no
        installed addon provides it. An adapter addon adds its code to the
        ``adapter`` selection and extends this method::

            def _get_adapter_class(self):
                if self.adapter == "shopify":
                    return ShopifyAdapter
                return super()._get_adapter_class()
        """
        self.ensure_one()
        if self.adapter == "generic_json":
            return GenericJsonAdapter
        return None

    def _get_adapter(self):
        """The adapter of this backend: its class built on the backend."""
        self.ensure_one()
        adapter_class = self._get_adapter_class()
        if adapter_class is None:
            raise PermanentError(
                f"No adapter is installed for {self.adapter}.", kind="configuration"
            )
        return adapter_class(self)

    def _http_client(self):
        """The HTTP client of this backend (shared rate limit, retries, log)."""
        return self._get_adapter().http_client()

    def _compute_exchange_count(self):
        counts = dict(
            self.env["distribution.exchange"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.exchange_count = counts.get(backend, 0)

    def _compute_call_log_count(self):
        counts = dict(
            self.env["distribution.call.log"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.call_log_count = counts.get(backend, 0)

    def action_view_call_logs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_call_log"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    def action_view_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_connector.action_distribution_exchange"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        return action

    def action_pause(self):
        check_group(self, MANAGER_GROUP, "write")
        self.paused = True

    def action_resume(self):
        """Activate (or resume) the backend: it processes its webhooks and
        sends out. Its webhooks are signed, so it needs its secret first.
        What arrived while it was paused is dispatched, oldest first."""
        check_group(self, MANAGER_GROUP, "write")
        for backend in self:
            if not backend.sudo().webhook_secret_enc:
                raise UserError(
                    self.env._(
                        "Set the webhook secret of %(name)s before activating it: "
                        "its webhooks could not be verified.",
                        name=backend.name,
                    )
                )
        self.paused = False
        exchanges = self.env["distribution.exchange"].sudo()
        for backend in self:
            waiting = exchanges.search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("direction", "=", "in"),
                    ("state", "=", "received"),
                    ("dispatched_at", "=", False),
                ],
                limit=1,
            )
            if waiting:
                exchanges._delay_dispatch(backend)

    @api.model
    def _find_by_webhook_token(self, token):
        """Backend owning ``token`` (archived ones included: they answer 404).

        What the webhook route reads of it (``WEBHOOK_FIELDS``) comes from a
        per-process cache, cleared in every worker when one of those fields
        or the token is written (see :meth:`write`): a paused, archived or
        re-keyed backend is seen as such from the next request on.
        """
        if not token or len(token) > 128:
            return self.browse()
        try:
            values = self._webhook_backend_values(token)
        except _UnknownWebhookToken:
            return self.browse()
        backend = self.sudo().with_context(active_test=False).browse(values[0])
        for name, value in zip(WEBHOOK_FIELDS, values[1:], strict=True):
            # what a search_fetch of these fields would put in the record cache
            self._fields[name]._insert_cache(backend, (value,))
        return backend

    @api.model
    @tools.ormcache("token")
    def _webhook_backend_values(self, token):
        """``(id, *WEBHOOK_FIELDS)`` of the backend owning ``token``, as
        stored; one narrow query, cached. Holds ciphertexts only."""
        self.flush_model(list(WEBHOOK_CACHED_FIELDS))
        self.env.cr.execute(
            SQL(
                "SELECT id, %s FROM distribution_backend WHERE webhook_token = %s",
                SQL(", ").join(SQL.identifier(name) for name in WEBHOOK_FIELDS),
                token,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            raise _UnknownWebhookToken()
        return tuple(row)

    def write(self, vals):
        result = super().write(vals)
        if WEBHOOK_CACHED_FIELDS.intersection(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def _check_can_sign(self):
        for backend in self:
            if not backend.sudo().webhook_secret_enc:
                raise UserError(
                    self.env._(
                        "Backend %(name)s has no webhook secret yet.", name=backend.name
                    )
                )

    # -- demo data ----------------------------------------------------------------

    def _demo_deliver(self, url_topic, headers, body, process=True):
        """Demo data: receive one delivery the way the webhook route does
        and, unless ``process`` is false, process it now the way its job
        does; left unprocessed, it waits for the backend's dispatcher.

        Demo data thus goes through the inbox and the flows, never written
        as results. What the route would refuse (a bad signature, an unknown
        topic) fails the demo's installation.

        :param headers: the headers the sender would send, signature included
        :param body: the raw body (bytes)
        :return: the exchange
        """
        self.ensure_one()
        if self.paused or not self.active:
            raise UserError(
                self.env._("Backend %(name)s receives nothing.", name=self.name)
            )
        headers = {name.lower(): value for name, value in headers.items()}
        content_type = headers.get("content-type", "").split(";")[0].strip()
        status, message, exchange = self.env["distribution.exchange"]._receive_webhook(
            self, url_topic, headers, content_type, body
        )
        if exchange is None:
            raise UserError(
                self.env._(
                    "The demo delivery %(topic)s to %(name)s was refused: "
                    "%(status)s %(message)s",
                    topic=url_topic,
                    name=self.name,
                    status=status,
                    message=message,
                )
            )
        if process and exchange.state == "received":
            # what the dispatcher and the processing job do, now (no queue
            # job stands behind it: the exchange is processed before the
            # dispatch cron could look for one)
            exchange._mark_dispatched([None])
            exchange._job_records(self).process()
        return exchange
