"""An EDI trading partner on a real SFTP server on 127.0.0.1, stock in a
warehouse, and ways to drop its interchanges and read what we sent back.

The fixtures (``fixtures/``) follow the published examples' layout: the
X12 004010 850 and 860 of retailers' implementation guides (BEG, CUR, REF,
DTM*010, N1*BY/N1*ST with N3/N4, PO1 with BP/UP ids and PID, CTT) and the
EANCOM 1997 (D96A) ORDERS example of GS1's EANCOM manual (BGM+220, DTM+137,
NAD+BY/NAD+DP by GLN, CUX, LIN with the GTIN, PIA+1 buyer's item number,
QTY+21, PRI+AAA, UNS, CNT); ids, numbers and GLNs are the test's own.
"""

import os

from odoo.addons.distribution_connector_sftp.tests.sftp_server import (
    PASSWORD,
    USERNAME,
    SftpTestServer,
)
from odoo.addons.distribution_sync.tests.common import StockFlowMixin
from odoo.addons.queue_job.tests.common import trap_jobs

from ..adapters import edi_api

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="ascii") as handle:
        return handle.read()


class EdiPartnerMixin(StockFlowMixin):
    standard = "x12"
    version = "004010"
    our_id = "DISTSYNC"
    partner_id = "RETAILER"
    qualifier = "ZZ"

    @classmethod
    def setUpEdiPartner(cls):
        cls.setUpStockFlows()
        cls.server = SftpTestServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.buyer = cls.env["res.partner"].create(
            {"name": "Harbor Retail Inc", "is_company": True}
        )
        cls.store = cls.env["res.partner"].create(
            {
                "name": "Harbor Store 1234",
                "parent_id": cls.buyer.id,
                "type": "delivery",
                "street": "12 Dock Street",
                "zip": "97201",
                "city": "Portland",
                "barcode": "0614141000012",
            }
        )
        cls.backend.write(
            {
                "adapter": "edi",
                "edi_standard": cls.standard,
                "edi_version": cls.version,
                "edi_our_qualifier": cls.qualifier,
                "edi_our_id": cls.our_id,
                "edi_partner_qualifier": cls.qualifier,
                "edi_partner_id": cls.partner_id,
                "edi_buyer_partner_id": cls.buyer.id,
                "edi_gs1_prefix": "0614141",
                "sftp_host": "127.0.0.1",
                "sftp_port": cls.server.port,
                "sftp_username": USERNAME,
                "sftp_password": PASSWORD,
                "sftp_host_key": f"[127.0.0.1]:{cls.server.port} "
                f"{cls.server.host_key_line}",
            }
        )
        # the buyer's part number of the blue mug, mapped; the red mug is
        # found by its GTIN (its barcode)
        cls.map_sku(cls.backend, "RET-BLUE-1", cls.mug_blue)

    def setUp(self):
        super().setUp()
        self.server.reset("inbound", "outbound", "archive")

    # -- the partner's side ------------------------------------------------------------

    def drop(self, name, text):
        with open(self.server.path("inbound", name), "w", encoding="ascii") as handle:
            handle.write(text)

    def sent(self):
        """{file name: parsed interchange} of the outbound folder."""
        folder = self.server.path("outbound")
        found = {}
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="ascii") as handle:
                found[name] = edi_api.parse(handle.read())
        return found

    def sent_document(self, code):
        """The one interchange sent holding a ``code`` document, checked."""
        found = [
            interchange
            for interchange in self.sent().values()
            if [t.code for t in interchange.transactions] == [code]
        ]
        self.assertEqual(len(found), 1, f"one {code} sent: {list(self.sent())}")
        interchange = found[0]
        self.assertEqual(interchange.errors, [], f"{code} envelope is valid")
        self.assertEqual(interchange.sender, self.our_id)
        self.assertEqual(interchange.recipient, self.partner_id)
        return interchange, interchange.transactions[0]

    def receive_file(self, name, text):
        """Drop a file, poll it, process its exchange; run the jobs it
        enqueues (uploads). Return the exchange."""
        self.drop(name, text)
        created = self.backend._sftp_poll()
        self.assertEqual(len(created), 1)
        with trap_jobs() as trap:
            created.process()
            self.run_trapped_jobs(trap)
        return created

    def run_jobs(self, action):
        with trap_jobs() as trap:
            result = action()
            self.run_trapped_jobs(trap)
        return result

    def control_numbers(self):
        return [int(ic.control) for ic in self.sent().values()]
