"""While PostgreSQL cannot be reached, a webhook is answered 503 with
Retry-After (distribution_webhook_unavailable, loaded server-wide), not
Odoo's 404, so that the sender delivers the event again.

A real Odoo server is started on this test's database, through a TCP relay
to PostgreSQL that the test cuts, as a PostgreSQL restart does.
"""

import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

from odoo.tests import TransactionCase, tagged
from odoo.tools import config


class PostgresRelay:
    """Relays 127.0.0.1:<port> to PostgreSQL; ``cut()`` closes every
    relayed connection and refuses new ones."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.peers = {}
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            for key, _mask in self.selector.select(timeout=0.2):
                with self.lock:
                    if not self.running:
                        return
                    if key.fileobj is self.listener:
                        client, _address = self.listener.accept()
                        server = socket.create_connection(self.target, timeout=5)
                        for one, other in ((client, server), (server, client)):
                            self.peers[one] = other
                            self.selector.register(one, selectors.EVENT_READ)
                        continue
                    sock = key.fileobj
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        self.peers[sock].sendall(data)
                    else:
                        self._close_pair(sock)

    def _close_pair(self, sock):
        if sock not in self.peers:
            return  # closed with its peer already
        other = self.peers.pop(sock)
        del self.peers[other]
        for one in (sock, other):
            self.selector.unregister(one)
            one.close()

    def cut(self):
        with self.lock:
            self.running = False
            for sock in list(self.peers):
                self._close_pair(sock)
            self.selector.unregister(self.listener)
            self.listener.close()
        self.thread.join(timeout=5)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestWebhookWithoutDatabase(TransactionCase):
    def _start_odoo(self, relay, http_port, data_dir):
        addons_path = config["addons_path"]
        if not isinstance(addons_path, str):
            addons_path = ",".join(addons_path)
        command = [
            sys.executable,
            "-m",
            "odoo",
            "server",
            "-d",
            self.env.cr.dbname,
            "--db_host=127.0.0.1",
            f"--db_port={relay.port}",
            "-r",
            config["db_user"] or "odoo",
            f"--addons-path={addons_path}",
            "--load=base,web,distribution_webhook_unavailable",
            "--http-interface=127.0.0.1",
            f"--http-port={http_port}",
            "--max-cron-threads=0",
            "--workers=0",
            f"--data-dir={data_dir}",
            "--log-level=warn",
        ]
        env = dict(os.environ, PGPASSWORD=config["db_password"] or "")
        return subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _post(self, url):
        return requests.post(
            url, data=b"{}", headers={"Content-Type": "application/json"}, timeout=30
        )

    def test_webhook_answers_503_while_postgres_is_unreachable(self):
        relay = PostgresRelay(
            config["db_host"] or "127.0.0.1", config["db_port"] or 5432
        )
        self.addCleanup(lambda: relay.running and relay.cut())
        http_port = free_port()
        data_dir = tempfile.mkdtemp(prefix="distribution_nodb_")
        server = self._start_odoo(relay, http_port, data_dir)
        self.addCleanup(server.wait, 30)
        self.addCleanup(server.terminate)
        url = f"http://127.0.0.1:{http_port}/distribution/webhook/no-such-token/orders"

        deadline = time.monotonic() + 120
        while True:
            self.assertIsNone(server.poll(), "the Odoo server stopped")
            try:
                answer = self._post(url)
                break
            except requests.ConnectionError:
                self.assertLess(time.monotonic(), deadline, "Odoo did not start")
                time.sleep(0.5)
        # database reachable: distribution_connector's route answers
        self.assertEqual(answer.status_code, 404)
        self.assertEqual(answer.json()["error"], "unknown backend")

        relay.cut()
        answer = self._post(url)
        self.assertEqual(answer.status_code, 503)
        self.assertEqual(answer.headers["Retry-After"], "30")
        self.assertEqual(answer.json()["status"], "error")
        self.assertIn("send again later", answer.json()["error"])
