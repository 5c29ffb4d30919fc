#!/usr/bin/env python3
"""Install Odoo 19.0 into this interpreter unless it already imports it.

``make install`` runs this first. When ``import odoo`` gives Odoo 19.0,
nothing is done; another Odoo version is an error (exit 2), since
installing over it would break whatever uses it. Otherwise Odoo is
installed from ``ODOO_SOURCE`` (or ``--source``), which is one of:

- a folder holding an Odoo wheel (``odoo-19.0*.whl``) and Odoo's pinned
  ``requirements.txt``;
- an Odoo 19.0 source archive (``.tar.gz``, ``.tgz`` or ``.zip``), as a
  path or an ``http(s)`` URL; by default Odoo's official 19.0 nightly
  source archive.

The steps are those Odoo documents for a source install: its pinned
requirements first, then Odoo itself without dependencies, so that pip
never replaces a pinned version by a newer one. The project's own
requirements come afterwards (``make install``).

Exit codes: 0 installed or already there, 1 the installation failed,
2 another Odoo version is importable or the source is unusable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

SERIE = "19.0"
DEFAULT_SOURCE = "https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz"
PIP = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


class Unusable(Exception):
    """The interpreter or the source cannot give an Odoo 19.0."""


def importable_serie() -> str | None:
    """The serie of the Odoo this interpreter imports, None if none."""
    probe = subprocess.run(
        [sys.executable, "-c", "import odoo.release as r; print(r.serie)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def pip_install(*args: str) -> None:
    print("+ pip install", *args, flush=True)
    subprocess.run([*PIP, *args], check=True)


def install_from_folder(folder: Path) -> None:
    wheels = sorted(folder.glob(f"odoo-{SERIE}*.whl"))
    requirements = folder / "requirements.txt"
    if len(wheels) != 1 or not requirements.is_file():
        raise Unusable(
            f"{folder} must hold one odoo-{SERIE}*.whl and Odoo's requirements.txt"
            f" (found {len(wheels)} wheel(s), requirements.txt"
            f" {'present' if requirements.is_file() else 'missing'})"
        )
    pip_install("-r", str(requirements))
    pip_install("--no-deps", "--force-reinstall", str(wheels[0]))


def fetch_archive(source: str, workdir: Path) -> Path:
    if source.startswith(("http://", "https://")):
        target = workdir / source.rsplit("/", 1)[-1].split("?", 1)[0]
        print(f"Downloading {source}", flush=True)
        try:
            with urllib.request.urlopen(source, timeout=60) as response:
                with open(target, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
        except OSError as exc:
            raise Unusable(f"cannot download {source}: {exc}") from exc
        return target
    path = Path(source)
    if not path.is_file():
        raise Unusable(f"{source} is neither a folder, a file nor a URL")
    return path


def unpack(archive: Path, workdir: Path) -> Path:
    """Unpack the archive; return the folder holding Odoo's setup files."""
    target = workdir / "src"
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                # the "data" filter refuses links and paths leaving the target
                if hasattr(tarfile, "data_filter"):
                    bundle.extractall(target, filter="data")
                else:
                    bundle.extractall(target)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise Unusable(f"cannot unpack {archive}: {exc}") from exc
    found = sorted(target.glob("**/requirements.txt"), key=lambda p: len(p.parts))
    for requirements in found:
        root = requirements.parent
        if (root / "odoo" / "release.py").is_file():
            return root
    raise Unusable(f"{archive} holds no Odoo source tree (odoo/release.py)")


def install_from_archive(source: str) -> None:
    with tempfile.TemporaryDirectory(prefix="odoo-source-") as tmp:
        root = unpack(fetch_archive(source, Path(tmp)), Path(tmp))
        pip_install("-r", str(root / "requirements.txt"))
        pip_install("--no-deps", str(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--source",
        default=os.environ.get("ODOO_SOURCE") or DEFAULT_SOURCE,
        help="wheel folder, source archive or URL"
        " (default: $ODOO_SOURCE, else %(default)s)",
    )
    args = parser.parse_args(argv)

    serie = importable_serie()
    if serie == SERIE:
        print(f"Odoo {SERIE} is already importable by {sys.executable}: left as it is.")
        return 0
    try:
        if serie is not None:
            raise Unusable(
                f"{sys.executable} imports Odoo {serie}, not {SERIE}: use another"
                " interpreter or virtual environment (PYTHON=...)"
            )
        print(
            f"Installing Odoo {SERIE} into {sys.executable} from {args.source}",
            flush=True,
        )
        source = Path(args.source)
        if source.is_dir():
            install_from_folder(source)
        elif args.source.endswith(ARCHIVE_SUFFIXES) or args.source.startswith("http"):
            install_from_archive(args.source)
        else:
            raise Unusable(f"{args.source}: not a folder, an archive or a URL")
    except Unusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except subprocess.CalledProcessError as exc:
        print(f"error: installing Odoo failed: {exc}", file=sys.stderr)
        return EXIT_FAILED

    serie = importable_serie()
    if serie != SERIE:
        print(f"error: Odoo still imports as {serie!r}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Odoo {SERIE} installed into {sys.executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
