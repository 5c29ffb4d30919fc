#!/usr/bin/env python3
"""Run the Odoo test suites of every addon of this repository.

The run installs the addons found under ``addons/`` in a throwaway
database, runs their tests with Odoo's own test runner, always drops the
database afterwards (unless ``--keep-db``) and prints, as its very last
line, ``N passed, M failed``.

Exit codes: 0 when every test passed, 1 when a test failed or none ran,
2 when Odoo 19.0 cannot be imported, 3 when PostgreSQL does not answer.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDONS_DIR = REPO / "addons"
LOG_DIR = REPO / ".test-logs"
LOG_FILE = LOG_DIR / "odoo-test.log"
DATA_DIR = LOG_DIR / "odoo-data"

ODOO_SERIE = "19.0"
SERVER_WIDE_MODULES = "base,web,queue_job"
KEYS_ENV = "DISTRIBUTION_ENCRYPTION_KEYS"
DEFAULT_TIMEOUT = 25 * 60

EXIT_FAILED = 1
EXIT_NO_ODOO = 2
EXIT_NO_POSTGRES = 3

# "2025-01-01 10:00:00,123 4242 ERROR dbname odoo.modules.loading: message"
LOG_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ "
    r"(?P<level>[A-Z_]+) (?P<db>\S+) (?P<logger>[\w.\-]+): (?P<message>.*)$"
)
# "0 failed, 0 error(s) of 37 tests when loading database 'x'"
SUMMARY_RE = re.compile(
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<run>\d+) tests"
    r" when loading database"
)


class RunnerError(Exception):
    """A prerequisite is missing; carries the exit code to use."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


# Loggers of module loading and of the server: a line from one of them
# means no test is running any more.
LOADING_LOGGERS = frozenset(
    {
        "odoo.modules.loading",
        "odoo.modules.module",
        "odoo.modules.registry",
        "odoo.registry",
        "odoo.service.server",
    }
)
# Logged at ERROR by module loading after failed tests, already counted.
TESTS_FAILED_MESSAGE = "At least one test failed when loading the modules."


@dataclass
class Outcome:
    """What the Odoo log told about the run."""

    tests_run: int = 0
    failed: int = 0
    errors: int = 0
    summaries: int = 0
    error_lines: list[str] = field(default_factory=list)
    in_test: bool = False

    def feed(self, line: str) -> None:
        match = SUMMARY_RE.search(line)
        if match:
            self.summaries += 1
            self.tests_run += int(match["run"])
            self.failed += int(match["failed"])
            self.errors += int(match["errors"])
            return
        match = LOG_LINE_RE.match(line)
        if not match:
            return  # continuation of a multi-line record (traceback)
        logger, message = match["logger"], match["message"]
        if is_test_logger(logger):
            if message.startswith("Starting "):
                self.in_test = True
            return
        if logger in LOADING_LOGGERS:
            self.in_test = False
        if (
            match["level"] in ("ERROR", "CRITICAL")
            and not self.in_test
            and not message.startswith(TESTS_FAILED_MESSAGE)
        ):
            self.error_lines.append(line.rstrip())


def is_test_logger(logger: str) -> bool:
    """Whether a log line comes from a test module or the test machinery.

    Test failures are logged there and counted by Odoo in its summary.
    Errors logged by other code while a test runs belong to that test too;
    every other ERROR or CRITICAL line (a module that fails to load, a
    broken data file) happened outside the tests.
    """
    return "tests" in logger.split(".")


# ---------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------


def check_odoo() -> str:
    """Return Odoo's version, or raise if Odoo 19.0 is not importable."""
    try:
        from odoo import release
    except Exception as exc:  # any failure means "not usable"
        raise RunnerError(
            f"Odoo {ODOO_SERIE} is not importable: {exc.__class__.__name__}: {exc}."
            " Run `make install` with the same interpreter (PYTHON=...): it"
            " installs Odoo 19.0 from ODOO_SOURCE.",
            EXIT_NO_ODOO,
        ) from exc
    serie = getattr(release, "serie", None) or getattr(release, "version", "")
    if not str(serie).startswith(ODOO_SERIE):
        raise RunnerError(
            f"Odoo {ODOO_SERIE} is not importable: found Odoo {serie!s}"
            f" in {getattr(release, '__file__', '?')}.",
            EXIT_NO_ODOO,
        )
    return str(getattr(release, "version", serie))


def check_postgres(host: str, port: int, timeout: float = 5.0) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise RunnerError(
            f"PostgreSQL does not answer at {host}:{port} ({exc}). Start it,"
            " or point PGHOST/PGPORT at a running server.",
            EXIT_NO_POSTGRES,
        ) from exc


def psql(host: str, port: int, user: str, sql: str) -> subprocess.CompletedProcess:
    psql_bin = shutil.which("psql")
    if not psql_bin:
        raise RunnerError(
            "psql (the PostgreSQL client) is not installed.", EXIT_NO_POSTGRES
        )
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    env.pop("PGDATABASE", None)
    cmd = [psql_bin, "-h", host, "-p", str(port), "-U", user, "-d", "postgres"]
    return subprocess.run(
        [*cmd, "-v", "ON_ERROR_STOP=1", "-XtAq", "-c", sql],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_role(host: str, port: int, role: str) -> None:
    """Create the database role used by Odoo when it does not exist yet."""
    if role == "postgres":
        raise RunnerError(
            "Odoo refuses to run as the `postgres` role: set PGUSER to another"
            " role (default: odoo).",
            EXIT_NO_POSTGRES,
        )
    probe = psql(host, port, role, "SELECT 1")
    if probe.returncode == 0:
        return
    create = psql(
        host,
        port,
        "postgres",
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{quote_literal(role)}) THEN CREATE ROLE {quote_ident(role)}"
        " LOGIN CREATEDB; END IF; END $$;",
    )
    if create.returncode != 0:
        raise RunnerError(
            f"Cannot connect as role {role!r} ({probe.stderr.strip()}) and cannot"
            f" create it as `postgres` ({create.stderr.strip()}).",
            EXIT_NO_POSTGRES,
        )
    print(f"Created PostgreSQL role {role!r}.", flush=True)


def drop_database(host: str, port: int, role: str, db: str) -> None:
    name = quote_ident(db)
    result = psql(host, port, role, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if result.returncode != 0:  # servers older than PostgreSQL 13
        result = psql(host, port, role, f"DROP DATABASE IF EXISTS {name}")
    if result.returncode != 0:
        print(
            f"warning: could not drop database {db}: {result.stderr.strip()}",
            file=sys.stderr,
        )
    shutil.rmtree(DATA_DIR / "filestore" / db, ignore_errors=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# Addons
# ---------------------------------------------------------------------------


def discover_addons(addons_dir: Path = ADDONS_DIR) -> list[str]:
    """Every installable addon: a directory with a ``__manifest__.py``."""
    found = []
    if not addons_dir.is_dir():
        return found
    for manifest in sorted(addons_dir.glob("*/__manifest__.py")):
        try:
            data = ast.literal_eval(manifest.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError):
            data = {}  # let Odoo report the broken manifest
        if isinstance(data, dict) and data.get("installable", True) is False:
            continue
        found.append(manifest.parent.name)
    return found


def ensure_encryption_keys(env: dict[str, str]) -> None:
    if env.get(KEYS_ENV, "").strip():
        return
    from cryptography.fernet import Fernet

    env[KEYS_ENV] = Fernet.generate_key().decode("ascii")
    print(f"No {KEYS_ENV} configured: using a key generated for this run.")


# ---------------------------------------------------------------------------
# Running Odoo
# ---------------------------------------------------------------------------


def build_command(args, db: str, addons: list[str], port: int) -> list[str]:
    test_tags = args.test_tags or ",".join(f"/{name}" for name in addons)
    return [
        sys.executable,
        "-m",
        "odoo",
        "server",
        "-d",
        db,
        f"--db_host={args.pg_host}",
        f"--db_port={args.pg_port}",
        "-r",
        args.pg_user,
        f"--addons-path={ADDONS_DIR}",
        f"--data-dir={DATA_DIR}",
        f"--load={SERVER_WIDE_MODULES}",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        "--max-cron-threads=0",
        "--test-enable",
        f"--test-tags={test_tags}",
        "-i",
        ",".join(addons),
        "--stop-after-init",
        "--without-demo=True",
        "--log-level=test",
    ]


def run_odoo(
    cmd: list[str], env: dict[str, str], timeout: int, db: str
) -> tuple[int, Outcome]:
    """Run Odoo, streaming its log to the console and to LOG_FILE.

    The log is written to a file of its own while Odoo runs, then moved to
    LOG_FILE, so that concurrent runs in one checkout do not mix their logs.
    """
    outcome = Outcome()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    run_log = LOG_DIR / f"{db}.log"
    try:
        rc = _stream(cmd, env, timeout, run_log, outcome)
    finally:
        if run_log.exists():
            os.replace(run_log, LOG_FILE)
    return rc, outcome


def _stream(
    cmd: list[str], env: dict[str, str], timeout: int, path: Path, outcome: Outcome
) -> int:
    with path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
            text=True,
            errors="replace",
            bufsize=1,
        )
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            proc.terminate()

        watchdog = threading.Timer(timeout, stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
                outcome.feed(line)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            watchdog.cancel()
            sys.stdout.flush()
        if timed_out.is_set():
            message = f"Test run exceeded {timeout} s: Odoo was stopped."
            print(message, flush=True)
            log.write(message + "\n")
            outcome.error_lines.append(message)
    return rc


def summarize(rc: int, outcome: Outcome) -> tuple[int, int]:
    """Turn Odoo's results into (passed, failed)."""
    failed = outcome.failed + outcome.errors
    passed = max(outcome.tests_run - failed, 0)
    if failed == 0 and (rc != 0 or outcome.error_lines or outcome.tests_run == 0):
        failed = 1
    return passed, failed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the test database"
    )
    parser.add_argument(
        "--db", help="database name (default: distribution_test_<random hex>)"
    )
    parser.add_argument(
        "--addons",
        help="comma-separated subset of addons to install and test"
        " (default: every addon under addons/)",
    )
    parser.add_argument(
        "--test-tags", help="Odoo --test-tags value (default: /<addon> for each)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("DISTRIBUTION_TEST_TIMEOUT", DEFAULT_TIMEOUT)),
        help="stop Odoo after this many seconds (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.pg_host = os.environ.get("PGHOST") or "127.0.0.1"
    args.pg_port = int(os.environ.get("PGPORT") or 5432)
    args.pg_user = os.environ.get("PGUSER") or "odoo"
    return args


def select_addons(requested: str | None) -> list[str]:
    available = discover_addons()
    if not requested:
        return available
    wanted = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise RunnerError(
            f"Unknown addon(s): {', '.join(unknown)}. Available:"
            f" {', '.join(available) or 'none'}.",
            EXIT_FAILED,
        )
    return wanted


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        version = check_odoo()
        check_postgres(args.pg_host, args.pg_port)
        addons = select_addons(args.addons)
        if not addons:
            raise RunnerError(
                f"No addon found: no directory of {ADDONS_DIR.name}/ has a"
                " __manifest__.py.",
                EXIT_FAILED,
            )
        ensure_role(args.pg_host, args.pg_port, args.pg_user)
    except RunnerError as exc:
        print(exc, file=sys.stderr, flush=True)
        print("0 passed, 1 failed")
        return exc.exit_code

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ensure_encryption_keys(env)
    db = args.db or f"distribution_test_{secrets.token_hex(4)}"
    cmd = build_command(args, db, addons, free_port())
    print(
        f"Odoo {version}: testing {', '.join(addons)} in database {db}"
        f" (log: {LOG_FILE.relative_to(REPO)})",
        flush=True,
    )
    try:
        rc, outcome = run_odoo(cmd, env, args.timeout, db)
    finally:
        if args.keep_db:
            print(f"Keeping database {db}.")
        else:
            drop_database(args.pg_host, args.pg_port, args.pg_user, db)

    if outcome.error_lines:
        print(f"{len(outcome.error_lines)} ERROR/CRITICAL line(s) outside tests:")
        for line in outcome.error_lines[:20]:
            print(f"  {line[:300]}")
    if rc != 0:
        print(f"Odoo exited with status {rc}.")
    if outcome.summaries == 0:
        print("Odoo printed no test summary: no test ran.")
    elif outcome.tests_run == 0:
        print("No test ran.")
    passed, failed = summarize(rc, outcome)
    print(f"{passed} passed, {failed} failed", flush=True)
    return EXIT_FAILED if failed or outcome.tests_run == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
