"""``create_experiment`` and the ORM recipes of docs/orm.md: one transaction, one phase.

Transactional tests: phases are recorded on commit, so these commit for real (no wrapping
test transaction that would hold the on_commit callbacks back).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from django_experiments import experiment
from django_experiments.creation import create_experiment
from django_experiments.engine.definitions import get_definition
from django_experiments.models import Experiment, Phase, Treatment
from tests.markdown_blocks import marked_blocks

DOC = Path(__file__).resolve().parent.parent / "docs" / "orm.md"

pytestmark = pytest.mark.django_db(transaction=True)


def test_autocommit_creation_is_one_phase_with_the_final_weights() -> None:
    exp = create_experiment(
        "cta", {"control": 3, "candidate": 1}, status="running", payloads={"candidate": {"x": 1}}
    )
    [phase] = exp.phases.all()
    assert phase.number == 1 and phase.reason == Phase.Reason.CREATED
    assert phase.weights == {"control": "3", "candidate": "1"}
    assert phase.slot_table == [[0, 7500, "control"], [7500, 10000, "candidate"]]
    rows = list(exp.treatments.values_list("name", "weight", "is_control", "order", "payload"))
    assert rows == [
        ("control", Decimal(3), True, 0, {}),
        ("candidate", Decimal(1), False, 1, {"x": 1}),
    ]
    exp.refresh_from_db()
    assert exp.status == "running" and exp.started_at is not None
    definition = get_definition("cta")
    assert definition is not None
    assert definition.effective_shares() == {"control": 0.75, "candidate": 0.25}
    assert experiment("cta", actor="ann").assigned.name in ("control", "candidate")


def test_rows_saved_one_by_one_in_autocommit_are_several_phases() -> None:
    """Why the helper exists: each autocommit save is a change of its own."""
    exp = Experiment.objects.create(name="cta")
    Treatment.objects.create(experiment=exp, name="control", is_control=True)
    Treatment.objects.create(experiment=exp, name="candidate")
    assert exp.phases.count() > 1


def test_defaults_draft_first_or_named_control_and_extra_fields() -> None:
    draft = create_experiment("a", {"grey": 1, "red": 1}, description="why", client_visible=True)
    assert draft.status == "draft" and draft.started_at is None
    assert draft.description == "why" and draft.client_visible
    assert list(draft.treatments.filter(is_control=True).values_list("name", flat=True)) == ["grey"]
    named = create_experiment("b", {"red": 1, "control": 1})
    assert named.treatments.get(is_control=True).name == "control"
    chosen = create_experiment("c", {"red": 1, "grey": 1}, control="grey")
    assert chosen.treatments.get(is_control=True).name == "grey"
    concluded = create_experiment("d", {"control": 1}, status="concluded")
    assert concluded.started_at is not None and concluded.concluded_at is not None


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("bad name", {"control": 1}), {}, "slug"),
        (("cta", {}), {}, "at least one treatment"),
        (("cta", {"control": -1}), {}, "Weight must be 0 or more"),
        (("cta", {"control": "abc"}), {}, "Weight must be a number"),
        (("cta", {"control": float("nan")}), {}, "finite"),
        (("cta", {"control": 1, "b": True}), {}, "Weight must be a number"),
        (("cta", {"control": 1, "bad name": 1}), {}, "slug"),
        (("cta", {"control": 1}), {"control": "nope"}, "is not one of the treatments"),
        (("cta", {"control": 0, "b": 0}), {"status": "running"}, "weight above 0"),
        (("cta", {"control": 1}), {"status": "live"}, "Unknown status 'live'"),
        (("cta", {"control": 1}), {"payloads": {"b": {}}}, "unknown treatments: b"),
        (("cta", {"control": 1}), {"payloads": {"control": {"x": object()}}}, "JSON"),
    ],
)
def test_bad_input_is_a_clear_error_and_saves_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        create_experiment(*args, **kwargs)
    assert message in str(raised.value)
    assert not Experiment.objects.exists()
    assert not Treatment.objects.exists()
    assert not Phase.objects.exists()


def test_a_taken_name_is_an_error_and_leaves_the_existing_row_alone() -> None:
    first = create_experiment("cta", {"control": 1, "b": 1})
    with pytest.raises(ValidationError, match="already exists"):
        create_experiment("cta", {"control": 5})
    assert list(Experiment.objects.values_list("pk", flat=True)) == [first.pk]
    assert first.treatments.count() == 2 and Phase.objects.count() == 1


def test_the_docs_recipes_run_as_written_in_order() -> None:
    blocks = marked_blocks(DOC, "orm")
    assert list(blocks) == ["helper", "atomic", "reweight"]
    namespace: dict[str, Any] = {}
    for block in blocks.values():
        exec(block.code, namespace)  # each block asserts its own phase count
    assert Experiment.objects.get(name="signup_button").phases.count() == 1
    pricing = Experiment.objects.get(name="pricing_page")
    assert [p.weights for p in pricing.phases.order_by("number")] == [
        {"control": "1", "annual_first": "1"},
        {"control": "1", "annual_first": "3"},
    ]
