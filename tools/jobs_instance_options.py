#!/usr/bin/env python3
"""Print the jobs instance's Odoo options, from ``[distribution_jobs]``.

The product runs two Odoo instances on one configuration file (see the
Procfile): the front instance with ``[options]`` as they are, the jobs
instance with the values of ``[distribution_jobs]`` in their place. Odoo
reads nothing but ``[options]``, so the jobs instance gets those values as
command-line options, which win over the file. This prints them on one
line, for the Procfile's ``$DISTRIBUTION_JOBS_OPTIONS``::

    tools/jobs_instance_options.py CONF

Exit status 2, with the reason, when the file does not describe the jobs
instance.
"""

import configparser
import sys

SECTION = "distribution_jobs"

#: the settings [distribution_jobs] may hold, and the Odoo option of each
OPTIONS = {
    "http_port": "--http-port",
    "gevent_port": "--gevent-port",
    "workers": "--workers",
    "max_cron_threads": "--max-cron-threads",
    "server_wide_modules": "--load",
    "logfile": "--logfile",
}
#: read by nothing: the Procfile's jobs line sets the CPU priority
IGNORED = {"nice"}


class LayoutError(Exception):
    """The configuration does not describe the jobs instance."""


def jobs_options(conf_path, warn=None):
    """The Odoo options of the jobs instance, from ``[distribution_jobs]`` of
    ``conf_path``. Unknown keys, and values the Procfile cannot pass as one
    word, are an error; ``warn(message)`` is told of the keys ignored."""
    parser = configparser.RawConfigParser()
    try:
        found = parser.read(conf_path, encoding="utf-8")
    except configparser.Error as exc:
        raise LayoutError(f"cannot parse {conf_path}: {exc}") from exc
    if not found:
        raise LayoutError(f"cannot read {conf_path}")
    if not parser.has_section(SECTION):
        raise LayoutError(
            f"{conf_path} has no [{SECTION}] section: copy it from"
            " odoo.conf.example (it describes the instance that runs the jobs)"
        )
    settings = dict(parser.items(SECTION))
    unknown = sorted(set(settings) - set(OPTIONS) - IGNORED)
    if unknown:
        raise LayoutError(
            f"[{SECTION}] does not know {', '.join(unknown)}"
            f" (known: {', '.join(OPTIONS)})"
        )
    if not settings.get("http_port"):
        raise LayoutError(f"[{SECTION}] needs http_port (where jobs are sent)")
    for key in sorted(IGNORED & set(settings)):
        if warn:
            warn(
                f"[{SECTION}] {key} is not read: the jobs line of the Procfile"
                " sets that instance's CPU priority"
            )
    options = []
    for key, option in OPTIONS.items():
        value = settings.get(key, "").strip()
        if not value:
            continue
        if value.split() != [value]:
            raise LayoutError(f"[{SECTION}] {key} cannot contain spaces: {value!r}")
        options.append(f"{option}={value}")
    return options


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print(f"usage: {sys.argv[0]} CONF", file=sys.stderr)
        return 2
    try:
        options = jobs_options(
            args[0], warn=lambda msg: print(f"warning: {msg}", file=sys.stderr)
        )
    except LayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(" ".join(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
