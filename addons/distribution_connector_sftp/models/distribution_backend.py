import logging
import posixpath

import paramiko

from odoo import api, fields, models

from odoo.addons.distribution_connector.errors import DistributionError
from odoo.addons.distribution_connector.tools.access import MANAGER_GROUP, check_group

from ..sftp_client import SftpClient, file_event_id

_logger = logging.getLogger(__name__)

#: write-only SFTP secret field -> column holding its ciphertext
SFTP_SECRET_FIELDS = {
    "sftp_password": "sftp_password_enc",
    "sftp_private_key": "sftp_private_key_enc",
}


class DistributionBackend(models.Model):
    _inherit = "distribution.backend"

    sftp_host = fields.Char(
        string="SFTP host",
        help="Server of the partner's file exchange; empty: no file transport.",
    )
    sftp_port = fields.Integer(string="SFTP port", default=22)
    sftp_username = fields.Char(string="SFTP user")
    sftp_host_key = fields.Text(
        string="SFTP host key",
        help="The server's public key as ssh-keyscan prints it (for example "
        "'host ssh-ed25519 AAAA...'). A server offering another key is refused, "
        "before any credential is sent.",
    )
    sftp_password = fields.Char(
        string="SFTP password",
        compute="_compute_secrets",
        inverse="_inverse_sftp_secrets",
        help="Stored encrypted, never displayed. With a private key: its passphrase.",
    )
    sftp_private_key = fields.Text(
        string="SFTP private key",
        compute="_compute_secrets",
        inverse="_inverse_sftp_secrets",
        help="OpenSSH or PEM private key; stored encrypted, never displayed.",
    )
    sftp_password_enc = fields.Char(copy=False, groups="base.group_system")
    sftp_private_key_enc = fields.Text(copy=False, groups="base.group_system")
    sftp_inbound_dir = fields.Char(string="Inbound folder", default="inbound")
    sftp_archive_dir = fields.Char(
        string="Archive folder",
        default="archive",
        help="Where a polled file moves once its exchange is stored.",
    )
    sftp_outbound_dir = fields.Char(string="Outbound folder", default="outbound")
    sftp_inbound_topic = fields.Char(
        string="Inbound topic",
        help="Topic of the exchanges made from polled files, when the adapter "
        "does not tell it from the file name.",
    )
    sftp_last_poll = fields.Datetime(string="Last SFTP poll", readonly=True)

    # -- secrets -----------------------------------------------------------------

    def _secret_fields(self):
        return {**super()._secret_fields(), **SFTP_SECRET_FIELDS}

    def _inverse_sftp_secrets(self):
        for backend in self:
            for name in SFTP_SECRET_FIELDS:
                if backend[name]:
                    backend._set_secret(name, backend[name])

    # -- transport ---------------------------------------------------------------

    def _sftp_client(self):
        """An SFTP client (a context manager) for this backend's server."""
        self.ensure_one()
        backend = self.sudo()
        return SftpClient(
            backend.sftp_host,
            backend.sftp_port,
            backend.sftp_username,
            backend.sftp_host_key,
            password=backend._get_secret("sftp_password"),
            private_key=backend._get_secret("sftp_private_key"),
            timeout=backend.http_connect_timeout or 30,
        )

    def _sftp_file_topic(self, adapter, name):
        file_topic = getattr(adapter, "file_topic", None)
        return (file_topic and file_topic(name)) or self.sftp_inbound_topic or "file"

    def _store_inbound_file(self, name, data, **options):
        """Store a partner's file as an inbound exchange, keyed by its name,
        size and digest (the same file stored twice is one exchange); the
        adapter's ``file_topic`` names its topic from the file name.

        :param options: passed on to ``distribution.exchange._insert_inbound``
            (``committed``, ``dispatch``)
        :return: (exchange, created)
        """
        self.ensure_one()
        adapter = self._get_adapter()
        topic = self._sftp_file_topic(adapter, name)
        return (
            self.env["distribution.exchange"]
            .sudo()
            ._insert_inbound(
                self,
                topic,
                adapter.canonical_kind(topic),
                file_event_id(name, data),
                name,
                data,
                "application/octet-stream",
                {"x-file-name": name},
                **options,
            )
        )

    def _sftp_poll(self):
        """Store each file of the inbound folder as an inbound exchange, then
        move it to the archive folder.

        The exchange is committed before the file moves (``committed=True``):
        a poll that dies in between leaves the file, and the next poll finds
        its exchange by name, size and digest and only moves it. No lock is
        held across the network: two polls racing store one exchange (the
        inbox's unique event id) and one of them moves the file.

        :return: the exchanges created
        """
        self.ensure_one()
        created_exchanges = self.env["distribution.exchange"].browse()
        with self._sftp_client() as client:
            for name in client.list_files(self.sftp_inbound_dir or "."):
                path = posixpath.join(self.sftp_inbound_dir or ".", name)
                data = client.read_file(path)
                exchange, created = self._store_inbound_file(name, data, committed=True)
                if created:
                    created_exchanges |= exchange
                try:
                    client.archive(path, self.sftp_archive_dir or "archive")
                except OSError as err:
                    # stored already: the next poll finds it and moves it
                    _logger.warning(
                        "Backend %s: %s stored but not archived (%s)",
                        self.id,
                        name,
                        err,
                    )
        self.sftp_last_poll = fields.Datetime.now()
        return created_exchanges

    def _sftp_upload(self, name, data):
        """Upload an outbound document; see ``SftpClient.upload``."""
        self.ensure_one()
        with self._sftp_client() as client:
            return client.upload(self.sftp_outbound_dir or ".", name, data)

    def action_sftp_poll(self):
        check_group(self, MANAGER_GROUP, "write")
        for backend in self:
            backend._sftp_poll()
        return True

    @api.model
    def _cron_sftp_poll(self):
        """Poll every running backend with an SFTP server; one failing backend
        does not stop the others."""
        backends = self.search([("sftp_host", "!=", False), ("paused", "=", False)])
        for backend in backends:
            try:
                backend._sftp_poll()
            except (DistributionError, OSError, paramiko.SSHException) as err:
                # a missing folder or a dropped connection: the next run retries
                _logger.warning(
                    "SFTP poll of backend %s failed: %s",
                    backend.id,
                    backend._redact(str(err)),
                )
