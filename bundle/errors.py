"""The error preflight raises: its own module, so that the settings schema and the checks it
calls (bundle/settings.py, bundle/litellm_release.py) can raise it without importing preflight."""

from pyinfra.api.exceptions import PyinfraError


class PreflightError(PyinfraError):
    """Bad inventory data: raised before any operation is prepared, so nothing is changed."""
