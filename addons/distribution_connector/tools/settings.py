"""Server-side settings of the suite.

Read from the ``[distribution]`` section of the Odoo configuration file (the
same way queue_job reads its ``[queue_job]`` section), overridden by
``DISTRIBUTION_<NAME>`` environment variables. Secrets such as encryption keys
live here and never in the database.
"""

import configparser
import functools
import os

from odoo.tools import config

SECTION = "distribution"


@functools.cache
def _file_section(path):
    parser = configparser.RawConfigParser()
    if path and os.path.exists(path):
        parser.read(path)
    if parser.has_section(SECTION):
        return dict(parser.items(SECTION))
    return {}


def setting(name, default=None):
    """Value of ``name`` from the environment or the config file, else default."""
    env_value = os.environ.get(f"DISTRIBUTION_{name.upper()}")
    if env_value not in (None, ""):
        return env_value
    value = _file_section(config.get("config")).get(name)
    if value not in (None, ""):
        return value
    return default
