"""Benchmark the testbed and the base deploy; prints the numbers the closing notes report.

  cold up    `up --hosts 3` with no cached image (debootstrap included)
  warm up    `up --hosts 3` from nothing running, image cached
  deploy 1   base deploy on fresh hosts
  deploy 2   the same deploy again (every operation "No change")

Run as root: python scripts/bench_testbed.py [--skip-cold] [--topology single|split] (default:
3 role-less hosts, base deploy only). Leaves the testbed down and purged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import paths  # noqa: E402


def timed(*args: str) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds, result.stdout


def testbed(*args: str) -> float:
    return timed(sys.executable, "-m", "testbed", *args)[0]


def deploy() -> tuple[float, int, int]:
    pyinfra = str(Path(sys.executable).with_name("pyinfra"))
    seconds, out = timed(pyinfra, "-y", "--json", "inventories/testbed.py", "deploy.py")
    ops = json.loads(out)["results"]["operations"]
    changed = sum(len(op["success"]) for op in ops)
    unchanged = sum(len(op["no_change"]) for op in ops)
    return seconds, changed, unchanged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="keep the cached image")
    parser.add_argument("--topology", choices=["single", "split"], help="role hosts instead")
    args = parser.parse_args()
    shape = ["--topology", args.topology] if args.topology else ["--hosts", "3"]
    what = f"topology {args.topology}" if args.topology else "3 hosts"
    results = []
    testbed("down", "--purge")
    if not args.skip_cold:
        shutil.rmtree(paths.IMAGES_DIR, ignore_errors=True)
        results.append((f"cold up, {what}, image build", testbed("up", *shape)))
        testbed("down", "--purge")
    results.append((f"warm up, {what}", testbed("up", *shape)))
    seconds, changed, unchanged = deploy()
    results.append((f"deploy 1 ({changed} changed, {unchanged} unchanged)", seconds))
    seconds, changed, unchanged = deploy()
    results.append((f"deploy 2 ({changed} changed, {unchanged} unchanged)", seconds))
    results.append((f"idempotent up, {what} running", testbed("up", *shape)))
    results.append(("down --purge", testbed("down", "--purge")))
    for label, seconds in results:
        print(f"{label:<50} {seconds:7.1f} s")


if __name__ == "__main__":
    main()
