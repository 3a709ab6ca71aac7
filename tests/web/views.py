"""Views the request-layer tests drive through the real middleware stack."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template import RequestContext, Template
from django.views.decorators.csrf import csrf_exempt

from django_experiments.engine.scope import current_scope
from django_experiments.middleware import with_scope


def _payload(request: HttpRequest, exp: Any) -> dict[str, Any]:
    signature = exp.publish()
    scope = current_scope()
    return {
        "variant": exp.assigned.name,
        "signature": signature,
        "events": [e["event"] for e in scope.events] if scope is not None else None,
        "scope_bound": scope is not None and scope is getattr(request, "_experiments_scope", None),
    }


def page(request: HttpRequest, name: str = "cta") -> JsonResponse:
    """``request.experiment(name)``: actor defaults to request.user."""
    exp = request.experiment(name)  # type: ignore[attr-defined]
    exp.track("viewed", value=1)
    return JsonResponse(_payload(request, exp))


def project_only(request: HttpRequest) -> JsonResponse:
    exp = request.experiment("cta", project="p1")  # type: ignore[attr-defined]
    return JsonResponse(_payload(request, exp))


def explicit_anonymous(request: HttpRequest) -> JsonResponse:
    exp = request.experiment("cta", actor=None, project="p1")  # type: ignore[attr-defined]
    return JsonResponse(_payload(request, exp))


def explicit_variant(request: HttpRequest) -> JsonResponse:
    exp = request.experiment("cta", "candidate")  # type: ignore[attr-defined]
    return JsonResponse(_payload(request, exp))


def memo(request: HttpRequest) -> JsonResponse:
    """Several experiments, each asked for twice: the second ask must cost nothing."""
    names = request.GET.get("names", "cta").split(",")
    if request.GET.get("prefetch"):
        request.experiment.prefetch(*names)  # type: ignore[attr-defined]
    out = {}
    for name in names:
        first = request.experiment(name)  # type: ignore[attr-defined]
        second = request.experiment(name, actor=None)  # type: ignore[attr-defined]
        out[name] = [first.assigned.name, second.assigned.name]
    return JsonResponse(out)


@csrf_exempt
def login_view(request: HttpRequest) -> JsonResponse:
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return JsonResponse({"ok": False}, status=403)
    if request.POST.get("resolve_before"):
        request.experiment("cta").assigned  # type: ignore[attr-defined]  # noqa: B018
    login(request, user)
    data: dict[str, Any] = {"ok": True}
    if request.POST.get("resolve"):
        data.update(_payload(request, request.experiment("cta")))  # type: ignore[attr-defined]
    return JsonResponse(data)


async def async_page(request: HttpRequest) -> JsonResponse:
    exp = await request.aexperiment("cta")  # type: ignore[attr-defined]
    scope = current_scope()
    return JsonResponse(
        {
            "variant": exp.assigned.name,
            "key": exp.context.key,
            "scope_bound": scope is not None
            and scope is getattr(request, "_experiments_scope", None),
        }
    )


TEMPLATES = {
    "plain": '{% load experiments %}[{% experiment "cta" %}]',
    "variable": "{% load experiments %}[{% experiment exp_name %}]",
    "explicit": '{% load experiments %}[{% experiment "cta" "candidate" %}]',
    "as": '{% load experiments %}{% experiment "cta" actor=user project=project as cta %}'
    "[{{ cta.assigned.name }}|{{ cta.assigned.payload.label }}]",
    "ifvariant": '{% load experiments %}{% ifvariant "cta" "candidate" %}YES{% else %}NO'
    "{% endifvariant %}",
    "ifvariant_noelse": '{% load experiments %}[{% ifvariant exp_name "control" %}C'
    "{% endifvariant %}]",
    "json": '{% load experiments %}{% experiment "cta" %}{% experiments_json %}',
    "escape": '{% load experiments %}{% experiment "xss" %}',
    # "as" publishes whatever the status: experiments_json must do the filtering.
    "json_all": "{% load experiments %}{% for name in names %}{% experiment name as exp %}"
    "{% endfor %}{% experiments_json %}",
}


def template_page(request: HttpRequest, which: str) -> HttpResponse:
    source = TEMPLATES[which]
    context = RequestContext(
        request,
        {
            "exp_name": request.GET.get("name", "cta"),
            "names": request.GET.getlist("names"),
            "project": "p1",
        },
    )
    nonce = request.GET.get("nonce")
    if nonce:
        request.csp_nonce = nonce  # type: ignore[attr-defined]
    return HttpResponse(Template(source).render(context))


async def async_login(request: HttpRequest) -> JsonResponse:
    from django.contrib.auth import aauthenticate, alogin

    user = await aauthenticate(request, username="ada", password="pw")
    assert user is not None
    await alogin(request, user)
    exp = await request.aexperiment("cta")  # type: ignore[attr-defined]
    return JsonResponse({"variant": exp.assigned.name, "signature": exp.signature})


def raises(request: HttpRequest) -> HttpResponse:
    """Tracks, then fails: the events tracked before the exception must still leave."""
    request.experiment("cta").track("before_the_crash")  # type: ignore[attr-defined]
    raise RuntimeError("the view failed")


@with_scope
def raises_with_own_scope(request: HttpRequest) -> HttpResponse:
    """The same, as a package view without the middleware (``with_scope``)."""
    request.experiment("cta").track("before_the_crash")  # type: ignore[attr-defined]
    raise RuntimeError("the view failed")


def streaming(request: HttpRequest) -> StreamingHttpResponse:
    """Resolves and tracks while the body streams, after the middleware closed the scope."""

    def body() -> Any:
        yield "start;"
        exp = request.experiment("cta")  # type: ignore[attr-defined]
        exp.track("streamed")
        yield exp.assigned.name

    return StreamingHttpResponse(body())


def readme(request: HttpRequest) -> HttpResponse:
    """The README's view example, verbatim in spirit: read the variant, track a click."""
    exp = request.experiment("cta")  # type: ignore[attr-defined]
    name = exp.assigned.name
    exp.assigned.payload  # noqa: B018 - a second read: still one exposure
    exp.track("clicked", value=1, button="hero")
    return HttpResponse(name)
