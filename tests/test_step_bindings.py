"""Every step of every scenario (each Examples row rendered) has exactly one step definition.

The scenarios themselves only run against a real Mattermost; this check runs
anywhere, so a typo in a feature file is caught even where no server can start.
"""

from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser
from pytest_bdd.steps import step_function_context_registry

import steps.console_steps  # noqa: F401  (registers the step definitions)
import steps.credential_steps  # noqa: F401
import steps.upgrade_steps  # noqa: F401
import steps.write_steps  # noqa: F401

FEATURES = Path(__file__).resolve().parent.parent / "features"


def rendered_steps():
    for path in sorted(FEATURES.rglob("*.feature")):
        feature = FeatureParser(str(FEATURES), str(path.relative_to(FEATURES))).parse()
        for template in feature.scenarios.values():
            contexts = [c for examples in template.examples for c in examples.as_contexts()] or [{}]
            for context in contexts:
                for step in template.render(context).steps:
                    yield pytest.param(step.type, step.name, id=f"{path.name}:{step.line_number}:{step.name[:40]}")


@pytest.mark.parametrize("step_type, text", list(rendered_steps()))
def test_step_has_exactly_one_definition(step_type, text):
    matching = [c for c in step_function_context_registry.values()
                if c.type in (step_type, None) and c.parser.is_matching(text)]
    assert len(matching) == 1, f"{step_type} {text!r} matches {len(matching)} step definitions"
