"""`python -m bundle.secrets init|list|get|set|rotate ENV [NAME]`, `export ENV MEDIUM`,
`restore ENV FOLDER`: the operator's view of the secret store. `list` never shows values; `get`
prints one value for whoever asks explicitly; `set` reads a value from standard input (never
argv); `export` and `restore` are its offline custody (bundle/custody.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bundle import custody
from bundle.secret_store import SPECS, SecretStore, SecretStoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bundle.secrets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command, help_text in (
        ("init", "create the identity (if needed) and generate every missing secret"),
        ("list", "names and dates, never values"),
    ):
        sub.add_parser(command, help=help_text).add_argument("env")
    for command, help_text in (
        ("get", "print one secret's value"),
        ("set", "store a value read from stdin for a secret that does not exist yet"),
        ("rotate", "replace one secret (never the salt or backup key); say what it affects"),
    ):
        one = sub.add_parser(command, help=help_text)
        one.add_argument("env")
        one.add_argument("name", choices=sorted(SPECS), metavar="NAME")
    for command, place, help_text in (
        ("export", "medium", "copy the store and its identity into a new folder on MEDIUM"),
        ("restore", "folder", "install the store and its identity from an exported FOLDER"),
    ):
        one = sub.add_parser(command, help=help_text)
        one.add_argument("env")
        one.add_argument(place, type=Path)
    args = parser.parse_args(argv)
    store = SecretStore(args.env) if _valid_env(args.env) else None
    try:
        if store is None:
            raise SecretStoreError(f"environment name {args.env!r} is not valid")
        return _run(store, args)
    except SecretStoreError as error:
        print(f"secrets: error: {error}", file=sys.stderr)
        return 1


def _valid_env(env: str) -> bool:
    try:
        SecretStore(env)
    except SecretStoreError:
        return False
    return True


def _run(store: SecretStore, args: argparse.Namespace) -> int:
    if args.command == "init":
        had = set(store.values()) if store.exists() else set()
        values = store.ensure(create_identity=True)
        new = sorted(set(values) - had)
        print(f"{store.path}: {len(values)} secrets ({len(new)} generated now)")
        print(f"identity: {store.identity_source()} (back it up: without it the store is lost)")
    elif args.command == "list":
        if not store.exists():
            print(f"{store.path}: does not exist yet")
        for name, created, rotated in store.listing():
            print(f"{name:<34} created {created}" + (f"  rotated {rotated}" if rotated else ""))
    elif args.command == "get":
        print(store.get(args.name))
    elif args.command == "set":
        if sys.stdin.isatty():
            print(
                f"value for {args.name} (input hidden is not supported; pipe it in):",
                file=sys.stderr,
            )
        store.set(args.name, sys.stdin.readline().strip())
        print(f"{args.name} stored")
    elif args.command == "rotate":
        affects = store.rotate(args.name)
        print(f"{args.name} rotated. Affects: {affects}")
    elif args.command == "export":
        folder = custody.export(store, args.medium)
        print(f"{folder}: {store.path.name} and its identity; keep this folder offline")
    elif args.command == "restore":
        custody.restore(store, args.folder)
        print(f"{store.path} and {store.identity_source()} restored from {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
