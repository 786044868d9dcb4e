"""The setup guide's requests made with curl, as a person would type them, for `make demo` and
`make dev`: headers (which carry keys) are read from a 0600 file (`-H @file`), never from argv,
so no secret shows in a process list or the output."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile


class CurlError(Exception):
    pass


def curl_json(url: str, headers: dict[str, str], body: dict | None = None, *, curl_args=()) -> dict:
    """GET (or POST `body` as JSON) `url`; its JSON answer, or CurlError unless it is a 200."""
    with tempfile.NamedTemporaryFile("w", prefix="guide-headers-") as header_file:
        os.chmod(header_file.name, 0o600)
        header_file.write("".join(f"{k}: {v}\n" for k, v in headers.items()))
        header_file.flush()
        args = ["curl", "-sS", "--max-time", "60", *curl_args, "-H", f"@{header_file.name}"]
        args += ["-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        done = subprocess.run([*args, url], capture_output=True, text=True, check=False)
    text, _, status = done.stdout.rpartition("\n")
    if done.returncode != 0 or status != "200":
        raise CurlError(f"{url}: {status or done.stderr.strip()} {text[:300]}")
    return json.loads(text)
