"""Command line: ``python -m airflow_provider_flow validate FILE_OR_FOLDER...`` and ``... schema``.

Checks flow files exactly as the DAG loader does (same messages), without Airflow: no scheduler, no metadata
DB, no ``import airflow``. Exit status 0 when every file is valid, 1 when any is not, 2 on usage errors.
``schema`` prints the JSON Schema of a flow file, for editors (e.g. the YAML language server's
``# yaml-language-server: $schema=flow.schema.json``) to complete and check keys while typing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _validate(paths: Sequence[str]) -> int:
    from airflow_provider_flow.errors import FlowFileError
    from airflow_provider_flow.flows.loader import expand_paths, load_flow_file

    files = expand_paths(paths)
    if not files:
        print("no flow files found (looked for *.yaml, *.yml, *.json)", file=sys.stderr)
        return 1
    failed = 0
    for path in files:
        try:
            spec = load_flow_file(path)
        except FlowFileError as err:
            failed += 1
            print(f"FAIL {err.message}", file=sys.stderr)
            continue
        print(f"ok   {path}: dag_id={spec.dag_id}, {len(spec.nodes)} nodes")
    if failed:
        print(f"{failed} of {len(files)} flow files invalid", file=sys.stderr)
    return 1 if failed else 0


def _schema() -> int:
    import json

    from airflow_provider_flow.core.registry import registry
    from airflow_provider_flow.flows.schema import flow_json_schema

    print(json.dumps(flow_json_schema(registry), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_flow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check flow files (YAML/JSON) without Airflow")
    validate.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER")
    commands.add_parser("schema", help="print the JSON Schema of a flow file (for editor completion)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths)
    if args.command == "schema":
        return _schema()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
