"""The two kinds of problem that are not a verdict on the implementation under test.

The CLI turns either into a one-line message and exit code 2; scenarios that meet
an InfrastructureError are reported as errors or skips, never as failures.
"""


class UsageError(Exception):
    """The user asked for something the suite cannot do (unknown release line, bad option)."""


class InfrastructureError(Exception):
    """The world could not be brought up: Docker down, image missing, server crashed."""


class NotApplicable(Exception):
    """The scenario cannot run on this server as configured; it is skipped with this reason.

    For example a server-wide setting it would have to change, on a server the
    suite was not allowed to reconfigure (external-server mode).
    """
