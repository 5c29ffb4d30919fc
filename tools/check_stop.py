#!/usr/bin/env python3
"""Check that the product stops: every Odoo process ends, every port is free.

Starts the product as ``make run`` does (both instances, on a throwaway
database and ports of its own), waits until both instances and their gevent
workers answer, then stops it one way, and checks that within 30 s no
process of the run is left (Odoo servers, their workers and gevent workers,
honcho) and the four ports can be bound again. It does so for each way a
product is stopped, starting it again in between:

- ``ctrl-c``: Ctrl-C in a terminal, i.e. SIGINT to the foreground process
  group (the command started and everything in its group);
- ``sigterm``: SIGTERM to the command started (a process supervisor);
- ``sigint-sigterm``: SIGINT to the command started, then SIGTERM 2 s later
  (what a process supervisor does when the first signal does not suffice).

Each way is tried with ``make run`` as the command started, and with
``tools/run_odoo.sh`` (the command a service would run, which becomes
honcho). It prints a PASS or FAIL line per try and, last, ``N passed, M
failed``; the database and its file store are dropped at the end (unless
``--keep-db``). The first start creates the database with demo data, as
``make run`` does: that takes minutes, the later ones seconds. Every wait
is bounded, and so is the whole run (``--timeout``).

Usage::

    python3 tools/check_stop.py [--db NAME] [--ports HTTP,GEVENT,JOBS_HTTP,JOBS_GEVENT]
        [--commands make,script] [--keep-db]

It uses what ``make run`` uses: its configuration (``.local/odoo.conf``,
written on the first run), PostgreSQL from PGHOST, PGPORT, PGUSER
(127.0.0.1, 5432, odoo), and psutil (a dependency of Odoo) to find the
processes. The database must not exist yet.

Exit status: 0 when every try passed, 1 when one failed, 2 when the product
could not be started or the run took too long.
"""

from __future__ import annotations

import argparse
import configparser
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / ".local" / "odoo.conf"

STOP_LIMIT = 30.0  # seconds for every process to end and every port to be free
SECOND_SIGNAL_DELAY = 2.0  # seconds between SIGINT and SIGTERM
FIRST_START_TIMEOUT = 1500.0  # the first start installs every addon, demo data
START_TIMEOUT = 240.0

EXIT_FAILED = 1
EXIT_SETUP = 2

COMMANDS = {
    "make": ["make", "--no-print-directory", "run"],
    "script": ["tools/run_odoo.sh"],
}
SEQUENCES = {
    "ctrl-c": "Ctrl-C in a terminal (SIGINT to the process group)",
    "sigterm": "SIGTERM to the command",
    "sigint-sigterm": f"SIGINT, then SIGTERM {SECOND_SIGNAL_DELAY:.0f} s later,"
    " to the command",
}
PORT_NAMES = ("http", "gevent", "jobs http", "jobs gevent")


class SetupError(Exception):
    """The product could not be started, or the run took too long."""


@dataclass
class Run:
    """One start of the product."""

    proc: subprocess.Popen
    log: Path
    # (pid, create time) of every process below the command once started
    processes: dict[int, float]
    # the sessions they belong to: honcho starts each instance in its own
    sessions: set[int]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def port_free(port: int) -> bool:
    """Whether a server could bind the port again (as Odoo does, reusing an
    address whose connections are closing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def describe(pid: int) -> str:
    try:
        proc = psutil.Process(pid)
        return f"{pid} {' '.join(proc.cmdline())[:120] or proc.name()}"
    except psutil.Error:
        return str(pid)


def run_processes(run: Run) -> list[int]:
    """The processes of the run still alive: those seen once it was up (the
    same process, not a new one with its pid), and any other in its
    sessions (a worker started since)."""
    left = []
    for proc in psutil.process_iter(["pid", "create_time", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        pid = info["pid"]
        if run.processes.get(pid) == info["create_time"]:
            left.append(pid)
            continue
        try:
            if os.getsid(pid) in run.sessions:
                left.append(pid)
        except OSError:
            continue
    return sorted(left)


def start(args, command: str, env: dict, workdir: Path, timeout: float) -> Run:
    log = workdir / f"run-{len(list(workdir.glob('run-*.log'))) + 1}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            COMMANDS[command],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # a process group of its own, as a terminal gives a command
            start_new_session=True,
        )
    run = Run(proc, log, {}, set())
    try:
        wait_answers(args, run, command, timeout)
    except BaseException:
        snapshot(run)
        kill_all(run)
        raise
    snapshot(run)
    return run


def wait_answers(args, run: Run, command: str, timeout: float) -> None:
    """Wait until both instances and their gevent workers answer."""
    deadline = time.monotonic() + timeout
    waiting = [f"http://127.0.0.1:{port}/web/health" for port in args.ports]
    while waiting:
        if run.proc.poll() is not None:
            raise SetupError(
                f"{' '.join(COMMANDS[command])} stopped (status"
                f" {run.proc.returncode}) before answering:\n{tail(run.log)}"
            )
        if time.monotonic() > deadline:
            raise SetupError(
                f"no answer from {', '.join(waiting)} within {timeout:.0f} s:\n"
                f"{tail(run.log)}"
            )
        waiting = [url for url in waiting if not http_ok(url)]
        if waiting:
            time.sleep(0.5)


def snapshot(run: Run) -> None:
    try:
        top = psutil.Process(run.proc.pid)
        below = top.children(recursive=True)
    except psutil.Error:
        return
    for proc in [top, *below]:
        try:
            run.processes[proc.pid] = proc.create_time()
            run.sessions.add(os.getsid(proc.pid))
        except (psutil.Error, OSError):
            continue
    run.sessions.discard(os.getsid(0))


def kill_all(run: Run) -> None:
    """SIGKILL whatever is left of the run, so that the next one can start."""
    for pid in run_processes(run):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        run.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def stop(run: Run, sequence: str) -> None:
    pid = run.proc.pid
    if sequence == "ctrl-c":
        os.killpg(pid, signal.SIGINT)
    elif sequence == "sigterm":
        os.kill(pid, signal.SIGTERM)
    else:
        os.kill(pid, signal.SIGINT)
        time.sleep(SECOND_SIGNAL_DELAY)
        os.kill(pid, signal.SIGTERM)


def check(args, run: Run, sequence: str) -> tuple[bool, str]:
    count = len(run.processes)
    started = time.monotonic()
    stop(run, sequence)
    while True:
        run.proc.poll()  # reap the command, the only child of this script
        elapsed = time.monotonic() - started
        left = run_processes(run)
        busy = [p for p in args.ports if not port_free(p)]
        if not left and not busy:
            run.proc.poll()
            return True, (
                f"{count} processes ended, ports {ports_text(args.ports)} free"
                f" after {elapsed:.1f} s (status {run.proc.returncode})"
            )
        if elapsed > STOP_LIMIT:
            detail = "; ".join(describe(pid) for pid in left[:8])
            return False, (
                f"after {STOP_LIMIT:.0f} s, {len(left)} of {count} processes"
                f" left ({detail or 'none'}), ports in use:"
                f" {ports_text(busy) or 'none'}"
            )
        time.sleep(0.2)


def ports_text(ports) -> str:
    return ", ".join(str(port) for port in ports)


def psql(sql: str) -> subprocess.CompletedProcess:
    """Run one statement in the maintenance database, as ``make run`` does."""
    return subprocess.run(
        [
            *("psql", "-h", os.environ.get("PGHOST") or "127.0.0.1"),
            *("-p", os.environ.get("PGPORT") or "5432"),
            *("-U", os.environ.get("PGUSER") or "odoo"),
            *("-d", "postgres", "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PGCONNECT_TIMEOUT="10"),
    )


def database_exists(name: str) -> bool:
    literal = "'" + name.replace("'", "''") + "'"
    done = psql(f"SELECT 1 FROM pg_database WHERE datname = {literal}")
    if done.returncode:
        raise SetupError(f"cannot query PostgreSQL: {done.stderr.strip()}")
    return done.stdout.strip() == "1"


def drop_database(args) -> None:
    name = '"' + args.db.replace('"', '""') + '"'
    done = psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if done.returncode:
        print(f"warning: could not drop {args.db}: {done.stderr.strip()}")
    config = configparser.RawConfigParser()
    config.read(CONF, encoding="utf-8")
    data_dir = config.get("options", "data_dir", fallback="")
    if data_dir:
        shutil.rmtree(Path(data_dir) / "filestore" / args.db, ignore_errors=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db",
        default=f"distribution_stop_check_{secrets.token_hex(3)}",
        help="the throwaway database (default: a new name); dropped at the end",
    )
    parser.add_argument(
        "--ports",
        default="8169,8172,8170,8173",
        help="the front instance's HTTP and gevent ports, then the jobs"
        " instance's (default: %(default)s)",
    )
    parser.add_argument(
        "--commands",
        default="make,script",
        help="what to start and stop: make (make run), script (tools/run_odoo.sh);"
        " default: %(default)s",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=2400,
        help="bound of the whole run, seconds (default: %(default)s)",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    try:
        args.ports = [int(port) for port in args.ports.split(",")]
    except ValueError:
        parser.error("--ports takes four port numbers, e.g. 8169,8172,8170,8173")
    if len(args.ports) != 4 or len(set(args.ports)) != 4:
        parser.error("--ports takes four different port numbers")
    args.commands = [name.strip() for name in args.commands.split(",")]
    if not args.commands or set(args.commands) - set(COMMANDS):
        parser.error(f"--commands takes some of: {', '.join(COMMANDS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    busy = [port for port in args.ports if not port_free(port)]
    if busy:
        print(f"error: ports in use: {ports_text(busy)}", file=sys.stderr)
        return EXIT_SETUP
    try:
        exists = database_exists(args.db)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    if exists:
        print(
            f"error: database {args.db} exists: the check creates and drops"
            " a database of its own",
            file=sys.stderr,
        )
        return EXIT_SETUP
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        DISTRIBUTION_DB=args.db,
        **{
            name: str(port)
            for name, port in zip(
                (
                    "ODOO_HTTP_PORT",
                    "ODOO_GEVENT_PORT",
                    "ODOO_JOBS_HTTP_PORT",
                    "ODOO_JOBS_GEVENT_PORT",
                ),
                args.ports,
            )
        },
    )
    tries = [(command, seq) for command in args.commands for seq in SEQUENCES]
    print(
        f"Database {args.db}, ports {ports_text(args.ports)}"
        f" ({', '.join(PORT_NAMES)}); every process must end and every port be"
        f" free within {STOP_LIMIT:.0f} s",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="distribution_stop_check_"))
    deadline = time.monotonic() + args.timeout
    results = []
    code = 0
    try:
        for index, (command, sequence) in enumerate(tries):
            budget = deadline - time.monotonic()
            limit = FIRST_START_TIMEOUT if index == 0 else START_TIMEOUT
            if budget < STOP_LIMIT + 10:
                raise SetupError(f"--timeout reached after {len(results)} tries")
            if index == 0:
                print(
                    f"Starting {' '.join(COMMANDS[command])} (the first start"
                    " creates the database with demo data)...",
                    flush=True,
                )
            run = start(args, command, env, workdir, min(limit, budget - STOP_LIMIT))
            try:
                ok, detail = check(args, run, sequence)
            finally:
                kill_all(run)  # nothing, unless the check failed or was cut short
            results.append(ok)
            print(
                f"{'PASS' if ok else 'FAIL'} {' '.join(COMMANDS[command])}:"
                f" {SEQUENCES[sequence]}: {detail}",
                flush=True,
            )
            if not ok:
                print(tail(run.log, 1500), flush=True)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = EXIT_SETUP
    finally:
        if not args.keep_db:
            drop_database(args)
        shutil.rmtree(workdir, ignore_errors=True)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed", flush=True)
    if code:
        return code
    return EXIT_FAILED if passed < len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
