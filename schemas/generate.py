"""Write the generated artefacts of the contract: one JSON Schema per event type in
`schemas/json/` and the AsyncAPI document `schemas/asyncapi.json`.

`python -m schemas.generate` writes them; `python -m schemas.generate --check` writes nothing
and exits 1 naming every file that is missing, stale or left over."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas.asyncapi import asyncapi_document
from schemas.event_schemas import event_schemas

SCHEMAS_DIR = Path(__file__).parent
_JSON_DIR = "json"


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def artefacts() -> dict[str, str]:
    """Every generated file's content, by its path relative to the schemas directory."""
    files = {
        f"{_JSON_DIR}/{ce_type}.json": _text(schema)
        for ce_type, schema in sorted(event_schemas().items())
    }
    files["asyncapi.json"] = _text(asyncapi_document())
    return files


def stale_files(directory: Path = SCHEMAS_DIR) -> list[str]:
    """The generated files under `directory` that are missing, out of date or left over."""
    expected = artefacts()
    stale = [
        name
        for name, text in expected.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    leftovers = [
        f"{_JSON_DIR}/{path.name}"
        for path in sorted((directory / _JSON_DIR).glob("*.json"))
        if f"{_JSON_DIR}/{path.name}" not in expected
    ]
    return stale + leftovers


def write(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Bring every generated file under `directory` up to date; returns what changed."""
    changed = stale_files(directory)
    expected = artefacts()
    (directory / _JSON_DIR).mkdir(parents=True, exist_ok=True)
    for name in changed:
        path = directory / name
        if name in expected:
            path.write_text(expected[name], encoding="utf-8")
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    """Write the artefacts, or with --check say which are stale."""
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    arguments = parser.parse_args(argv)
    if arguments.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: schemas/{name} (run python -m schemas.generate)", file=sys.stderr)
        return 1 if stale else 0
    for name in write():
        print(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
