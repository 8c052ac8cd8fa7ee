# The suite's plugin and its step definitions, for `pytest` and `mm-conformance run` alike.
pytest_plugins = ["fixtures.plugin", "steps.credential_steps", "steps.console_steps"]
