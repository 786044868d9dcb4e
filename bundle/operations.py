"""Operations pyinfra does not ship: rendered files, and files validated before they go live."""

from __future__ import annotations

import hashlib
import posixpath
from io import BytesIO, StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, StringCommand, operation
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import files

from bundle.render import render


@operation()
def validated_file(
    content: str,
    dest: str,
    validate: str,
    mode: str = "644",
    user: str = "root",
    group: str = "root",
):
    """
    Install ``content`` at ``dest`` only if ``validate`` accepts it first.

    + validate: shell command run against the candidate; ``{path}`` is replaced by its path.
      A config that fails validation never replaces the live file, so the service keeps running
      on the last good one and a later restart cannot pick up a broken file.
    """
    data = content.encode()
    current_sha1 = host.get_fact(Sha1File, path=dest)
    current = host.get_fact(File, path=dest)
    if current_sha1 == hashlib.sha1(data).hexdigest():  # noqa: S324 - pyinfra's own file digest
        # pyinfra's File fact spells mode 0644 as the integer 644.
        if current and (current["user"], current["group"], str(current["mode"])) == (
            user,
            group,
            mode.lstrip("0"),
        ):
            host.noop(f"{dest} is up to date")
            return
        yield StringCommand("chown", f"{user}:{group}", dest)
        yield StringCommand("chmod", mode, dest)
        return
    # The candidate sits next to the live file (same filesystem: the final mv is atomic) under a
    # name no `*.conf`/`*.nft` include pattern matches.
    candidate = posixpath.join(posixpath.dirname(dest), f".{posixpath.basename(dest)}.candidate")
    yield StringCommand("mkdir", "-p", posixpath.dirname(dest))
    yield FileUploadCommand(BytesIO(data), candidate)
    yield StringCommand("chown", f"{user}:{group}", candidate)
    yield StringCommand("chmod", mode, candidate)
    yield StringCommand(
        f"( {validate.format(path=candidate)} ) || {{ rm -f {candidate}; exit 1; }}"
    )
    yield StringCommand("mv", "-f", candidate, dest)


def rendered_file(
    template: str, dest: str, *, name: str | None = None, mode: str = "644", **context
):
    """Render `template` (templates/…) with `context` and put it at `dest` ("Render <dest>")."""
    return files.put(
        name=name or f"Render {dest}",
        src=StringIO(render(template, **context)),
        dest=dest,
        mode=mode,
    )
