#!/usr/bin/env python3
"""A burst of webhooks while processes and PostgreSQL are killed and
restarted: nothing acknowledged is lost or doubled, nothing stays stuck.

What it does, on a throwaway database and the product started as ``make
run`` starts it (each Procfile line run by honcho on free ports of
127.0.0.1, so that the jobs instance can be restarted alone):

1. posts ``--webhooks`` signed generic-JSON orders (distinct orders, 1 to 8
   lines, a few sent twice) with ``--clients`` concurrent clients, each
   retrying a failed connection or a 5xx answer a few times, as a sender
   does;
2. during the burst, at set shares of the deliveries answered: SIGKILL to
   one HTTP worker of the front instance, SIGKILL to the jobs instance's
   worker running a job (any of its workers when none is), a restart of the
   jobs instance (SIGTERM, then started again), and one restart of
   PostgreSQL (``--pg-restart``, by default ``pg_ctlcluster 15 main
   restart``; ``--own-postgres`` runs the test on a PostgreSQL cluster of
   its own, created and removed by the script, and restarts that one);
3. sends again, once the faults are over, what got no acknowledgement (the
   sender's retry), and counts apart what still gets none;
4. waits (at most ``--timeout`` seconds) for the queue to drain: queue_job's
   runner requeues the jobs the kills left started (dead-job requeue), and
   the dispatch cron picks up exchanges whose job vanished.

Then it checks and prints: every acknowledged delivery has exactly one
exchange, every distinct order that reached the database exactly one sale
order, no exchange left unprocessed, no job due and not done; the jobs
requeued as dead, the deliveries not acknowledged.

    python3 tests/faults/burst_faults.py [--webhooks 20000] [--clients 50]
        [--own-postgres | --pg-restart "pg_ctlcluster 15 main restart"]

Exit status: 0 when every check passes, 1 when one fails, 3 when the setup
fails. It stops by itself: every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_import
import harness

INSTALL = "distribution_sync,distribution_stock_publish"
#: share of the deliveries answered at which each fault happens
FAULTS = (
    (0.15, "kill an HTTP worker of the front instance"),
    (0.30, "kill the jobs worker running a job"),
    (0.45, "restart the jobs instance"),
    (0.60, "restart PostgreSQL"),
)
EXIT_WRONG = 1
EXIT_SETUP = 3


# ---------------------------------------------------------------------------
# A PostgreSQL cluster of its own
# ---------------------------------------------------------------------------


class OwnPostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port (run as
    the ``postgres`` user when this script runs as root, as initdb wants)."""

    def __init__(self, workdir: Path, user: str):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not bindir or not Path(bindir, "initdb").exists():
            raise harness.SetupError("initdb not found (pg_config --bindir).")
        self.bindir = Path(bindir)
        self.data = workdir / "pgdata"
        self.port = harness.free_port()
        self.user = user
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.data.mkdir()
        if self.as_user:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.data, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", user, "--auth=trust", "-E", "UTF8"
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise harness.SetupError(f"{tool} failed: {done.stderr.strip()[-1000:]}")

    def _ctl(self, action: str) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port}"
            f" -c unix_socket_directories={self.data} -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def remove(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (harness.SetupError, subprocess.TimeoutExpired) as exc:
            print(f"warning: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def instance_workers(honcho_proc) -> list:
    """The HTTP (and cron) workers of the Odoo instance honcho runs: the
    Odoo processes below honcho whose parent is the Odoo server, without
    its gevent worker."""
    import psutil

    def is_odoo(proc) -> bool:
        try:
            words = proc.cmdline()[:3]
        except psutil.Error:
            return False
        return any(Path(word).name == "odoo" for word in words)

    workers = []
    try:
        for proc in psutil.Process(honcho_proc.pid).children(recursive=True):
            parent = proc.parent()
            if parent and is_odoo(parent) and is_odoo(proc):
                # Odoo runs its gevent worker as `odoo gevent ...`
                if "gevent" not in proc.cmdline()[:3]:
                    workers.append(proc)
    except psutil.Error:
        pass
    return workers


def kill_front_worker(ctx, log) -> None:
    workers = instance_workers(ctx["procs"]["front"])
    if not workers:
        log("no front worker found")
        return
    victim = random.choice(workers)
    os.kill(victim.pid, signal.SIGKILL)
    log(f"SIGKILL to front worker {victim.pid}")


def kill_jobs_worker(ctx, log) -> None:
    workers = instance_workers(ctx["procs"]["jobs-1"])
    pids = {w.pid for w in workers}
    running = (
        ctx["pg"]
        .psql(
            "SELECT worker_pid FROM queue_job"
            " WHERE state = 'started' AND worker_pid > 0",
            ctx["db"],
        )
        .split()
    )
    busy = [int(pid) for pid in running if int(pid) in pids]
    if not busy and not workers:
        log("no jobs worker found")
        return
    victim = busy[0] if busy else random.choice(workers).pid
    os.kill(victim, signal.SIGKILL)
    log(f"SIGKILL to jobs worker {victim} ({'running a job' if busy else 'idle'})")


def port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def restart_jobs(ctx, log) -> None:
    # honcho stops the instance with SIGTERM; what is still running 10 s
    # later is killed
    harness.stop_odoo(ctx["procs"]["jobs-1"], timeout=10)
    port = int(ctx["jobs_env"]["ODOO_JOBS_HTTP_PORT"])
    deadline = time.monotonic() + 30
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)  # the killed processes let the port go
    log("jobs instance stopped")
    # as a process manager does, a start that fails is tried again
    output = ctx["workdir"] / "honcho-jobs-1.log"
    for attempt in (1, 2, 3):
        ctx["procs"]["jobs-1"] = harness.start_honcho(
            ctx["jobs_env"], ctx["workdir"], ("jobs",), output=output
        )
        try:
            harness.wait_health(
                f"http://127.0.0.1:{port}", ctx["procs"]["jobs-1"], output
            )
        except harness.SetupError as err:
            log(f"jobs instance start {attempt} failed: {str(err)[-300:]}")
            harness.stop_odoo(ctx["procs"]["jobs-1"], timeout=10)
            time.sleep(5)
            continue
        log("jobs instance started again")
        return


def restart_postgres(ctx, log) -> None:
    started = time.monotonic()
    if ctx.get("own_pg"):
        ctx["own_pg"].restart()
    else:
        done = subprocess.run(
            shlex.split(ctx["pg_restart"]),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode:
            log(f"PostgreSQL restart failed: {done.stderr.strip()[-500:]}")
            return
    log(f"PostgreSQL restarted in {time.monotonic() - started:.1f} s")


ACTIONS = (kill_front_worker, kill_jobs_worker, restart_jobs, restart_postgres)


def run_faults(ctx, answered, total, stop) -> None:
    """Each fault once the share of deliveries answered reaches its mark."""
    start = time.monotonic()
    threads = []

    def log(text):
        print(f"  [{time.monotonic() - start:6.1f} s, {answered[0]} answered] {text}")

    for (share, what), action in zip(FAULTS, ACTIONS, strict=True):
        while answered[0] < share * total and not stop.is_set():
            time.sleep(0.05)
        if stop.is_set():
            log(f"burst over before: {what}")
            continue
        # each fault in a thread of its own: a restart that takes a while
        # does not hold back the next fault
        thread = threading.Thread(target=guarded, args=(action, what, ctx, log))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(300)


def guarded(action, what, ctx, log) -> None:
    try:
        action(ctx, log)
    except Exception as exc:  # a failed fault is reported, never fatal
        log(f"{what} failed: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def wait_quiet(pg: harness.Pg, db: str, backend_id: int, timeout: float) -> float:
    """Wait until no exchange is unprocessed and no job is due; seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            left = int(
                pg.psql(
                    "SELECT (SELECT count(*) FROM distribution_exchange"
                    f" WHERE backend_id = {backend_id}"
                    " AND state IN ('received', 'processing'))"
                    " + (SELECT count(*) FROM queue_job"
                    " WHERE state NOT IN ('done', 'failed', 'cancelled')"
                    " AND (eta IS NULL OR eta < now() at time zone 'utc'))",
                    db,
                )
            )
        except harness.SetupError:
            left = -1
        if left == 0:
            break
        time.sleep(2)
    return time.monotonic() - start


def check(ctx, backend_id, acked_events, orders_sent, unknown_refs) -> bool:
    pg, db = ctx["pg"], ctx["db"]
    q = lambda sql: pg.psql(sql, db)  # noqa: E731
    per_event = dict(
        line.split("|")
        for line in q(
            "SELECT external_event_id, count(*) FROM distribution_exchange"
            f" WHERE backend_id = {backend_id} GROUP BY external_event_id"
        ).splitlines()
        if line
    )
    missing = [e for e in acked_events if e not in per_event]
    doubled = [e for e, n in per_event.items() if int(n) != 1]
    stored = set(
        q(
            "SELECT DISTINCT external_ref FROM distribution_exchange"
            f" WHERE backend_id = {backend_id}"
        ).split()
    )
    importable = stored - unknown_refs
    refs = q(
        "SELECT distribution_external_id FROM sale_order"
        f" WHERE distribution_backend_id = {backend_id}"
    ).split()
    sale_orders, distinct = len(refs), len(set(refs))
    states = q(
        "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM (SELECT"
        " state, count(*) n FROM distribution_exchange"
        f" WHERE backend_id = {backend_id} GROUP BY state) s"
    )
    jobs = q(
        "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM"
        " (SELECT state, count(*) n FROM queue_job GROUP BY state) s"
    )
    stuck = int(
        q(
            "SELECT count(*) FROM queue_job WHERE state NOT IN"
            " ('done', 'failed', 'cancelled')"
            " AND (eta IS NULL OR eta < now() at time zone 'utc')"
        )
    )
    unprocessed = int(
        q(
            "SELECT count(*) FROM distribution_exchange WHERE backend_id ="
            f" {backend_id} AND state IN ('received', 'processing')"
        )
    )
    failed = int(q("SELECT count(*) FROM queue_job WHERE state = 'failed'"))
    requeued = sum(
        path.read_text(errors="replace").count("Re-queued dead job")
        for path in ctx["workdir"].glob("odoo*.log")
    )
    ok_events = not missing and not doubled
    ok_orders = sale_orders == distinct == len(importable) and set(refs) == importable
    ok_queue = not stuck and not unprocessed and not failed
    print(
        f"\nAcknowledged deliveries: {len(acked_events)}; with exactly one exchange:"
        f" {len(acked_events) - len(missing)}, without: {len(missing)}; events"
        f" stored more than once: {len(doubled)}: {harness.verdict(ok_events)}"
    )
    print(
        f"Orders: {orders_sent} sent, {len(stored)} reached the database"
        f" ({len(stored - importable)} with an unknown SKU, left in error),"
        f" {sale_orders} sale orders for {distinct} distinct orders:"
        f" {harness.verdict(ok_orders)}"
    )
    print(
        f"Exchanges: {states}; jobs: {jobs}; due and not done {stuck}, failed"
        f" {failed}; requeued as dead by the runner: {requeued}:"
        f" {harness.verdict(ok_queue)}"
    )
    return ok_events and ok_orders and ok_queue


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--pg-restart",
        default="pg_ctlcluster 15 main restart",
        help="command that restarts the PostgreSQL of PGHOST/PGPORT"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--own-postgres",
        action="store_true",
        help="run on a PostgreSQL cluster of its own (initdb), restarted instead",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=7200,
        help="seconds the queue may take to drain after the burst (20,000"
        " confirmed orders take about an hour at 6 orders/s; default:"
        " %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="distribution_faults_"))
    ctx = {"db": f"distribution_faults_{secrets.token_hex(4)}", "workdir": workdir}
    ctx["secret"], ctx["pg_restart"] = secrets.token_urlsafe(32), args.pg_restart
    rng = random.Random(args.seed)
    created = False
    started = time.monotonic()
    ok = False
    try:
        version = harness.check_odoo()
        user = os.environ.get("PGUSER") or "odoo"
        if args.own_postgres:
            ctx["own_pg"] = OwnPostgres(workdir, user)
            pg = harness.Pg("127.0.0.1", ctx["own_pg"].port, user)
        else:
            pg = harness.Pg.from_env()
        pg.check()
        ctx["pg"] = pg
        print(f"Odoo {version}; database {ctx['db']} on port {pg.port}", flush=True)
        ctx["env"] = env = harness.odoo_env()
        created = True
        conf, log = harness.prepare(pg, ctx["db"], workdir, env, INSTALL)
        data = harness.odoo_shell(
            conf,
            ctx["db"],
            dict(
                env,
                BENCH_WEBHOOK_SECRET=ctx["secret"],
                BENCH_CATALOG=json.dumps(bench_import.CATALOG),
                BENCH_STOCK=str(bench_import.INITIAL_STOCK),
                BENCH_CHANNEL_URLS="[]",
            ),
            bench_import.SETUP_SCRIPT,
            "Creating the backend",
            log,
        )
        backend_id, ctx["token"] = data["backend_id"], data["token"]
        orders = bench_import.make_orders(args.webhooks, secrets.token_hex(3), rng)
        messages = bench_import.messages_for(
            orders, data["currency"], ctx["secret"], rng
        )
        messages = messages[: args.webhooks]
        sent_orders = {id(m["order"]) for m in messages}
        ctx["args"] = argparse.Namespace(jobs_instances=1)
        bench_import.start_product(ctx["args"], ctx, workdir, conf)
        base = harness.procfile_env(conf, ctx["db"], env)
        jobs_options = [
            o
            for o in base["DISTRIBUTION_JOBS_OPTIONS"].split()
            if not o.startswith("--logfile")
        ]
        ctx["jobs_env"] = dict(
            base,
            DISTRIBUTION_JOBS_OPTIONS=" ".join(
                [*jobs_options, f"--logfile={workdir / 'odoo-jobs-1.log'}"]
            ),
        )

        print(
            f"\nBurst: {len(messages)} deliveries ({len(sent_orders)} distinct"
            f" orders) by {args.clients} clients, with faults:"
        )
        answered = [0]
        acked: set[int] = set()
        lock = threading.Lock()

        def on_answer(index, at, code, status):
            with lock:
                answered[0] += 1
                if code == 200 and status in ("accepted", "duplicate"):
                    acked.add(index)

        stop = threading.Event()
        faults = threading.Thread(
            target=run_faults, args=(ctx, answered, len(messages), stop)
        )
        faults.start()
        url = f"{ctx['base_url']}/distribution/webhook/{ctx['token']}/order"
        items = [(m["body"], m["headers"]) for m in messages]
        t0 = time.monotonic()
        result = harness.post_all(
            url, items, args.clients, ("accepted", "duplicate"), on_answer, True
        )
        posted = time.monotonic() - t0
        stop.set()
        faults.join()
        print(
            f"  {result.acks} acknowledged of {len(messages)} in {posted:.0f} s"
            f" ({result.retries} retries, {result.non_2xx} errors answered,"
            f" {result.exceptions} no answer)"
        )
        if result.samples:
            print(f"  e.g. {result.samples[:3]}")
        unacked = [i for i in range(len(messages)) if i not in acked]
        first_unacked = len(unacked)
        if unacked:
            harness.wait_health(ctx["base_url"], ctx["procs"]["front"], log)
            retry = [items[i] for i in unacked]

            def on_retry(index, at, code, status):
                if code == 200 and status in ("accepted", "duplicate"):
                    with lock:
                        acked.add(unacked[index])

            harness.post_all(
                url, retry, min(args.clients, 10), "accepted", on_retry, True
            )
        lost = len(messages) - len(acked)
        print(
            f"  not acknowledged during the burst: {first_unacked}; sent again"
            f" after it (the sender's retry), still not acknowledged: {lost}"
        )
        waited = wait_quiet(pg, ctx["db"], backend_id, args.timeout)
        print(f"Queue drained {waited:.0f} s after the burst", flush=True)
        acked_events = {
            messages[i]["headers"]["X-Distribution-Event-Id"] for i in acked
        }
        unknown_refs = {o["external_id"] for o in orders if bench_import.unknown(o)}
        ok = check(ctx, backend_id, acked_events, len(sent_orders), unknown_refs)
    except harness.SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_SETUP
    finally:
        bench_import.stop_product(ctx)
        if ctx.get("own_pg") and not args.keep_db:
            ctx["own_pg"].remove()  # the database goes with its cluster
        drop = created and bool(ctx.get("pg")) and not ctx.get("own_pg")
        kept = f"Kept database {ctx['db']}; logs in {workdir}"
        harness.clean_up(
            ctx.get("pg"), ctx["db"], drop, args.keep_db, workdir, started, kept
        )
    print("All checks passed." if ok else "A check failed (see above).")
    return 0 if ok else EXIT_WRONG


if __name__ == "__main__":
    sys.exit(main())
