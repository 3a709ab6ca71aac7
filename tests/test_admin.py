"""The admin: weights edited through the treatment inline, validation, phases and actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_experiments import experiment
from django_experiments.models import Experiment, Phase, Treatment

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client: Client) -> Client:
    return admin_client


def form_data(exp: Experiment | None, rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    existing = list(exp.treatments.all()) if exp else []
    data: dict[str, Any] = {
        "name": fields.pop("name", exp.name if exp else "cta"),
        "status": fields.pop("status", exp.status if exp else "draft"),
        "winner": fields.pop("winner", ""),
        "description": "",
        "hypothesis": "",
        "treatments-TOTAL_FORMS": str(len(rows)),
        "treatments-INITIAL_FORMS": str(len(existing)),
        "treatments-MIN_NUM_FORMS": "0",
        "treatments-MAX_NUM_FORMS": "1000",
        "phases-TOTAL_FORMS": "0",
        "phases-INITIAL_FORMS": str(exp.phases.count() if exp else 0),
        "phases-MIN_NUM_FORMS": "0",
        "phases-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    for i, row in enumerate(rows):
        prefix = f"treatments-{i}-"
        if i < len(existing):
            data[prefix + "id"] = str(existing[i].pk)
            data[prefix + "experiment"] = str(exp.pk) if exp else ""
        data[prefix + "name"] = row["name"]
        data[prefix + "weight"] = str(row["weight"])
        data[prefix + "order"] = str(i)
        data[prefix + "payload"] = row.get("payload", "{}")
        if row.get("is_control"):
            data[prefix + "is_control"] = "on"
        if row.get("DELETE"):
            data[prefix + "DELETE"] = "on"
    return data


def errors_of(response: Any) -> str:
    return response.content.decode()


def test_add_experiment_with_treatments(staff: Client) -> None:
    url = reverse("admin:django_experiments_experiment_add")
    data = form_data(
        None,
        [
            {"name": "control", "weight": 3, "is_control": True},
            {"name": "candidate", "weight": 1},
        ],
        status="running",
    )
    response = staff.post(url, data)
    assert response.status_code == 302, errors_of(response)
    exp = Experiment.objects.get(name="cta")
    assert [(t.name, float(t.weight)) for t in exp.treatments.all()] == [
        ("control", 3.0),
        ("candidate", 1.0),
    ]


def test_weight_change_in_admin_is_one_phase_by_the_editor(
    staff: Client, make_experiment: Any, django_capture_on_commit_callbacks: Any
) -> None:
    exp = make_experiment("cta", control=1, candidate=1, extra=1)
    with django_capture_on_commit_callbacks(execute=True):
        from django_experiments.services import record_change

        record_change(exp.pk)
    assert exp.phases.count() == 1
    url = reverse("admin:django_experiments_experiment_change", args=[exp.pk])
    data = form_data(
        exp,
        [
            {"name": "control", "weight": 2, "is_control": True},
            {"name": "candidate", "weight": 4},
            {"name": "extra", "weight": 4},
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, data)
    assert response.status_code == 302, errors_of(response)
    phases = list(exp.phases.order_by("number"))
    # Three treatments saved in one request: one change, not a walk through three states.
    assert [p.number for p in phases] == [1, 2]
    new = phases[1]
    assert new.reason == Phase.Reason.WEIGHTS
    assert new.previous_weights == {"control": "1", "candidate": "1", "extra": "1"}
    assert new.weights == {"control": "2", "candidate": "4", "extra": "4"}
    assert new.changed_by_label == "admin"
    assert phases[0].ended_at is not None and new.ended_at is None
    # Takes effect at once in the saving process.
    shares = experiment("cta").definition.effective_shares()  # type: ignore[union-attr]
    assert shares == {"control": 0.2, "candidate": 0.4, "extra": 0.4}


@pytest.mark.parametrize(
    ("rows", "status", "message"),
    [
        (
            [{"name": "control", "weight": -1, "is_control": True}],
            "draft",
            "Weight must be 0 or more, got -1.",
        ),
        (
            [{"name": "control", "weight": "abc", "is_control": True}],
            "draft",
            "Weight must be a number, got &#x27;abc&#x27;.",
        ),
        (
            [{"name": "control", "weight": "NaN", "is_control": True}],
            "draft",
            "Weight must be a finite number, got &#x27;NaN&#x27;.",
        ),
        (
            [{"name": "control", "weight": 0, "is_control": True}, {"name": "b", "weight": 0}],
            "running",
            "A running experiment needs at least one treatment with a weight above 0.",
        ),
        (
            [{"name": "control", "weight": 1, "is_control": True}, {"name": "b", "weight": 1}],
            "draft",
            None,
        ),
        (
            [{"name": "control", "weight": 1}, {"name": "b", "weight": 1}],
            "draft",
            "Exactly one treatment must be the control; none is marked.",
        ),
        (
            [
                {"name": "control", "weight": 1, "is_control": True},
                {"name": "b", "weight": 1, "is_control": True},
            ],
            "draft",
            "Exactly one treatment must be the control; 2 are marked: control, b.",
        ),
        (
            [
                {"name": "control", "weight": 1, "is_control": True},
                {"name": "control", "weight": 1},
            ],
            "draft",
            "Please correct the duplicate data for name",
        ),
    ],
)
def test_validation_messages(
    staff: Client, rows: list[dict[str, Any]], status: str, message: str | None
) -> None:
    url = reverse("admin:django_experiments_experiment_add")
    response = staff.post(url, form_data(None, rows, status=status))
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert message in errors_of(response)
    assert not Experiment.objects.exists()


def test_winner_must_belong_to_the_experiment(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta")
    other = make_experiment("other")
    foreign = other.treatments.get(name="candidate")
    url = reverse("admin:django_experiments_experiment_change", args=[exp.pk])
    rows = [
        {"name": "control", "weight": 1, "is_control": True},
        {"name": "candidate", "weight": 1},
    ]
    response = staff.post(url, form_data(exp, rows, winner=str(foreign.pk)))
    assert response.status_code == 200
    assert "Select a valid choice" in errors_of(response)


def test_changelist_shows_status_shares_and_phase(
    staff: Client, make_experiment: Any, django_capture_on_commit_callbacks: Any
) -> None:
    exp = make_experiment("cta", control=9, candidate=1)
    with django_capture_on_commit_callbacks(execute=True):
        from django_experiments.services import record_change

        record_change(exp.pk)
    response = staff.get(reverse("admin:django_experiments_experiment_changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "control ★: 90%" in body
    assert "candidate: 10%" in body
    assert "Running" in body


def test_change_form_has_live_preview(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=3)
    response = staff.get(reverse("admin:django_experiments_experiment_change", args=[exp.pk]))
    body = response.content.decode()
    assert 'id="glex-share-preview"' in body
    assert ">25%<" in body and ">75%<" in body
    assert "django_experiments/admin/preview.js" in body


def run_action(client: Client, action: str, exps: list[Experiment], **extra: Any) -> Any:
    return client.post(
        reverse("admin:django_experiments_experiment_changelist"),
        {"action": action, "_selected_action": [e.pk for e in exps], **extra},
        follow=True,
    )


def test_actions_start_pause_conclude(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta", status="draft")
    run_action(staff, "start", [exp])
    exp.refresh_from_db()
    assert exp.status == "running" and exp.started_at is not None
    run_action(staff, "pause", [exp])
    exp.refresh_from_db()
    assert exp.status == "paused"
    response = run_action(staff, "conclude", [exp], winner="candidate")
    exp.refresh_from_db()
    assert exp.status == "concluded"
    assert exp.winner is not None and exp.winner.name == "candidate"
    assert "Concluded: cta" in response.content.decode()
    assert experiment("cta", actor="anyone").assigned.name == "candidate"


def test_conclude_with_unknown_winner_is_refused(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta")
    response = run_action(staff, "conclude", [exp], winner="nope")
    exp.refresh_from_db()
    assert exp.status == "running"
    assert "has no treatment named" in response.content.decode()


def test_start_without_positive_weight_is_refused(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta", status="draft", control=0, candidate=0)
    response = run_action(staff, "start", [exp])
    exp.refresh_from_db()
    assert exp.status == "draft"
    assert "needs at least one treatment with a weight above 0" in response.content.decode()


def test_rerandomise_action_opens_a_salt_phase(
    staff: Client, make_experiment: Any, django_capture_on_commit_callbacks: Any
) -> None:
    exp = make_experiment("cta")
    old_salt = exp.salt
    from django_experiments.services import record_change

    record_change(exp.pk)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(staff, "rerandomise", [exp])
    exp.refresh_from_db()
    assert exp.salt != old_salt
    phase = exp.phases.order_by("-number").first()
    assert phase is not None and phase.reason == Phase.Reason.SALT
    assert phase.previous_salt == old_salt and phase.changed_by_label == "admin"


def test_clear_assignments_action_forgets_stored_variants(
    staff: Client, make_experiment: Any
) -> None:
    exp = make_experiment("cta", control=1, candidate=0)
    first = experiment("cta", "candidate", actor="u1")
    assert first.assigned.name == "candidate"
    assert experiment("cta", actor="u1").assigned.name == "candidate"
    run_action(staff, "clear_assignments", [exp])
    assert experiment("cta", actor="u1").assigned.name == "control"


def test_phase_admin_is_read_only(staff: Client, make_experiment: Any) -> None:
    response = staff.get(reverse("admin:django_experiments_phase_add"))
    assert response.status_code == 403


def test_non_staff_cannot_edit(client: Client, db: Any) -> None:
    User.objects.create_user("bob", password="pw")
    client.login(username="bob", password="pw")
    response = client.get(reverse("admin:django_experiments_experiment_changelist"))
    assert response.status_code == 302


def test_treatment_unique_constraint(make_experiment: Any) -> None:
    exp = make_experiment("cta")
    from django.core.exceptions import ValidationError

    dup = Treatment(experiment=exp, name="control", weight=1)
    with pytest.raises(ValidationError):
        dup.full_clean()


def test_results_page_counts_distinct_contexts_in_the_current_phase(
    staff: Client, make_experiment: Any
) -> None:
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from django_experiments.services import record_change
    from django_experiments.tracking.sinks import DatabaseSink

    exp = make_experiment("cta", control=1, candidate=1)
    phase = record_change(exp.pk)
    assert phase is not None
    now = timezone.now()
    batch: list[dict[str, Any]] = []

    def add(event: str, variant: str, key: str, when: Any = None) -> None:
        batch.append(
            {
                "id": str(uuid.uuid4()),
                "event": event,
                "experiment": "cta",
                "variant": variant,
                "key": key,
                "timestamp": (when or now).isoformat(),
            }
        )

    for i in range(10):
        add("assignment", "control", f"c{i}")
        add("assignment", "candidate", f"t{i}")
    for i in range(2):
        add("clicked", "control", f"c{i}")
    for i in range(5):
        add("clicked", "candidate", f"t{i}")
        add("clicked", "candidate", f"t{i}")  # a repeat click counts once
    add("assignment", "candidate", "old", when=phase.started_at - timedelta(days=1))
    add("clicked", "candidate", "old")  # exposed in an earlier phase: not this phase's
    DatabaseSink().send(batch)

    response = staff.get(reverse("admin:django_experiments_experiment_results", args=[exp.pk]))
    assert response.status_code == 200
    results = response.context["results"]
    assert {v.name: v.exposed for v in results.variants} == {"control": 10, "candidate": 10}
    (clicked,) = results.metrics
    control, candidate = clicked.rows
    assert (control.variant, control.converted, control.exposed) == ("control", 2, 10)
    assert (candidate.variant, candidate.converted, candidate.exposed) == ("candidate", 5, 10)
    assert candidate.comparison is not None
    assert abs(candidate.comparison.lift - 1.5) < 1e-9
    body = response.content.decode()
    assert "clicked" in body and "50.00%" in body


def test_results_page_of_unknown_experiment_is_404(staff: Client, db: Any) -> None:
    response = staff.get(reverse("admin:django_experiments_experiment_results", args=[999]))
    assert response.status_code == 404


def test_change_form_links_to_results(staff: Client, make_experiment: Any) -> None:
    exp = make_experiment("cta")
    response = staff.get(reverse("admin:django_experiments_experiment_change", args=[exp.pk]))
    url = reverse("admin:django_experiments_experiment_results", args=[exp.pk])
    assert url in response.content.decode()
