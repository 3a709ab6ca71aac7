"""Demo pages: every piece of the request layer in use.

* ``/``: ``{% experiment "cta" %}`` on a button, ``{% ifvariant %}`` and ``experiments_json``.
* ``/pricing/``: ``request.experiment("pricing")`` in a view, its payload in the template.
* ``/cta/``: ``exp.track("clicked")`` then a redirect.
* ``/headline/``: the code-defined ``headline`` class (demo/experiments.py).
* ``/results/``: the admin results page of ``cta`` (staff only).
* ``/login/``, ``/logout/``: log in to see the anonymous variant follow you.

``manage.py seed_demo`` creates ``cta``, ``pricing`` and ``headline`` with simulated traffic
(``simulate_traffic``), so the results pages have data. Experiments without an admin row serve
control.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from django_experiments.models import Experiment
from django_experiments.views import redirect_path


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/landing.html")


def pricing(request: HttpRequest) -> HttpResponse:
    exp = request.experiment("pricing")  # type: ignore[attr-defined]
    exp.publish()  # exposed to the page's JavaScript through {% experiments_json %}
    payload = exp.assigned.payload if isinstance(exp.assigned.payload, dict) else {}
    return render(
        request,
        "demo/pricing.html",
        {
            "variant": exp.assigned.name,
            "price": payload.get("price", "9"),
            # Redirect tracking: following the link records "visited" for this context.
            "tracked_link": redirect_path(exp, "/"),
        },
    )


@require_POST
def cta_clicked(request: HttpRequest) -> HttpResponse:
    request.experiment("cta").track("clicked")  # type: ignore[attr-defined]
    return HttpResponseRedirect("/pricing/")


def headline(request: HttpRequest) -> HttpResponse:
    """The code-defined ``headline`` experiment (demo/experiments.py) in a view and a template.

    POST records ``subscribed`` for the visitor's assignment (nothing for excluded staff).
    """
    exp = request.experiment("headline")  # type: ignore[attr-defined]
    subscribed = request.method == "POST"
    if subscribed:
        exp.track("subscribed")
    return render(
        request, "demo/headline.html", {"variant": exp.assigned.name, "subscribed": subscribed}
    )


def results(request: HttpRequest) -> HttpResponse:
    """The admin results page of the landing page's experiment (the admin asks for a login)."""
    exp = Experiment.objects.filter(name="cta").only("pk").first()
    if exp is None:
        return HttpResponseRedirect(reverse("admin:django_experiments_experiment_changelist"))
    return HttpResponseRedirect(
        reverse("admin:django_experiments_experiment_results", args=[exp.pk])
    )
