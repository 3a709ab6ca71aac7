"""The management API: CRUD, actions, phases with the acting user, validation, permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_experiments.models import Experiment, Phase, Treatment
from django_experiments.validation import MSG_NO_CONTROL, MSG_NO_POSITIVE

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/glex/experiments/"


def grant(user: User, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_experiments", codename__in=codenames
        )
    )


@pytest.fixture
def editor() -> User:
    user = User.objects.create_user("editor", password="x")
    grant(
        user,
        "view_experiment",
        "add_experiment",
        "change_experiment",
        "view_treatment",
        "add_treatment",
        "change_treatment",
        "delete_treatment",
    )
    return user


@pytest.fixture
def api(editor: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=editor).key}")
    return client


@pytest.fixture
def created(api: APIClient) -> Callable[..., dict[str, Any]]:
    def create(name: str = "cta", **weights: Any) -> dict[str, Any]:
        weights = weights or {"control": 1, "candidate": 1}
        body = {
            "name": name,
            "description": "Hero button copy",
            "treatments": [
                {"name": t, "weight": w, "is_control": i == 0, "payload": {"label": t}}
                for i, (t, w) in enumerate(weights.items())
            ],
        }
        response = api.post(BASE, body, format="json")
        assert response.status_code == 201, response.json()
        return dict(response.json())

    return create


def test_create_makes_a_draft_with_treatments_and_phase_one_by_the_user(
    created: Callable[..., dict[str, Any]], editor: User
) -> None:
    data = created(control=3, candidate=1)
    assert data["status"] == "draft"
    assert [(t["name"], t["weight"], t["is_control"]) for t in data["treatments"]] == [
        ("control", "3", True),
        ("candidate", "1", False),
    ]
    phase = Phase.objects.get(experiment__name="cta")
    assert (phase.number, phase.reason, phase.changed_by_id) == (1, "created", editor.pk)
    assert phase.weights == {"control": "3", "candidate": "1"}


def test_list_and_retrieve(api: APIClient, created: Callable[..., dict[str, Any]]) -> None:
    created("a")
    created("b")
    assert [e["name"] for e in api.get(BASE).json()] == ["a", "b"]
    detail = api.get(BASE + "b/").json()
    assert detail["name"] == "b" and detail["current_phase"] == 1


def test_weight_change_is_one_phase_recorded_with_the_acting_user(
    api: APIClient, created: Callable[..., dict[str, Any]], editor: User
) -> None:
    created()
    response = api.post(BASE + "cta/weights/", {"weights": {"control": 9, "candidate": "1"}})
    assert response.status_code == 200, response.json()
    assert response.json()["number"] == 2
    assert response.json()["changed_by"] == "editor"
    phases = list(Phase.objects.filter(experiment__name="cta").order_by("number"))
    assert [(p.number, p.reason) for p in phases] == [(1, "created"), (2, "weights")]
    assert phases[1].changed_by_id == editor.pk
    assert phases[1].previous_weights == {"control": "1", "candidate": "1"}
    assert phases[1].weights == {"control": "9", "candidate": "1"}
    assert phases[0].ended_at == phases[1].started_at
    # The same weights again: no change, no phase.
    assert api.post(BASE + "cta/weights/", {"weights": {"control": 9}}).json()["number"] == 2


def test_weight_change_is_the_same_phase_as_the_admin_records(
    api: APIClient,
    created: Callable[..., dict[str, Any]],
    admin_client: Any,
    admin_user: User,
) -> None:
    """The admin and the API produce the same phase row for the same edit."""
    from tests.test_admin import form_data

    created("by_api")
    created("by_admin")
    api.post(BASE + "by_api/weights/", {"weights": {"control": 3}})
    exp = Experiment.objects.get(name="by_admin")
    rows = [
        {"name": "control", "weight": 3, "is_control": True, "payload": '{"label": "control"}'},
        {"name": "candidate", "weight": 1, "payload": '{"label": "candidate"}'},
    ]
    response = admin_client.post(
        f"/admin/django_experiments/experiment/{exp.pk}/change/", form_data(exp, rows)
    )
    assert response.status_code == 302
    fields = ("number", "reason", "weights", "previous_weights", "slot_table")
    by_api = Phase.objects.filter(experiment__name="by_api", number=2).values(*fields).get()
    by_admin = Phase.objects.filter(experiment__name="by_admin", number=2).values(*fields).get()
    assert by_api == by_admin


def test_update_replaces_the_treatment_set_as_one_phase(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created()
    body = {
        "description": "new words",
        "treatments": [
            {"name": "control", "weight": 2, "is_control": True},
            {"name": "bold", "weight": 1},
        ],
    }
    response = api.patch(BASE + "cta/", body, format="json")
    assert response.status_code == 200, response.json()
    assert [t.name for t in Treatment.objects.filter(experiment__name="cta")] == [
        "control",
        "bold",
    ]
    assert Experiment.objects.get(name="cta").description == "new words"
    phase = Phase.objects.get(experiment__name="cta", ended_at__isnull=True)
    assert (phase.number, phase.weights) == (2, {"control": "2", "bold": "1"})


def test_name_is_fixed_after_creation(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created()
    api.patch(BASE + "cta/", {"name": "renamed"}, format="json")
    assert Experiment.objects.filter(name="cta").exists()


def test_lifecycle_actions(api: APIClient, created: Callable[..., dict[str, Any]]) -> None:
    created()
    assert api.post(BASE + "cta/start/").json()["status"] == "running"
    assert api.post(BASE + "cta/pause/").json()["status"] == "paused"
    assert api.post(BASE + "cta/start/").json()["status"] == "running"
    salt = Experiment.objects.get(name="cta").salt
    data = api.post(BASE + "cta/rerandomise/", {"forget_assignments": False}).json()
    assert data["salt"] != salt and data["current_phase"] == 2
    assert Phase.objects.get(experiment__name="cta", number=2).reason == "salt"
    data = api.post(BASE + "cta/conclude/", {"winner": "candidate"}).json()
    assert (data["status"], data["winner"]) == ("concluded", "candidate")
    assert data["concluded_at"] is not None


def test_conclude_with_an_unknown_winner_is_a_400_and_changes_nothing(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created()
    api.post(BASE + "cta/start/")
    response = api.post(BASE + "cta/conclude/", {"winner": "nope"})
    assert response.status_code == 400
    assert "no treatment named 'nope'" in response.json()["winner"][0]
    assert Experiment.objects.get(name="cta").status == "running"


def test_validation_messages_are_the_admins(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    no_control = {"name": "x", "treatments": [{"name": "a"}, {"name": "b"}]}
    response = api.post(BASE, no_control, format="json")
    assert response.status_code == 400
    assert response.json() == {"treatments": [MSG_NO_CONTROL]}
    assert not Experiment.objects.filter(name="x").exists()

    bad_weight = {
        "name": "y",
        "treatments": [{"name": "control", "is_control": True, "weight": "-1"}],
    }
    response = api.post(BASE, bad_weight, format="json")
    assert response.status_code == 400
    # DRF files a nested list's errors by the item's index.
    assert response.json()["treatments"]["0"]["weight"] == ["Weight must be 0 or more, got -1."]

    for weight in ("NaN", "Infinity", "abc", True, None):
        response = api.post(
            BASE,
            {
                "name": "z",
                "treatments": [{"name": "control", "is_control": True, "weight": weight}],
            },
            format="json",
        )
        assert response.status_code == 400, weight

    created(control=1, candidate=1)
    api.post(BASE + "cta/start/")
    response = api.post(BASE + "cta/weights/", {"weights": {"control": 0, "candidate": 0}})
    assert response.status_code == 400
    assert response.json() == {"treatments": [MSG_NO_POSITIVE]}
    assert Phase.objects.filter(experiment__name="cta").count() == 1


def test_starting_an_experiment_that_cannot_run_is_a_400(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created(control=0, candidate=0)
    response = api.post(BASE + "cta/start/")
    assert response.status_code == 400
    assert response.json() == {"status": [MSG_NO_POSITIVE]}
    assert Experiment.objects.get(name="cta").status == "draft"


def test_unknown_weight_names_are_a_400(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created()
    response = api.post(BASE + "cta/weights/", {"weights": {"nope": 1}}, format="json")
    assert response.status_code == 400
    assert "nope" in response.json()["weights"][0]


def test_treatment_endpoints(api: APIClient, created: Callable[..., dict[str, Any]]) -> None:
    created()
    url = BASE + "cta/treatments/"
    assert [t["name"] for t in api.get(url).json()] == ["control", "candidate"]
    response = api.post(url, {"name": "third", "weight": 2}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["order"] == 2  # last, after control (0) and candidate (1)
    assert api.post(url, {"name": "third"}, format="json").status_code == 400
    response = api.patch(url + "third/", {"weight": "0.5"}, format="json")
    assert response.json()["weight"] == "0.5"
    # Removing the control would leave the set without one: refused with the admin's message.
    response = api.patch(url + "control/", {"is_control": False}, format="json")
    assert response.json() == {"treatments": [MSG_NO_CONTROL]}
    assert api.delete(url + "control/").json() == {"treatments": [MSG_NO_CONTROL]}
    assert api.delete(url + "third/").status_code == 204
    phases = Phase.objects.filter(experiment__name="cta").order_by("number")
    assert [p.weights for p in phases] == [
        {"control": "1", "candidate": "1"},
        {"control": "1", "candidate": "1", "third": "2"},
        {"control": "1", "candidate": "1", "third": "0.5"},
        {"control": "1", "candidate": "1"},
    ]
    assert api.get(BASE + "nope/treatments/").status_code == 404


def test_phases_endpoint(api: APIClient, created: Callable[..., dict[str, Any]]) -> None:
    created()
    api.post(BASE + "cta/weights/", {"weights": {"control": 3}})
    phases = api.get(BASE + "cta/phases/").json()
    assert [p["number"] for p in phases] == [2, 1]
    assert phases[0]["change"] == "weights control=1, candidate=1 → control=3, candidate=1"
    assert phases[0]["changed_by"] == "editor"


def test_permissions(created: Callable[..., dict[str, Any]]) -> None:
    created()
    client = APIClient()
    # Anonymous: refused (403, as the first authentication class, the session, has no
    # WWW-Authenticate challenge to send).
    assert client.get(BASE).status_code == 403
    viewer = User.objects.create_user("viewer")
    client.force_authenticate(viewer)
    assert client.get(BASE).status_code == 403
    grant(viewer, "view_experiment")
    viewer = User.objects.get(pk=viewer.pk)  # drop the permission cache
    client.force_authenticate(viewer)
    assert client.get(BASE).status_code == 200
    assert client.post(BASE + "cta/start/").status_code == 403
    assert client.post(BASE, {"name": "new"}, format="json").status_code == 403
    assert Experiment.objects.get(name="cta").status == "draft"


def test_bad_input_is_a_400_not_a_500(
    api: APIClient, created: Callable[..., dict[str, Any]]
) -> None:
    created()
    assert api.post(BASE, {"name": "has space"}, format="json").status_code == 400
    assert api.post(BASE, {"name": "cta"}, format="json").status_code == 400  # taken
    assert api.post(BASE + "cta/weights/", {"weights": []}, format="json").status_code == 400
    assert api.post(BASE + "cta/weights/", {"weights": {}}, format="json").status_code == 400
    assert api.post(BASE + "cta/rerandomise/", {"forget_assignments": "x"}).status_code == 400
    response = api.post(
        BASE,
        {"name": "p", "treatments": [{"name": "control", "is_control": True, "payload": [1]}]},
        format="json",
    )
    assert response.status_code == 400
    response = api.post(BASE, "not json", content_type="application/json")
    assert response.status_code == 400
    assert api.get(BASE + "missing/").status_code == 404


def test_results_are_the_admin_pages_numbers(
    api: APIClient, created: Callable[..., dict[str, Any]], admin_client: Any
) -> None:
    """The API serves the document behind the admin results page's JSON link, phase by phase."""
    from django_experiments.tracking.sinks import DatabaseSink
    from tests.results.conftest import event

    created()
    api.post(BASE + "cta/start/")
    api.post(BASE + "cta/weights/", {"weights": {"control": 2}})
    exp = Experiment.objects.get(name="cta")
    batch = []
    for phase, offset in ((1, 0), (2, 100)):
        for i in range(10):
            batch.append(event("assignment", f"c{i + offset}", "control", phase=phase))
            batch.append(event("assignment", f"t{i + offset}", "candidate", phase=phase))
        for i in range(3 * phase):
            batch.append(event("clicked", f"c{i + offset}", "control", phase=phase))
        for i in range(6):
            batch.append(event("clicked", f"t{i + offset}", "candidate", phase=phase))
    DatabaseSink().send(batch)

    admin_url = f"/admin/django_experiments/experiment/{exp.pk}/results.json"
    for query in ("", "?phase=1", "?phase=2&alpha=0.1&correction=none"):
        response = api.get(BASE + "cta/results/" + query)
        assert response.status_code == 200, response.content
        assert response.json() == admin_client.get(admin_url + query).json()
    current = api.get(BASE + "cta/results/").json()
    assert current["phase"]["number"] == 2
    assert {v["name"]: v["exposed"] for v in current["variants"]} == {
        "control": 10,
        "candidate": 10,
    }
    # A bad parameter is the admin's 400 with its reason, not a 500.
    response = api.get(BASE + "cta/results/?phase=7")
    assert response.status_code == 400
    assert response.json() == {"error": "cta has no phase 7"}
    assert api.get(BASE + "cta/results/?alpha=x").status_code == 400


def test_actions_need_the_change_permission_not_the_add_one(
    created: Callable[..., dict[str, Any]],
) -> None:
    created()
    client = APIClient()
    adder = User.objects.create_user("adder")
    grant(adder, "view_experiment", "add_experiment")
    client.force_authenticate(adder)
    for action in ("start", "pause", "rerandomise", "conclude", "weights"):
        assert client.post(BASE + f"cta/{action}/", {}).status_code == 403, action
    changer = User.objects.create_user("changer")
    grant(changer, "view_experiment", "change_experiment")
    client.force_authenticate(changer)
    assert client.post(BASE + "cta/start/").json()["status"] == "running"
    assert client.post(BASE, {"name": "other"}).status_code == 403


def test_without_permission_nothing_is_revealed(created: Callable[..., dict[str, Any]]) -> None:
    created()
    client = APIClient()
    client.force_authenticate(User.objects.create_user("nobody"))
    for path in ("cta/", "missing/", "cta/treatments/", "missing/treatments/", "cta/results/"):
        assert client.get(BASE + path).status_code == 403, path


def test_namespace_and_share_are_read_and_written_with_the_admins_rules(
    api: APIClient, created: Callable[..., dict[str, Any]], editor: User
) -> None:
    from django_experiments.models import Namespace
    from django_experiments.namespace_validation import MSG_NEEDS_NAMESPACE

    Namespace.objects.create(name="checkout")
    created("cta")
    created("pricing")
    # Shown on every experiment, in or out of a namespace.
    assert api.get(BASE + "cta/").json()["namespace"] is None

    response = api.patch(
        BASE + "cta/", {"namespace": "checkout", "namespace_share": "60"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["namespace"], response.json()["namespace_share"]) == (
        "checkout",
        "60.00",
    )
    phases = Phase.objects.filter(experiment__name="cta").order_by("number")
    assert [(p.number, p.reason, p.changed_by_id) for p in phases][-1] == (
        2,
        "population",
        editor.pk,
    )

    # 60 % + 50 % of one namespace: refused, as the admin refuses it, and nothing changes.
    response = api.patch(
        BASE + "pricing/", {"namespace": "checkout", "namespace_share": "50"}, format="json"
    )
    assert response.status_code == 400
    assert "checkout" in " ".join(response.json()["namespace_share"])
    assert Experiment.objects.get(name="pricing").namespace_id is None

    # A share without a namespace, and an unknown namespace: clear 400s, never a 500.
    response = api.patch(BASE + "pricing/", {"namespace_share": "10"}, format="json")
    assert response.status_code == 400
    assert response.json()["namespace_share"] == [MSG_NEEDS_NAMESPACE]
    response = api.patch(
        BASE + "pricing/", {"namespace": "nope", "namespace_share": "10"}, format="json"
    )
    assert response.status_code == 400 and "namespace" in response.json()

    # Within what is left: accepted.
    response = api.patch(
        BASE + "pricing/", {"namespace": "checkout", "namespace_share": "40"}, format="json"
    )
    assert response.status_code == 200, response.json()
    namespace = Namespace.objects.get(name="checkout")
    assert sorted(namespace.experiments.values_list("name", flat=True)) == ["cta", "pricing"]
