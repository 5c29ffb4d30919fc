#!/usr/bin/env python3
"""Webhook throughput and latency, compared with a bare Odoo route.

What it measures: how fast a running Odoo acknowledges signed inbound
webhooks (``POST /distribution/webhook/<token>/order``: signature check,
one exchange row, a check that its backend's dispatcher job is pending,
answer) compared with a POST route that
does nothing (``/distribution/bench/bare`` from the benchmark-only addon
``tests/benchmarks/addons/distribution_bench_bare``, declared with the
webhook route's decorator). Both targets get the same load in the same
run: N requests with M concurrent clients, for each M of ``--clients``,
with identical ~2 KB canonical order bodies and headers (each request has
its own event id and HMAC-SHA256 signature). Rounds alternate between the
targets (bare, webhook, bare, webhook) and each target is warmed up first.

Per concurrency level it prints acks/s (2xx answers per second), p50 and
p99 latency for both targets and the webhook/bare ratios, with PASS/FAIL
against the goals: throughput >= 0.7x and p99 <= 1.5x the bare route's.
Absolute figures depend on the machine (and on what else runs on it):
judge by the ratios. On a virtual machine each round also shows the share
of CPU time the host gave to other machines meanwhile ("steal", Linux): a
round that lost much of it is not comparable with its neighbours.

How: it creates a throwaway database ``distribution_bench_<hex>``
(PostgreSQL from PGHOST, PGPORT, PGUSER, default 127.0.0.1, 5432, odoo),
installs distribution_sync and the bare-route addon, creates a generic_json
backend with a webhook secret and the products the orders refer to, then
starts Odoo as odoo.conf.example recommends and as ``make run`` does: the
two instances of the Procfile, run by honcho (the example's settings are
copied: the front instance's HTTP workers and queue_job's runner and
channels, the jobs instance of ``[distribution_jobs]``), on free ports of
127.0.0.1, logging warnings to files. At the end it waits for the
dispatchers and checks that the database holds exactly one exchange and one
processing job per webhook sent, stops Odoo and drops the database (unless
``--keep-db``).

The job runner runs during the measurement, as in production: the orders
that the webhooks bring in are imported meanwhile by the jobs instance, at
its lower CPU priority. Each level starts with the webhook warm-up, so the
runner has work from the first round on, and the rounds follow each other
without waiting: both targets are measured while the jobs instance works
through the backlog with the CPU the requests leave (each round line shows
the queue and the jobs finished meanwhile). With ``--drain-timeout S`` every
round waits instead (up to S seconds) for an empty queue: each round then
starts on an idle server and the webhook rounds bear the imports they cause
(a burst on a quiet server; much slower to run).

Odoo answers every request with ``Connection: close`` and queues at most
``8 * workers`` connections (56 with the example's 7 workers): beyond that
connections fail or wait for the kernel's SYN retry (1 s, 3 s...). A failed
connection is retried (same body, same event id, up to 5 attempts, timed
from the first one) and counted under "retries", as a webhook sender
would.

The encryption key comes from DISTRIBUTION_ENCRYPTION_KEYS, generated for
the run when unset.

Run it (a few minutes with the defaults on two cores)::

    python3 tests/benchmarks/bench_webhook.py [--requests N] [--clients 10,50]
        [--keep-db]

Exit status: 0 when every answer and count is right and the goals are met,
1 when an answer or a count is wrong, 2 when a goal is missed, 3 when the
setup fails (Odoo 19.0 not importable, PostgreSQL not answering, install
failure, Odoo not starting).
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import hmac
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

REPO = Path(__file__).resolve().parents[2]
ADDONS_DIR = REPO / "addons"
BENCH_ADDONS_DIR = Path(__file__).resolve().parent / "addons"
CONF_EXAMPLE = REPO / "odoo.conf.example"
PROCFILE = REPO / "Procfile"
HONCHO = [sys.executable, "-m", "honcho", "start", "--no-colour"]
sys.path.insert(0, str(REPO / "tools"))
from jobs_instance_options import LayoutError, jobs_options  # noqa: E402

INSTALL = "distribution_sync,distribution_bench_bare"
KEYS_ENV = "DISTRIBUTION_ENCRYPTION_KEYS"
BARE_PATH = "/distribution/bench/bare"
WEBHOOK_PATH = "/distribution/webhook/{token}/order"
SIGNATURE_HEADER = "X-Distribution-Signature"
EVENT_ID_HEADER = "X-Distribution-Event-Id"

GOAL_THROUGHPUT = 0.7  # webhook acks/s >= 0.7 x bare acks/s
GOAL_P99 = 1.5  # webhook p99 <= 1.5 x bare p99
MAX_ATTEMPTS = 5  # per request, when the connection fails

EXIT_WRONG = 1
EXIT_GOAL = 2
EXIT_SETUP = 3

SKUS = [
    ("BENCH-TSHIRT-M", "Organic cotton T-shirt, size M, heather grey", 19.9),
    ("BENCH-MUG-350", "Stoneware mug 350 ml, matte black", 12.5),
    ("BENCH-BAG-TOTE", "Recycled canvas tote bag, natural", 24.0),
]

# Runs in `odoo shell` (stdin): the backend, its secret and the products.
SETUP_SCRIPT = """
import json
import os

products = env["product.product"]
for sku, name, price in json.loads(os.environ["BENCH_SKUS"]):
    products |= products.create(
        {"name": name, "default_code": sku, "list_price": price, "is_storable": True}
    )
backend = env["distribution.backend"].create(
    {
        "name": "Benchmark channel",
        "kind": "sales_channel",
        "adapter": "generic_json",
        "webhook_secret": os.environ["BENCH_WEBHOOK_SECRET"],
    }
)
env.cr.commit()
print("BENCH-SETUP " + json.dumps({
    "token": backend.webhook_token,
    "currency": env.company.currency_id.name,
}))
"""


class SetupError(Exception):
    """The benchmark cannot run (missing prerequisite, Odoo failure)."""


# ---------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------


def order_body(external_id: str, currency: str, serial: int) -> bytes:
    """A canonical order (addons/distribution_sync/schemas/order.json), ~2 KB."""
    lines = []
    total = 0.0
    for index, (sku, name, price) in enumerate(SKUS):
        quantity = 1 + (serial + index) % 3
        discount = 2.0 if index == 0 else 0.0
        total += quantity * price - discount
        lines.append(
            {
                "external_id": f"{external_id}-L{index + 1}",
                "sku": sku,
                "name": name,
                "quantity": quantity,
                "unit_price": price,
                "discount_amount": discount,
            }
        )
    shipping_price = 4.9
    total += shipping_price
    address = {
        "name": f"Camille Durand {serial}",
        "street": f"{10 + serial % 90} Rue des Lilas",
        "street2": "Bâtiment B, 3e étage",
        "city": "Lyon",
        "zip": "69003",
        "country_code": "FR",
        "phone": "+33 4 72 00 00 00",
        "email": f"camille.durand.{serial}@example.com",
    }
    order = {
        "external_id": external_id,
        "name": f"#{100000 + serial}",
        "created_at": "2025-03-14T09:26:53Z",
        "updated_at": "2025-03-14T09:27:10+01:00",
        "currency": currency,
        "taxes_included": False,
        "status": "paid",
        "note": "Please leave the parcel with the concierge if nobody answers. "
        "Gift wrapping requested for the mug; no invoice in the parcel.",
        "total": round(total, 2),
        "customer": {
            "external_id": f"{external_id}-C",
            "name": address["name"],
            "email": address["email"],
            "phone": address["phone"],
        },
        "billing_address": address,
        "shipping_address": dict(address, street2="Loge du gardien"),
        "lines": lines,
        "shipping": [
            {"code": "colissimo", "name": "Colissimo 48h", "price": shipping_price}
        ],
    }
    return json.dumps(order, indent=2, ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The generic_json adapter's scheme: sha256=<hex HMAC-SHA256(secret, body)>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def make_requests(
    count: int, prefix: str, secret: str, currency: str
) -> list[tuple[bytes, dict[str, str]]]:
    items = []
    for serial in range(count):
        external_id = f"{prefix}-{serial}"
        body = order_body(external_id, currency, serial)
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: f"{external_id}-{uuid.uuid4().hex}",
            SIGNATURE_HEADER: signature(secret, body),
        }
        items.append((body, headers))
    return items


# ---------------------------------------------------------------------------
# Load generator
# ---------------------------------------------------------------------------


@dataclass
class Result:
    """The answers one target gave during one or more rounds."""

    latencies: list[float] = field(default_factory=list)  # seconds, 2xx only
    elapsed: float = 0.0  # wall time of the rounds, seconds
    acks: int = 0
    non_2xx: int = 0
    exceptions: int = 0
    unexpected: int = 0  # 2xx whose body is not the expected one
    retries: int = 0  # connection errors retried
    duplicates: int = 0  # "duplicate": an earlier attempt was stored
    samples: list[str] = field(default_factory=list)
    stolen: list[float] = field(default_factory=list)  # host steal, per round

    def sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)

    def add(self, other: Result) -> None:
        self.latencies += other.latencies
        self.elapsed += other.elapsed
        self.acks += other.acks
        self.non_2xx += other.non_2xx
        self.exceptions += other.exceptions
        self.unexpected += other.unexpected
        self.retries += other.retries
        self.duplicates += other.duplicates
        self.samples = (self.samples + other.samples)[:5]
        self.stolen += other.stolen

    @property
    def errors(self) -> int:
        return self.non_2xx + self.exceptions + self.unexpected

    @property
    def rate(self) -> float:
        return self.acks / self.elapsed if self.elapsed else 0.0

    def percentile(self, pct: float) -> float:
        """Nearest-rank percentile of the 2xx latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, -(-len(ordered) * pct // 100))  # ceil
        return ordered[int(rank) - 1] * 1000


def post_all(
    url: str,
    items: list[tuple[bytes, dict[str, str]]],
    clients: int,
    expected_status: str,
) -> Result:
    """POST every item with ``clients`` threads, each with its own session."""
    import requests

    counter = itertools.count()
    barrier = threading.Barrier(clients + 1)
    per_thread = [Result() for _ in range(clients)]

    def client(result: Result) -> None:
        session = requests.Session()
        barrier.wait()
        while (index := next(counter)) < len(items):
            body, headers = items[index]
            start = time.perf_counter()
            response = error = None
            for attempt in range(MAX_ATTEMPTS):
                try:
                    response = session.post(
                        url, data=body, headers=headers, timeout=120
                    )
                    break
                except requests.ConnectionError as exc:
                    # e.g. a reset during the TCP handshake when Odoo's listen
                    # backlog is full: a sender retries, so do we (same body,
                    # same event id), timing from the first attempt
                    error = exc
                    if attempt + 1 < MAX_ATTEMPTS:
                        result.retries += 1
                except requests.RequestException as exc:
                    error = exc
                    break
            latency = time.perf_counter() - start
            if response is None:
                result.exceptions += 1
                result.sample(f"{type(error).__name__}: {error}")
                continue
            if not 200 <= response.status_code < 300:
                result.non_2xx += 1
                result.sample(f"{response.status_code}: {response.text[:200]}")
                continue
            result.acks += 1
            result.latencies.append(latency)
            try:
                status = response.json().get("status")
            except ValueError:
                status = None
            if status == "duplicate" and expected_status == "accepted" and attempt:
                # an attempt that failed after Odoo had stored the event
                result.duplicates += 1
            elif status != expected_status or response.status_code != 200:
                result.unexpected += 1
                result.sample(f"{response.status_code}: {response.text[:200]}")
        session.close()

    threads = [
        threading.Thread(target=client, args=(result,), daemon=True)
        for result in per_thread
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    total = Result(elapsed=time.perf_counter() - start)
    for result in per_thread:
        result.elapsed = 0.0
        total.add(result)
    return total


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@dataclass
class Pg:
    host: str
    port: int
    user: str

    def psql(self, sql: str, db: str = "postgres") -> str:
        psql_bin = shutil.which("psql")
        if not psql_bin:
            raise SetupError("psql (the PostgreSQL client) is not installed.")
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        cmd = [psql_bin, "-h", self.host, "-p", str(self.port), "-U", self.user]
        done = subprocess.run(
            [*cmd, "-d", db, "-v", "ON_ERROR_STOP=1", "-XtAq", "-c", sql],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise SetupError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def check(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=5):
                pass
        except OSError as exc:
            raise SetupError(
                f"PostgreSQL does not answer at {self.host}:{self.port} ({exc})."
            ) from exc
        self.psql("SELECT 1")

    def drop(self, db: str) -> None:
        name = '"' + db.replace('"', '""') + '"'
        try:
            self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except SetupError as exc:
            print(f"warning: could not drop database {db}: {exc}", file=sys.stderr)

    def job_counts(self, db: str) -> tuple[int, int]:
        """(jobs waiting or running, jobs finished) in the database."""
        row = self.psql(
            "SELECT count(*) FILTER (WHERE state NOT IN ('done', 'failed',"
            " 'cancelled')), count(*) FILTER (WHERE state IN ('done', 'failed'))"
            " FROM queue_job",
            db,
        )
        pending, finished = row.split("|")
        return int(pending), int(finished)


# ---------------------------------------------------------------------------
# Odoo
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_odoo() -> str:
    try:
        from odoo import release
    except Exception as exc:  # any failure means "not usable"
        raise SetupError(f"Odoo 19.0 is not importable: {exc}") from exc
    if not str(release.serie).startswith("19.0"):
        raise SetupError(f"Odoo 19.0 is needed, found {release.serie}.")
    if not odoo_command().is_file():
        raise SetupError(
            f"{odoo_command()} is missing: Odoo is not installed as a package."
        )
    try:
        import honcho  # noqa: F401
    except ImportError as exc:
        raise SetupError("honcho (requirements.txt) is not installed.") from exc
    return release.version


def odoo_command() -> Path:
    """The odoo command of this interpreter's Odoo package, as ``make run``
    uses it: Odoo's prefork server runs it again for its gevent worker."""
    return Path(sysconfig.get_path("scripts")) / "odoo"


def write_config(
    path: Path, workdir: Path, pg: Pg, db: str, port: int, jobs_port: int
) -> None:
    """odoo.conf.example's settings, pointed at the bench database and ports."""
    config = configparser.RawConfigParser()
    config.read(CONF_EXAMPLE, encoding="utf-8")
    options = {
        "addons_path": f"{ADDONS_DIR},{BENCH_ADDONS_DIR}",
        "data_dir": str(workdir / "data"),
        "db_host": pg.host,
        "db_port": str(pg.port),
        "db_user": pg.user,
        # db_name without dbfilter, as `make run` does: Odoo then serves that
        # database without listing the server's databases on every request
        # that has no session (every webhook)
        "db_name": db,
        "dbfilter": "",
        "list_db": "False",
        "admin_passwd": secrets.token_urlsafe(24),
        "http_interface": "127.0.0.1",
        "http_port": str(port),
        "gevent_port": str(free_port()),
        "proxy_mode": "False",
        "logfile": str(workdir / "odoo.log"),
        "log_level": "warn",
    }
    if os.environ.get("PGPASSWORD"):
        options["db_password"] = os.environ["PGPASSWORD"]
    jobs = {
        "http_port": str(jobs_port),
        "gevent_port": str(free_port()),
        "logfile": str(workdir / "odoo-jobs.log"),
    }
    # the runner's target ([queue_job] port) is the jobs instance's http_port:
    # the Procfile passes it on
    for section, values in (("options", options), ("distribution_jobs", jobs)):
        if not config.has_section(section):
            config.add_section(section)
        for key, value in values.items():
            config.set(section, key, value)
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)


def odoo_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # the config file decides, as in production
    for name in list(env):
        if name.startswith("ODOO_QUEUE_JOB_"):
            del env[name]
    if not env.get(KEYS_ENV, "").strip():
        from cryptography.fernet import Fernet

        env[KEYS_ENV] = Fernet.generate_key().decode()
    return env


def run_step(cmd: list[str], env: dict[str, str], what: str, log: Path, **kw) -> str:
    done = subprocess.run(
        cmd,
        env=env,
        cwd=str(log.parent),
        capture_output=True,
        text=True,
        check=False,
        **kw,
    )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SetupError(
            f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}\n{tail}"
        )
    return done.stdout


def start_odoo(conf: Path, db: str, env: dict[str, str], cwd: Path):
    """Both instances, as ``make run`` starts them: the Procfile, run by
    honcho, with the database, the ports and the jobs instance's options of
    ``conf`` (the database server is in ``conf``)."""
    config = configparser.RawConfigParser()
    config.read(conf, encoding="utf-8")
    try:
        jobs = jobs_options(conf)
    except LayoutError as exc:
        raise SetupError(str(exc)) from exc
    procfile_env = dict(
        env,
        ODOO=str(odoo_command()),
        ODOO_CONF=str(conf),
        DISTRIBUTION_DB=db,
        ODOO_HTTP_PORT=config.get("options", "http_port"),
        ODOO_GEVENT_PORT=config.get("options", "gevent_port"),
        ODOO_JOBS_HTTP_PORT=config.get("distribution_jobs", "http_port"),
        ODOO_JOBS_GEVENT_PORT=config.get("distribution_jobs", "gevent_port"),
        ODOO_OPTIONS="",
        DISTRIBUTION_JOBS_OPTIONS=" ".join(jobs),
    )
    return subprocess.Popen(
        # no .env file: the instances see this environment, as with make run
        [*HONCHO, "-e", os.devnull, "-f", str(PROCFILE), "-d", str(REPO)],
        env=procfile_env,
        cwd=str(cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_health(base_url: str, proc, log: Path, timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise SetupError(f"Odoo exited with status {proc.returncode}:\n{tail}")
        try:
            if requests.get(f"{base_url}/web/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SetupError(f"Odoo did not answer /web/health within {timeout:.0f} s.")


def stop_odoo(proc, timeout: float = 60) -> None:
    if proc is None or proc.poll() is not None:
        return
    import psutil

    try:
        below = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        below = []
    # honcho sends SIGTERM to each instance's process group (server, workers,
    # gevent worker), and SIGKILL to what is left 5 s after one stopped
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # each instance has a session of its own: whatever honcho could not stop
    for child in below:
        try:
            child.kill()
        except psutil.Error:
            pass


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


def wait_drained(pg: Pg, db: str, timeout: float) -> float:
    """Wait up to ``timeout`` seconds for the job queue to be empty."""
    start = time.monotonic()
    while time.monotonic() - start < timeout and pg.job_counts(db)[0]:
        time.sleep(1)
    return time.monotonic() - start


def cpu_ticks() -> tuple[int, int] | None:
    """(stolen, total) CPU ticks of the machine so far, from /proc/stat (Linux):
    on a virtual machine, "steal" is the time the host gave to others."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]
    return (values[7], sum(values[:8])) if len(values) >= 8 else None


def stolen_share(before, after) -> float | None:
    if not before or not after or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def split(items: list, parts: int) -> list[list]:
    size = len(items)
    return [items[i * size // parts : (i + 1) * size // parts] for i in range(parts)]


def fmt_ms(value: float) -> str:
    return f"{value:8.1f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_level(args, ctx, clients: int) -> dict:
    """Warm up, then alternate bare and webhook rounds at one concurrency."""
    pg, db = ctx["pg"], ctx["db"]
    # the webhook first: its jobs keep the job runner busy from the start,
    # so that both targets are measured with the same background work
    targets = {
        "webhook": (
            ctx["base_url"] + WEBHOOK_PATH.format(token=ctx["token"]),
            "accepted",
        ),
        "bare": (ctx["base_url"] + BARE_PATH, "ok"),
    }
    totals = {"bare": Result(), "webhook": Result()}
    warmups = {}
    rounds = {}
    for name in targets:
        prefix = f"{ctx['run_id']}-c{clients}-{name}"
        warmups[name] = make_requests(
            args.warmup, f"{prefix}-w", ctx["secret"], ctx["currency"]
        )
        rounds[name] = split(
            make_requests(args.requests, prefix, ctx["secret"], ctx["currency"]),
            args.rounds,
        )
    print(f"\n== {clients} concurrent clients, {args.requests} requests per target")
    for name, (url, expected) in targets.items():
        warm = post_all(url, warmups[name], clients, expected)
        print(f"  warm-up {name:7s}: {warm.acks}/{args.warmup} acks")
        if name == "webhook":
            ctx["sent_webhooks"] += len(warmups[name])
            ctx["wrong_webhooks"] += warm.errors
    for index in range(args.rounds):
        for name in ("bare", "webhook"):
            url, expected = targets[name]
            waited = wait_drained(pg, db, args.drain_timeout)
            pending, finished = pg.job_counts(db)
            ticks = cpu_ticks()
            result = post_all(url, rounds[name][index], clients, expected)
            share = stolen_share(ticks, cpu_ticks())
            finished = pg.job_counts(db)[1] - finished
            if share is not None:
                result.stolen.append(share)
            totals[name].add(result)
            if name == "webhook":
                ctx["sent_webhooks"] += len(rounds[name][index])
                ctx["wrong_webhooks"] += result.errors
            queue = f"{pending} jobs queued at start, {finished} run during round"
            if share is not None:
                queue += f", host steal {share:.0%}"
            if args.drain_timeout:
                queue = f"waited {waited:.0f} s, " + queue
            print(
                f"  round {index + 1} {name:7s}: {result.acks:5d} acks in"
                f" {result.elapsed:5.1f} s = {result.rate:6.1f}/s, p50"
                f" {result.percentile(50):6.1f} ms, p99 {result.percentile(99):7.1f}"
                f" ms, errors {result.errors}, retries {result.retries} ({queue})"
            )
    return totals


def report_level(clients: int, totals: dict) -> bool:
    bare, hook = totals["bare"], totals["webhook"]
    throughput_ratio = hook.rate / bare.rate if bare.rate else 0.0
    p99_ratio = hook.percentile(99) / bare.percentile(99) if bare.latencies else 0.0
    ok_throughput = throughput_ratio >= GOAL_THROUGHPUT
    ok_p99 = p99_ratio <= GOAL_P99
    print(f"\n-- {clients} clients: results")
    print("  target      acks/s   p50 (ms)  p99 (ms)   acks  errors  retries")
    for name, result in (("bare", bare), ("webhook", hook)):
        print(
            f"  {name:8s} {result.rate:9.1f} {fmt_ms(result.percentile(50))}"
            f"  {fmt_ms(result.percentile(99))} {result.acks:6d} {result.errors:7d}"
            f" {result.retries:8d}"
        )
    if bare.stolen and hook.stolen:
        print(
            "  CPU time the host gave to other machines (steal), mean per round:"
            f" bare {mean(bare.stolen):.0%}, webhook {mean(hook.stolen):.0%}"
        )
    if hook.duplicates:
        print(
            f"  {hook.duplicates} webhook(s) answered 'duplicate' on a retry: the"
            " failed attempt had been stored"
        )
    print(
        f"  ratio webhook/bare: throughput {throughput_ratio:.2f}"
        f" (goal >= {GOAL_THROUGHPUT}) {verdict(ok_throughput)},"
        f" p99 {p99_ratio:.2f} (goal <= {GOAL_P99}) {verdict(ok_p99)}"
    )
    for name, result in (("bare", bare), ("webhook", hook)):
        if result.errors:
            print(
                f"  {name} errors: {result.non_2xx} non-2xx, {result.exceptions}"
                f" exceptions, {result.unexpected} unexpected bodies;"
                f" e.g. {result.samples[:3]}"
            )
    return ok_throughput and ok_p99


def wait_dispatched(pg: Pg, db: str, timeout: float) -> int:
    """Wait up to ``timeout`` seconds until every stored exchange has its
    processing job (the dispatcher jobs enqueue them after the requests);
    return how many still wait."""
    start = time.monotonic()
    while True:
        waiting = int(
            pg.psql(
                "SELECT count(*) FROM distribution_exchange"
                " WHERE state = 'received' AND dispatched_at IS NULL",
                db,
            )
        )
        if not waiting or time.monotonic() - start > timeout:
            return waiting
        time.sleep(1)


def check_database(ctx) -> bool:
    pg, db = ctx["pg"], ctx["db"]
    expected = ctx["sent_webhooks"]
    waiting = wait_dispatched(pg, db, 120)
    exchanges = int(pg.psql("SELECT count(*) FROM distribution_exchange", db))
    # one processing job per exchange: count jobs and the exchanges they name
    jobs, distinct = (
        int(value)
        for value in pg.psql(
            "SELECT count(*), count(DISTINCT (records #>> '{}')::jsonb -> 'ids' ->> 0)"
            " FROM queue_job WHERE model_name = 'distribution.exchange'"
            " AND method_name = 'process'",
            db,
        ).split("|")
    )
    dispatchers = int(
        pg.psql(
            "SELECT count(*) FROM queue_job WHERE model_name = 'distribution.exchange'"
            " AND method_name = 'dispatch'",
            db,
        )
    )
    states = pg.psql(
        "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM"
        " (SELECT state, count(*) AS n FROM queue_job GROUP BY state) s",
        db,
    )
    orders = int(
        pg.psql(
            "SELECT count(*) FROM sale_order WHERE distribution_backend_id IS NOT NULL",
            db,
        )
    )
    ok = exchanges == expected and jobs == distinct == expected and not waiting
    print(
        f"\nDatabase: {exchanges} exchanges and {jobs} processing jobs (for"
        f" {distinct} distinct exchanges) for {expected} webhooks sent (warm-up"
        f" included), enqueued by {dispatchers} dispatcher jobs: {verdict(ok)}"
    )
    print(
        f"  job states now: {states or 'none'}; sale orders imported so far: {orders}"
    )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="requests per target and concurrency level (default: %(default)s)",
    )
    parser.add_argument(
        "--clients",
        default="10,50",
        help="comma-separated concurrency levels (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="warm-up requests per target and level (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternating rounds per target and level (default: %(default)s)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=0,
        help="before each round, wait up to this many seconds for the job queue"
        " to be empty (default: %(default)s, no wait: see the module docstring)",
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the database (and Odoo's log) after the run",
    )
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.clients.split(",") if x.strip()]
    except ValueError:
        parser.error("--clients takes comma-separated integers, e.g. 10,50")
    if not args.levels or min(args.levels) < 1:
        parser.error("--clients needs at least one level >= 1")
    if args.requests < args.rounds or args.rounds < 1 or args.warmup < 0:
        parser.error("--requests must be >= --rounds >= 1, --warmup >= 0")
    return args


def setup(args, ctx, workdir: Path) -> None:
    pg, db = ctx["pg"], ctx["db"]
    conf = workdir / "odoo.conf"
    log = workdir / "odoo.log"
    port, jobs_port = free_port(), free_port()
    write_config(conf, workdir, pg, db, port, jobs_port)
    env = ctx["env"]

    print(f"Installing {INSTALL} in database {db}...", flush=True)
    started = time.monotonic()
    run_step(
        [
            sys.executable,
            "-m",
            "odoo",
            "server",
            "-c",
            str(conf),
            "-d",
            db,
            f"--db_host={pg.host}",
            f"--db_port={pg.port}",
            "-r",
            pg.user,
            f"--addons-path={ADDONS_DIR},{BENCH_ADDONS_DIR}",
            "-i",
            INSTALL,
            "--workers=0",
            "--max-cron-threads=0",
            "--stop-after-init",
            "--without-demo=True",
        ],
        env,
        "Installing the addons",
        log,
    )
    print(f"  installed in {time.monotonic() - started:.0f} s")
    shell_env = dict(
        env, BENCH_WEBHOOK_SECRET=ctx["secret"], BENCH_SKUS=json.dumps(SKUS)
    )
    out = run_step(
        [sys.executable, "-m", "odoo", "shell", "-c", str(conf), "-d", db, "--no-http"],
        shell_env,
        "Creating the backend",
        log,
        input=SETUP_SCRIPT,
    )
    line = next((x for x in out.splitlines() if x.startswith("BENCH-SETUP ")), None)
    if not line:
        raise SetupError(f"The setup script printed nothing usable:\n{out[-2000:]}")
    data = json.loads(line.split(" ", 1)[1])
    ctx["token"], ctx["currency"] = data["token"], data["currency"]

    ctx["proc"] = start_odoo(conf, db, env, workdir)
    ctx["base_url"] = f"http://127.0.0.1:{port}"
    wait_health(ctx["base_url"], ctx["proc"], log)
    wait_health(f"http://127.0.0.1:{jobs_port}", ctx["proc"], workdir / "odoo-jobs.log")
    example = configparser.RawConfigParser()
    example.read(conf)
    options = dict(example.items("options"))
    jobs = dict(example.items("distribution_jobs"))
    channels = example.get("queue_job", "channels", fallback="(queue_job default)")
    print(
        f"Odoo up at {ctx['base_url']}: workers = {options.get('workers')},"
        f" max_cron_threads = {options.get('max_cron_threads')},"
        f" server_wide_modules = {options.get('server_wide_modules')}"
    )
    print(
        f"  jobs instance on port {jobs_port}: workers = {jobs.get('workers')},"
        f" max_cron_threads = {jobs.get('max_cron_threads')},"
        f" server_wide_modules = {jobs.get('server_wide_modules')},"
        " at a lower CPU priority (the Procfile's jobs line)"
    )
    print(f"  queue_job channels = {channels}")
    if args.drain_timeout:
        mode = (
            f"each round waits up to {args.drain_timeout:.0f} s for an empty queue,"
            " then the webhook rounds bear the imports they cause"
        )
    else:
        mode = "both targets are measured while it works through the backlog"
    print(
        "  The job runner runs (as in production): the orders are imported by"
        f" the jobs instance, at its lower CPU priority; {mode}."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pg = Pg(
        os.environ.get("PGHOST") or "127.0.0.1",
        int(os.environ.get("PGPORT") or 5432),
        os.environ.get("PGUSER") or "odoo",
    )
    ctx = {
        "pg": pg,
        "db": f"distribution_bench_{secrets.token_hex(4)}",
        "run_id": secrets.token_hex(3),
        "secret": secrets.token_urlsafe(32),
        "proc": None,
        "sent_webhooks": 0,
        "wrong_webhooks": 0,
    }
    workdir = Path(tempfile.mkdtemp(prefix="distribution_bench_"))
    started = time.monotonic()
    created = False
    try:
        version = check_odoo()
        pg.check()
        try:
            import requests  # noqa: F401
        except ImportError as exc:
            raise SetupError("The requests library is needed.") from exc
        print(f"Odoo {version}; benchmark database {ctx['db']}", flush=True)
        ctx["env"] = odoo_env()
        created = True
        setup(args, ctx, workdir)
        goals_met = True
        for clients in args.levels:
            totals = run_level(args, ctx, clients)
            goals_met = report_level(clients, totals) and goals_met
        counts_ok = check_database(ctx)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    finally:
        stop_odoo(ctx["proc"])
        if created and not args.keep_db:
            pg.drop(ctx["db"])
        if args.keep_db:
            print(f"Kept database {ctx['db']}; Odoo's log: {workdir / 'odoo.log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"Total time: {time.monotonic() - started:.0f} s", flush=True)

    if ctx["wrong_webhooks"]:
        print(f"FAIL: {ctx['wrong_webhooks']} webhook answer(s) not 200 accepted.")
        return EXIT_WRONG
    if not counts_ok:
        return EXIT_WRONG
    if not goals_met:
        print("Goals missed (see the ratios above).")
        return EXIT_GOAL
    print("All goals met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
