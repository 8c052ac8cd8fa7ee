# The suite's plugin and its step definitions, for `pytest` and `mm-conformance run` alike;
# pytester for the suite's own tests of that plugin.
pytest_plugins = ["fixtures.plugin", "steps.credential_steps", "steps.console_steps", "steps.upgrade_steps",
                  "steps.write_steps",
                  "pytester"]
