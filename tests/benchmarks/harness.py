"""What the benchmark and fault scripts share: a throwaway database, Odoo
started as ``make run`` starts it (the Procfile's instances, run by honcho,
with the settings of odoo.conf.example on free ports of 127.0.0.1), signed
generic-JSON webhooks posted by concurrent clients that retry failed
connections, and the job queue watched in the database.

Every script that uses it talks to 127.0.0.1 only, creates its own database
and drops it, and stops the Odoo it started.
"""

from __future__ import annotations

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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADDONS_DIR = REPO / "addons"
BENCH_ADDONS_DIR = Path(__file__).resolve().parent / "addons"
CONF_EXAMPLE = REPO / "odoo.conf.example"
PROCFILE = REPO / "Procfile"
HONCHO = [sys.executable, "-m", "honcho", "start", "--no-colour"]
sys.path.insert(0, str(REPO / "tools"))
from jobs_instance_options import LayoutError, jobs_options  # noqa: E402

KEYS_ENV = "DISTRIBUTION_ENCRYPTION_KEYS"
SIGNATURE_HEADER = "X-Distribution-Signature"
EVENT_ID_HEADER = "X-Distribution-Event-Id"
MAX_ATTEMPTS = 5  # per request, when the connection fails


class SetupError(Exception):
    """The benchmark cannot run (missing prerequisite, Odoo failure)."""


# ---------------------------------------------------------------------------
# Signed webhooks
# ---------------------------------------------------------------------------


def order_document(
    external_id: str,
    currency: str,
    serial: int,
    lines: list[tuple[str, str, float, int, float]],
    updated_at: str = "2025-03-14T09:27:10+01:00",
) -> dict:
    """A canonical order (addons/distribution_sync/schemas/order.json) of
    ``lines`` (sku, name, unit price, quantity, discount amount), with a
    customer, addresses, a note and shipping: ~2 KB with three lines."""
    order_lines = []
    total = 0.0
    for index, (sku, name, price, quantity, discount) in enumerate(lines):
        total += quantity * price - discount
        order_lines.append(
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
    return {
        "external_id": external_id,
        "name": f"#{100000 + serial}",
        "created_at": "2025-03-14T09:26:53Z",
        "updated_at": updated_at,
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
        "lines": order_lines,
        "shipping": [
            {"code": "colissimo", "name": "Colissimo 48h", "price": shipping_price}
        ],
    }


def signature(secret: str, body: bytes) -> str:
    """The generic_json adapter's scheme: sha256=<hex HMAC-SHA256(secret, body)>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


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


def send(session, url, body, headers, result: Result, retry_errors: bool):
    """POST one item, retried on a failed connection (and on an answer other
    than 200 with ``retry_errors``): (response or None, last error, attempts
    made - 1)."""
    import requests

    response = error = None
    for attempt in range(MAX_ATTEMPTS):
        if retry_errors and attempt:
            time.sleep(0.5 * attempt)
        try:
            response = session.post(url, data=body, headers=headers, timeout=120)
        except requests.ConnectionError as exc:
            # e.g. a reset during the TCP handshake when Odoo's listen
            # backlog is full: a sender retries, so do we (same body,
            # same event id), timing from the first attempt
            error = exc
            if attempt + 1 < MAX_ATTEMPTS:
                result.retries += 1
            continue
        except requests.RequestException as exc:
            return None, exc, attempt
        if retry_errors and response.status_code != 200 and attempt + 1 < MAX_ATTEMPTS:
            result.retries += 1
            continue
        return response, None, attempt
    return response, error, MAX_ATTEMPTS - 1


def post_all(
    url: str,
    items: list[tuple[bytes, dict[str, str]]],
    clients: int,
    expected_status: str | tuple[str, ...],
    on_answer=None,
    retry_errors: bool = False,
) -> Result:
    """POST every item with ``clients`` threads, each with its own session.

    ``on_answer(index, monotonic time, HTTP status or None, answer's status)``
    is called for each item once it is answered or given up. With
    ``retry_errors``, an answer other than 200 is retried as a failed
    connection is, a little later each time (a sender retries what was not
    acknowledged).
    """
    import requests

    expected = (
        (expected_status,) if isinstance(expected_status, str) else expected_status
    )
    counter = itertools.count()
    barrier = threading.Barrier(clients + 1)
    per_thread = [Result() for _ in range(clients)]

    def answered(index, code, status):
        if on_answer:
            on_answer(index, time.monotonic(), code, status)

    def client(result: Result) -> None:
        session = requests.Session()
        barrier.wait()
        while (index := next(counter)) < len(items):
            body, headers = items[index]
            start = time.perf_counter()
            response, error, attempt = send(
                session, url, body, headers, result, retry_errors
            )
            latency = time.perf_counter() - start
            if response is None:
                result.exceptions += 1
                result.sample(f"{type(error).__name__}: {error}")
                answered(index, None, None)
                continue
            if not 200 <= response.status_code < 300:
                result.non_2xx += 1
                result.sample(f"{response.status_code}: {response.text[:200]}")
                answered(index, response.status_code, None)
                continue
            result.acks += 1
            result.latencies.append(latency)
            try:
                status = response.json().get("status")
            except ValueError:
                status = None
            answered(index, response.status_code, status)
            if status == "duplicate" and expected_status == "accepted" and attempt:
                # an attempt that failed after Odoo had stored the event
                result.duplicates += 1
            elif status not in expected or response.status_code != 200:
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

    @classmethod
    def from_env(cls) -> Pg:
        """The server of PGHOST, PGPORT and PGUSER (127.0.0.1, 5432, odoo)."""
        return cls(
            os.environ.get("PGHOST") or "127.0.0.1",
            int(os.environ.get("PGPORT") or 5432),
            os.environ.get("PGUSER") or "odoo",
        )

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


def procfile_env(conf: Path, db: str, env: dict[str, str]) -> dict[str, str]:
    """The Procfile's variables, as ``make run`` sets them, for the database,
    the ports and the jobs instance's options of ``conf`` (the database
    server is in ``conf``)."""
    config = configparser.RawConfigParser()
    config.read(conf, encoding="utf-8")
    try:
        jobs = jobs_options(conf)
    except LayoutError as exc:
        raise SetupError(str(exc)) from exc
    return dict(
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


def start_honcho(
    env: dict[str, str], cwd: Path, names: tuple[str, ...] = (), output=None
):
    """honcho on the Procfile with ``env``: every line, or only ``names``
    (``honcho start jobs`` runs one jobs instance, which can then be stopped
    and started again on its own). ``output``: a file for what honcho and
    the lines print (what an instance says before its log file is open)."""
    with open(output or os.devnull, "ab") as out:
        return subprocess.Popen(
            # no .env file: the instances see this environment, as with make run
            [*HONCHO, "-e", os.devnull, "-f", str(PROCFILE), "-d", str(REPO), *names],
            env=env,
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_odoo(conf: Path, db: str, env: dict[str, str], cwd: Path):
    """Both instances, as ``make run`` starts them: the Procfile, run by
    honcho, with the database, the ports and the jobs instance's options of
    ``conf`` (the database server is in ``conf``)."""
    return start_honcho(procfile_env(conf, db, env), cwd)


def install(conf: Path, db: str, pg: Pg, addons: str, env: dict[str, str], log: Path):
    """Create ``db`` with ``addons`` installed, without demo data."""
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
            addons,
            "--workers=0",
            "--max-cron-threads=0",
            "--stop-after-init",
            "--without-demo=True",
        ],
        env,
        "Installing the addons",
        log,
    )


def prepare(pg: Pg, db: str, workdir: Path, env: dict[str, str], addons: str):
    """The configuration of odoo.conf.example on free ports in ``workdir``
    and the database ``db`` with ``addons``: (configuration, front log)."""
    conf, log = workdir / "odoo.conf", workdir / "odoo.log"
    write_config(conf, workdir, pg, db, free_port(), free_port())
    install(conf, db, pg, addons, env, log)
    return conf, log


def like_the_jobs_line() -> None:
    """In a child process: the CPU priority the Procfile's jobs line takes
    (a session of its own with its scheduler autogroup lowered, and nice 10)."""
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w", encoding="ascii") as handle:
            handle.write("10")
    except OSError:
        pass  # a kernel without autogroups: nice alone
    os.nice(10)


def odoo_shell(
    conf: Path,
    db: str,
    env: dict[str, str],
    script: str,
    what: str,
    log: Path,
    as_jobs: bool = False,
) -> dict:
    """Run ``script`` in ``odoo shell``; it ends by printing one line
    ``BENCH-SETUP <json>``, returned decoded. With ``as_jobs``, at the jobs
    instance's CPU priority."""
    out = run_step(
        [sys.executable, "-m", "odoo", "shell", "-c", str(conf), "-d", db, "--no-http"],
        env,
        what,
        log,
        input=script,
        preexec_fn=like_the_jobs_line if as_jobs else None,
    )
    line = next((x for x in out.splitlines() if x.startswith("BENCH-SETUP ")), None)
    if not line:
        raise SetupError(f"The setup script printed nothing usable:\n{out[-2000:]}")
    return json.loads(line.split(" ", 1)[1])


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


def clean_up(pg, db, drop, keep, workdir, started, kept) -> None:
    """Drop the database (when ``drop``) and the working folder, unless
    ``keep`` (then say so with ``kept``); print the total time."""
    if drop and not keep:
        pg.drop(db)
    if keep:
        print(kept)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"Total time: {time.monotonic() - started:.0f} s", flush=True)


# ---------------------------------------------------------------------------
# The job queue
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


# ---------------------------------------------------------------------------
# Several jobs instances
# ---------------------------------------------------------------------------


class RoundRobin:
    """A TCP relay on 127.0.0.1 that hands each connection to the next of
    ``ports`` in turn: queue_job's runner starts every job with one HTTP
    request to one address, so this spreads the jobs over several jobs
    instances. In production a load balancer (nginx, HAProxy) does it."""

    def __init__(self, ports: list[int]):
        import asyncio

        self.ports = ports
        self.port = free_port()
        self.connections = dict.fromkeys(ports, 0)
        self._loop = asyncio.new_event_loop()
        self._turn = itertools.cycle(ports)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise SetupError("The round-robin relay did not start.")

    def _serve(self, ready) -> None:
        import asyncio

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        async def relay(reader, writer):
            port = next(self._turn)
            self.connections[port] += 1
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def main():
            self._server = await asyncio.start_server(relay, "127.0.0.1", self.port)
            ready.set()
            async with self._server:
                await self._server.serve_forever()

        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(main())
        except (asyncio.CancelledError, RuntimeError):
            pass

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(5)


# ---------------------------------------------------------------------------
# Where the CPU goes
# ---------------------------------------------------------------------------


def tree_cpu(pids) -> float:
    """CPU seconds (user + system) used so far by these processes and their
    children, the ones still alive."""
    import psutil

    seen = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                seen[proc.pid] = proc
        except psutil.Error:
            continue
    total = 0.0
    for proc in seen.values():
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def postgres_cpu(db: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``db`` (on
    this machine: their process title names the database), the ones still
    connected."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            title = " ".join(proc.info["cmdline"] or [])
            if proc.info["name"] == "postgres" or title.startswith("postgres:"):
                if f" {db} " in f" {title} ":
                    times = proc.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            continue
    return total
