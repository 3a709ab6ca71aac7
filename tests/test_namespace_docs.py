"""docs/namespaces.md's code recipe runs as written, with the effects it describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from django_experiments.models import Experiment, Namespace, Phase
from tests.markdown_blocks import marked_blocks

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parent.parent / "docs" / "namespaces.md"


def test_the_recipe_runs_and_its_commit_records_table_and_phases(make_experiment: Any) -> None:
    for name in ("button_colour", "shipping_copy", "free_delivery"):
        make_experiment(name)
    (block,) = marked_blocks(DOC, "namespaces").values()
    exec(block.code, {})
    checkout = Namespace.objects.get(name="checkout")
    # Committed: the recorded table is the holdout, then each experiment in join order.
    button, shipping = (Experiment.objects.get(name=n) for n in ("button_colour", "shipping_copy"))
    assert checkout.allocation == [
        [0, 500, ":holdout"],
        [500, 4500, str(button.pk)],
        [4500, 8500, str(shipping.pk)],
    ]
    phase = button.phases.get(ended_at__isnull=True)
    assert phase.population == {
        "namespace": "checkout",
        "salt": "checkout",
        "slots": [[500, 4500]],
        "namespace_holdout": "5",
    }
    assert phase.reason in (Phase.Reason.CREATED, Phase.Reason.POPULATION)
    # The refused one stayed out.
    assert Experiment.objects.get(name="free_delivery").namespace is None
