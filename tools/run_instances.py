#!/usr/bin/env python3
"""Run the product's two Odoo instances on one database until stopped.

- The front instance answers webhooks and users, and runs queue_job's job
  runner: the Odoo of the configuration file as it is.
- The jobs instance runs the queue jobs (the runner sends each one to its
  HTTP port) and the scheduled actions: the same file, with the values of
  its ``[distribution_jobs]`` section instead, started at a lower CPU
  priority (``nice``). Under load, answering comes first; the imports take
  the CPU left and catch up afterwards (tests/README.md).

Usage::

    tools/run_instances.py -c CONF [--jobs KEY=VALUE ...] [ODOO OPTIONS...]

The Odoo options go to both instances; the jobs instance's own values
(``[distribution_jobs]``, then each ``--jobs KEY=VALUE``) come after them,
so they win. When one instance stops, the other is stopped too, and the exit
status is the first one's. Both instances share this process's group and
session: Ctrl-C in a terminal reaches all three, and SIGTERM sent to this
process alone is passed on to both.
"""

import argparse
import configparser
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SECTION = "distribution_jobs"
SERVER = Path(__file__).resolve().parent / "odoo_server.py"

#: the settings [distribution_jobs] may hold, and the Odoo option of each
JOBS_OPTIONS = {
    "http_port": "--http-port",
    "gevent_port": "--gevent-port",
    "workers": "--workers",
    "max_cron_threads": "--max-cron-threads",
    "server_wide_modules": "--load",
    "logfile": "--logfile",
}
#: how much lower the jobs instance's CPU priority is, unless set
DEFAULT_NICE = 10


class LayoutError(Exception):
    """The configuration does not describe the jobs instance."""


def jobs_settings(conf_path, overrides=()):
    """The jobs instance's settings: ``[distribution_jobs]`` of the file,
    then ``KEY=VALUE`` overrides. Unknown keys are an error."""
    parser = configparser.RawConfigParser()
    if not parser.read(conf_path, encoding="utf-8"):
        raise LayoutError(f"cannot read {conf_path}")
    if not parser.has_section(SECTION):
        raise LayoutError(
            f"{conf_path} has no [{SECTION}] section: copy it from"
            " odoo.conf.example (it describes the instance that runs the jobs)"
        )
    settings = dict(parser.items(SECTION))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise LayoutError(f"--jobs {item}: expected KEY=VALUE")
        settings[key.strip()] = value.strip()
    unknown = sorted(set(settings) - set(JOBS_OPTIONS) - {"nice"})
    if unknown:
        raise LayoutError(
            f"[{SECTION}] does not know {', '.join(unknown)}"
            f" (known: nice, {', '.join(JOBS_OPTIONS)})"
        )
    if not settings.get("http_port"):
        raise LayoutError(f"[{SECTION}] needs http_port (where jobs are sent)")
    try:
        settings["nice"] = int(settings.get("nice") or DEFAULT_NICE)
    except ValueError as exc:
        raise LayoutError(f"[{SECTION}] nice must be a number: {exc}") from exc
    return settings


def commands(conf_path, odoo_args, settings, python=sys.executable):
    """(front command, jobs command, front environment)."""
    base = [python, str(SERVER), "server", "-c", str(conf_path), *odoo_args]
    jobs = base + [
        f"{option}={settings[key]}"
        for key, option in JOBS_OPTIONS.items()
        if settings.get(key)
    ]
    # queue_job's runner reads its target from the environment first
    front_env = dict(os.environ, ODOO_QUEUE_JOB_PORT=str(settings["http_port"]))
    return base, jobs, front_env


def run(conf_path, odoo_args, overrides=()):
    settings = jobs_settings(conf_path, overrides)
    front_cmd, jobs_cmd, front_env = commands(conf_path, odoo_args, settings)
    nice = settings["nice"]
    children = []
    stopping = []

    def stop(signum=signal.SIGTERM, _frame=None):
        # a second signal makes Odoo stop at once: pass each on only once,
        # and not an interrupt, which the terminal sent to the whole group
        stopping.append(signum)
        if signum == signal.SIGINT or len(stopping) > 1:
            return
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # same session as the front instance: on Linux, a lower priority counts
    # against the processes of one session (scheduler autogroups)
    children.append(
        subprocess.Popen(jobs_cmd, preexec_fn=lambda: os.nice(nice))  # noqa: PLW1509
    )
    children.append(subprocess.Popen(front_cmd, env=front_env))
    print(
        f"Jobs instance on port {settings['http_port']} (nice {nice}),"
        f" front instance pid {children[1].pid}",
        flush=True,
    )
    status = None
    while status is None:
        for child in children:
            code = child.poll()
            if code is not None:
                status = code
                break
        else:
            time.sleep(0.5)
    if not stopping:
        name = "jobs" if children[0].returncode is not None else "front"
        print(f"The {name} instance stopped (status {status}): stopping the other.")
        stop()
    for child in children:
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return status if status is not None else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s -c CONF [--jobs KEY=VALUE ...] [ODOO OPTIONS...]",
        allow_abbrev=False,
    )
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration")
    parser.add_argument(
        "--jobs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a [{SECTION}] value for this run (e.g. http_port=8170)",
    )
    args, odoo_args = parser.parse_known_args(argv)
    try:
        return run(args.config, odoo_args, args.jobs)
    except LayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
