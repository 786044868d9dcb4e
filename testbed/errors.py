"""The one error type the testbed CLI turns into a single line and a non-zero exit."""


class TestbedError(Exception):
    """A problem the operator can fix; the message says what and how."""
