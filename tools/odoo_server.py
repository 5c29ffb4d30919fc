#!/usr/bin/env python3
"""Start Odoo, like ``python3 -m odoo``.

With workers > 0 Odoo re-executes ``sys.argv[0]`` to spawn its gevent
(websocket) worker. Under ``python3 -m odoo`` that is ``odoo/__main__.py``,
which cannot run as a plain script; this file can.
"""

from odoo.cli.command import main

if __name__ == "__main__":
    main()
