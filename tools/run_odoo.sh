#!/usr/bin/env bash
# Start the product: Odoo 19.0 with the Distribution Sync addons on a demo
# database, as the two instances of the Procfile, run by honcho: the front one
# answers webhooks and users and runs the queue_job runner, the jobs one runs
# the jobs and the scheduled actions at a lower CPU priority. Ctrl-C or a
# SIGTERM stops both.
#
# First run: writes .local/odoo.conf from odoo.conf.example (addons path,
# data dir, a random master password, and an encryption key generated
# once into .local/encryption.key), then creates the database
# distribution_demo with every addon of addons/ installed with demo data.
# Later runs reuse both.
#
# Environment: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (odoo),
# ODOO_HTTP_PORT (8069), ODOO_GEVENT_PORT (8072), ODOO_JOBS_HTTP_PORT (8070),
# ODOO_JOBS_GEVENT_PORT (8073),
# DISTRIBUTION_DB (distribution_demo), PYTHON (python3).
# Extra arguments (without spaces) are passed to both instances.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$REPO/.local"
CONF="$LOCAL/odoo.conf"
KEY_FILE="$LOCAL/encryption.key"
PYTHON="${PYTHON:-python3}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-odoo}"
DB="${DISTRIBUTION_DB:-distribution_demo}"
HTTP_PORT="${ODOO_HTTP_PORT:-8069}"
GEVENT_PORT="${ODOO_GEVENT_PORT:-8072}"
JOBS_HTTP_PORT="${ODOO_JOBS_HTTP_PORT:-8070}"
JOBS_GEVENT_PORT="${ODOO_JOBS_GEVENT_PORT:-8073}"

die() {
    echo "error: $*" >&2
    exit 1
}

# --- prerequisites ----------------------------------------------------------
"$PYTHON" -c 'import odoo.release as r, sys; sys.exit(r.serie != "19.0")' 2>/dev/null ||
    die "Odoo 19.0 is not importable by $PYTHON: run make install with the same PYTHON."
command -v psql >/dev/null || die "psql (the PostgreSQL client) is not installed."
[ "$PGUSER" != postgres ] || die "Odoo refuses the postgres role: set PGUSER to another role."
if command -v pg_isready >/dev/null && ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    die "PostgreSQL does not answer at $PGHOST:$PGPORT."
fi
"$PYTHON" -c 'import honcho' 2>/dev/null ||
    die "honcho is not installed for $PYTHON (requirements.txt): run make install."
# Odoo's prefork server starts its gevent worker by running its own command
# again: the odoo command that the package installs can be run again,
# `python3 -m odoo` cannot.
ODOO="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/odoo"
[ -x "$ODOO" ] ||
    die "$ODOO is missing: install Odoo 19.0 as a package (make install)."

pg() { # pg ROLE SQL: run one statement in the maintenance database
    PGCONNECT_TIMEOUT=10 psql -h "$PGHOST" -p "$PGPORT" -U "$1" -d postgres -XtAq \
        -v ON_ERROR_STOP=1 -c "$2"
}

if ! pg "$PGUSER" 'SELECT 1' >/dev/null 2>&1; then
    echo "Creating PostgreSQL role $PGUSER"
    pg postgres "CREATE ROLE \"$PGUSER\" LOGIN CREATEDB" >/dev/null ||
        die "cannot create role $PGUSER (connect as postgres failed)."
fi

# --- addons -----------------------------------------------------------------
ADDONS=""
for manifest in "$REPO"/addons/*/__manifest__.py; do
    [ -f "$manifest" ] || continue
    name="$(basename "$(dirname "$manifest")")"
    ADDONS="${ADDONS:+$ADDONS,}$name"
done
[ -n "$ADDONS" ] || die "no addon found under addons/ (no __manifest__.py)."

# --- local configuration, generated once ------------------------------------
mkdir -p "$LOCAL"
chmod 700 "$LOCAL"
if [ ! -s "$KEY_FILE" ]; then
    (umask 077 && "$PYTHON" -c \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' \
        >"$KEY_FILE")
    echo "Generated an encryption key in .local/encryption.key: back it up," \
        "credentials stored with it cannot be read without it."
fi
if [ ! -s "$CONF" ]; then
    (umask 077
    export REPO LOCAL KEY_FILE PGHOST PGPORT PGUSER HTTP_PORT GEVENT_PORT
    "$PYTHON" - "$REPO/odoo.conf.example" "$CONF" <<'PY'
import os
import re
import secrets
import sys
from pathlib import Path

source, target = sys.argv[1:3]
env = os.environ
values = {
    "addons_path": f"{env['REPO']}/addons",
    "data_dir": f"{env['LOCAL']}/data",
    "db_host": env["PGHOST"],
    "db_port": env["PGPORT"],
    "db_user": env["PGUSER"],
    "http_port": env["HTTP_PORT"],
    "gevent_port": env["GEVENT_PORT"],
    "admin_passwd": secrets.token_urlsafe(24),
    "encryption_keys": Path(env["KEY_FILE"]).read_text().strip(),
}
lines = []
for line in Path(source).read_text(encoding="utf-8").splitlines(keepends=True):
    match = re.match(r"^;? ?(\w+) =", line)
    if match and match[1] in values:
        line = f"{match[1]} = {values.pop(match[1])}\n"
    lines.append(line)
if values:
    sys.exit(f"odoo.conf.example lacks: {', '.join(values)}")
Path(target).write_text("".join(lines), encoding="utf-8")
PY
    )
    echo "Wrote .local/odoo.conf"
fi
grep -q '^\[distribution_jobs\]' "$CONF" ||
    die ".local/odoo.conf has no [distribution_jobs] section (the jobs instance):" \
        "delete it to have it written again, or copy that section from odoo.conf.example."
JOBS_OPTIONS="$("$PYTHON" "$REPO/tools/jobs_instance_options.py" "$CONF")" ||
    die "the [distribution_jobs] section of .local/odoo.conf is not usable (above)."

# Command-line values win over the file, so the environment always applies.
DB_OPTIONS=("--db_host=$PGHOST" "--db_port=$PGPORT" "--db_user=$PGUSER")
for arg in "${DB_OPTIONS[@]}" "$@"; do
    [ "$arg" = "${arg//[[:space:]]/}" ] ||
        die "'$arg': the Procfile passes options split on spaces, this one cannot contain any."
done
ODOO_INIT=("$ODOO" server -c "$CONF" -d "$DB" "${DB_OPTIONS[@]}"
    "--http-port=$HTTP_PORT" "--gevent-port=$GEVENT_PORT")

# --- database, created once with demo data -----------------------------------
exists="$(pg "$PGUSER" "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ||
    die "cannot query PostgreSQL as $PGUSER."
if [ "$exists" != 1 ]; then
    echo "Creating database $DB with $ADDONS and demo data"
    if ! "${ODOO_INIT[@]}" -i "$ADDONS" --with-demo --workers=0 --max-cron-threads=0 \
        --stop-after-init; then
        pg "$PGUSER" "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null || true
        die "installing the addons in $DB failed (database dropped)."
    fi
else
    # Addons added to the repository since the database was created.
    installed="$(PGCONNECT_TIMEOUT=10 psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" \
        -d "$DB" -XtAq -c "SELECT name FROM ir_module_module WHERE state = 'installed'")" ||
        die "cannot read the installed modules of $DB."
    missing=""
    for name in ${ADDONS//,/ }; do
        grep -qx "$name" <<<"$installed" || missing="${missing:+$missing,}$name"
    done
    if [ -n "$missing" ]; then
        echo "Installing new addons in $DB: $missing"
        "${ODOO_INIT[@]}" -i "$missing" --workers=0 --max-cron-threads=0 --stop-after-init ||
            die "installing $missing in $DB failed."
    fi
fi

echo "Odoo on http://localhost:$HTTP_PORT (database $DB, login admin/admin)"
# The variables of the Procfile. honcho is told to read no .env file: this
# script has already used the environment for the database and the
# configuration, and the instances must see the same.
export ODOO DISTRIBUTION_DB="$DB" ODOO_CONF="$CONF"
export ODOO_HTTP_PORT="$HTTP_PORT" ODOO_GEVENT_PORT="$GEVENT_PORT"
export ODOO_JOBS_HTTP_PORT="$JOBS_HTTP_PORT" ODOO_JOBS_GEVENT_PORT="$JOBS_GEVENT_PORT"
export ODOO_OPTIONS="${DB_OPTIONS[*]}${*:+ $*}"
export DISTRIBUTION_JOBS_OPTIONS="$JOBS_OPTIONS"
exec "$PYTHON" -m honcho start -f "$REPO/Procfile" -d "$REPO" -e /dev/null
