"""The ``pyro`` command line: ``pyro plugins [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from pyro.plugins.manager import get_plugin_manager


def _plugins(as_json: bool) -> int:
    manager = get_plugin_manager()
    registered = manager.registered()
    rows = []
    for info in manager.plugins.values():
        owner = info.distribution or info.name
        rows.append({
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "module": info.module,
            "first_party": info.first_party,
            "registered": registered.get(owner, {}),
        })
    failed = [
        {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
        for f in manager.failures
    ]
    if as_json:
        json.dump({"plugins": rows, "failed": failed}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for row in rows:
        print(f"{row['name']} ({row['distribution']} {row['version']})"
              f"{'' if row['first_party'] else '  [third-party]'}")
        for kind, names in sorted(row["registered"].items()):
            print(f"    {kind} ({len(names)}): {', '.join(sorted(names))}")
    if failed:
        print("failed to load:")
        for f in failed:
            print(f"    {f['name']} ({f['distribution']} {f['version']}): {f['error']}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``pyro`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="pyro", description="Pyro-compatible PPL tools")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    plugins = sub.add_parser("plugins", help="list installed plugins and what they register")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.version:
        import pyro

        print(pyro.__version__)
        return 0
    if args.command == "plugins":
        return _plugins(args.json)
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
