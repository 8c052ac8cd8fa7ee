"""The two kinds of problem that are not a verdict on the implementation under test.

The CLI turns either into a one-line message and exit code 2; scenarios that meet
an InfrastructureError are reported as errors or skips, never as failures.
"""


class UsageError(Exception):
    """The user asked for something the suite cannot do (unknown release line, bad option)."""


class InfrastructureError(Exception):
    """The world could not be brought up: Docker down, image missing, server crashed."""
