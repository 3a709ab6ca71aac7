"""``{% load experiments %}``: experiment, ifvariant, experiments_json.

``{% experiment "cta" %}``                               renders ``run()``, autoescaped
``{% experiment "cta" "candidate" %}``                   with an explicit variant
``{% experiment "cta" actor=user project=p as cta %}``   binds the experiment (published)
``{% ifvariant "cta" "candidate" "other" %}…{% else %}…{% endifvariant %}``
``{% experiments_json %}``                               ``window.experiments`` script

Names and values may be template variables. The actor default is the one of
``request.experiment``: no context keywords → ``actor=request.user``. Without a request (and no
explicit context) the tags serve control, untracked, and say why in the log when DEBUG is on.

The work is done by plain functions of a template context (anything with ``.get()``, the way
Django's and Jinja2's contexts both are): ``experiment_result``, ``bound_experiment``,
``in_variant``, ``experiments_json`` and ``track``. The tags below and the Jinja2 globals in
``django_experiments.jinja`` call the same functions, as django-htmx does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from django import template
from django.conf import settings as django_settings
from django.template.base import FilterExpression, Node, NodeList, Parser, Token
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from django_experiments.engine.context import RESERVED
from django_experiments.engine.experiment import Experiment
from django_experiments.engine.registry import class_for, experiment
from django_experiments.engine.scope import current_scope
from django_experiments.engine.stores import NullStore, Store
from django_experiments.middleware import RequestExperiments, scope_of
from django_experiments.published import client_view

register = template.Library()
logger = logging.getLogger("django_experiments")


class TemplateContext(Protocol):
    """What the shared functions need of a template context: Django's and Jinja2's both fit."""

    def get(self, key: str, default: Any = None) -> Any: ...


def _warn(message: str, *args: Any) -> None:
    if django_settings.DEBUG:
        logger.warning(message, *args)
    else:
        logger.debug(message, *args)


_control_classes: dict[type[Experiment], type[Experiment]] = {}


def _control_class(cls: type[Experiment]) -> type[Experiment]:
    """``cls`` with no store: with ``only_assigned`` it resolves to control (or the winner of
    a concluded experiment), is never tracked and never writes anything."""
    found = _control_classes.get(cls)
    if found is None:

        def store(self: Experiment) -> Store:
            return NullStore()

        found = type(f"ControlOnly{cls.__name__}", (cls,), {"store": property(store)})
        _control_classes[cls] = found
    return found


def control_only(name: str) -> Experiment:
    exp = _control_class(class_for(name))(name, only_assigned=True)
    exp.decision  # noqa: B018 - resolve with no scope bound; never tracked anyway
    return exp


def resolve(
    context: TemplateContext, name: Any, variant: Any, kwargs: dict[str, Any]
) -> Experiment:
    if not isinstance(name, str) or not name:
        raise template.TemplateSyntaxError(f"experiment name must be a string, got {name!r}")
    variant = str(variant) if variant not in (None, "") else None
    request = context.get("request") or getattr(context, "request", None)
    helper = getattr(request, "experiment", None)
    if isinstance(helper, RequestExperiments):
        return helper(name, variant, **kwargs)
    if set(kwargs) - RESERVED:
        # An explicit context works anywhere (emails rendered in a task, shells).
        return experiment(name, variant, **kwargs)
    _warn(
        "{%% experiment %%} %r rendered without a request (add the 'request' context "
        "processor and ExperimentMiddleware, or pass actor=...): serving control",
        name,
    )
    return control_only(name)


def _safe_resolve(
    context: TemplateContext, name: Any, variant: Any, kwargs: dict[str, Any]
) -> Experiment:
    try:
        return resolve(context, name, variant, kwargs)
    except template.TemplateSyntaxError:
        raise
    except Exception:
        # An experiment must never take a page down in production; in DEBUG the error shows.
        if django_settings.DEBUG:
            raise
        logger.exception("Experiment %r failed in a template; serving control", name)
        return control_only(name)


def _parse_args(
    parser: Parser, bits: list[str], tag: str
) -> tuple[list[FilterExpression], dict[str, FilterExpression]]:
    args: list[FilterExpression] = []
    kwargs: dict[str, FilterExpression] = {}
    for bit in bits:
        key, eq, value = bit.partition("=")
        if eq and key.isidentifier():
            if key in kwargs:
                raise template.TemplateSyntaxError(f"{tag}: {key!r} given twice")
            kwargs[key] = parser.compile_filter(value)
        elif kwargs:
            raise template.TemplateSyntaxError(f"{tag}: positional argument after keywords")
        else:
            args.append(parser.compile_filter(bit))
    return args, kwargs


def _kwargs(context: template.Context, kwargs: dict[str, FilterExpression]) -> dict[str, Any]:
    return {k: v.resolve(context) for k, v in kwargs.items()}


class ExperimentNode(Node):
    def __init__(
        self,
        name: FilterExpression,
        variant: FilterExpression | None,
        kwargs: dict[str, FilterExpression],
        target: str | None,
    ) -> None:
        self.name = name
        self.variant = variant
        self.kwargs = kwargs
        self.target = target

    def render(self, context: template.Context) -> str:
        name = self.name.resolve(context)
        variant = self.variant.resolve(context) if self.variant is not None else None
        kwargs = _kwargs(context, self.kwargs)
        if self.target is not None:
            context[self.target] = bound_experiment(context, name, variant, kwargs)
            return ""
        return str(conditional_escape(experiment_result(context, name, variant, kwargs)))


def experiment_result(
    context: TemplateContext, name: Any, variant: Any, kwargs: dict[str, Any]
) -> Any:
    """``{% experiment "cta" %}``: the behaviour's result (the variant name by default).

    Not escaped: each template engine escapes it its own way.
    """
    exp = _safe_resolve(context, name, variant, kwargs)
    try:
        result = exp.run()
    except Exception:
        if django_settings.DEBUG:
            raise
        logger.exception("Running experiment %r failed in a template", name)
        result = control_only(str(name)).assigned.name
    return "" if result is None else result


def bound_experiment(
    context: TemplateContext, name: Any, variant: Any, kwargs: dict[str, Any]
) -> Experiment:
    """``{% experiment "cta" as cta %}``: the experiment itself, published for the client."""
    exp = _safe_resolve(context, name, variant, kwargs)
    _publish(exp)
    return exp


def in_variant(
    context: TemplateContext, name: Any, variants: Iterable[Any], kwargs: dict[str, Any]
) -> bool:
    """``{% ifvariant "cta" "a" "b" %}``: whether the assigned variant is one of ``variants``."""
    wanted = {str(v) for v in variants}
    exp = _safe_resolve(context, name, None, kwargs)
    _publish(exp)
    return exp.assigned.name in wanted


def _publish(exp: Experiment) -> None:
    try:
        exp.publish()
    except Exception:
        if django_settings.DEBUG:
            raise
        logger.exception("Publishing experiment %r failed in a template", exp.name)


@register.tag("experiment")
def do_experiment(parser: Parser, token: Token) -> ExperimentNode:
    bits = token.split_contents()
    tag = bits.pop(0)
    target = None
    if len(bits) >= 2 and bits[-2] == "as":
        target = bits[-1]
        bits = bits[:-2]
    args, kwargs = _parse_args(parser, bits, tag)
    if not 1 <= len(args) <= 2:
        raise template.TemplateSyntaxError(
            f'{tag} takes a name, an optional variant and keywords: {{% {tag} "cta" %}}'
        )
    return ExperimentNode(args[0], args[1] if len(args) == 2 else None, kwargs, target)


class IfVariantNode(Node):
    child_nodelists = ("nodelist_true", "nodelist_false")

    def __init__(
        self,
        name: FilterExpression,
        variants: list[FilterExpression],
        kwargs: dict[str, FilterExpression],
        nodelist_true: NodeList,
        nodelist_false: NodeList,
    ) -> None:
        self.name = name
        self.variants = variants
        self.kwargs = kwargs
        self.nodelist_true = nodelist_true
        self.nodelist_false = nodelist_false

    def render(self, context: template.Context) -> SafeString:
        name = self.name.resolve(context)
        variants = [v.resolve(context) for v in self.variants]
        chosen = in_variant(context, name, variants, _kwargs(context, self.kwargs))
        nodelist = self.nodelist_true if chosen else self.nodelist_false
        return nodelist.render(context)


@register.tag("ifvariant")
def do_ifvariant(parser: Parser, token: Token) -> IfVariantNode:
    bits = token.split_contents()
    tag = bits.pop(0)
    args, kwargs = _parse_args(parser, bits, tag)
    if len(args) < 2:
        raise template.TemplateSyntaxError(
            f'{tag} takes a name and one or more variants: {{% {tag} "cta" "candidate" %}}'
        )
    nodelist_true = parser.parse(("else", "endifvariant"))
    next_token = parser.next_token()
    if next_token.contents == "else":
        nodelist_false = parser.parse(("endifvariant",))
        parser.delete_first_token()
    else:
        nodelist_false = NodeList()
    return IfVariantNode(args[0], args[1:], kwargs, nodelist_true, nodelist_false)


# json_script's escapes, plus the line separators older JavaScript parsers reject in literals.
_JS_ESCAPES = {
    ord(">"): "\\u003E",
    ord("<"): "\\u003C",
    ord("&"): "\\u0026",
    ord("\u2028"): "\\u2028",
    ord("\u2029"): "\\u2029",
}


def published_json(published: dict[str, Any]) -> str:
    """The published map as JSON that is safe inside ``<script>`` (json_script-grade)."""
    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(published, cls=DjangoJSONEncoder, sort_keys=True).translate(_JS_ESCAPES)


@register.simple_tag(takes_context=True)
def experiments_json(context: template.Context) -> SafeString:
    """``<script>window.experiments = {...}</script>`` with what this request published and
    the client may see (``django_experiments.published``).

    Keys are experiment names without ``NAME_PREFIX`` (as the client asks for them); values
    are signatures (``experiment`` is the full name). The CSP nonce comes from the template
    context's ``csp_nonce`` or ``request.csp_nonce`` (django-csp) when present.
    """
    scope = current_scope()
    request = context.get("request") or getattr(context, "request", None)
    if scope is None and request is not None:
        scope = scope_of(request)
    # Only client-visible experiments that are running (or paused with a stored variant):
    # a page also runs experiments that are none of the browser's business.
    published = {} if scope is None else client_view(scope.published)
    nonce = context.get("csp_nonce") or getattr(request, "csp_nonce", None)
    data = mark_safe(published_json(published))  # noqa: S308 - escaped above
    script = "window.experiments = Object.assign(window.experiments || {{}}, {});"
    if nonce:
        return format_html('<script nonce="{}">' + script + "</script>", str(nonce), data)
    return format_html("<script>" + script + "</script>", data)


# ``{% track "cta" "clicked" value=1 prop=... %}`` lives with the tracking pipeline; expose it
# here so one ``{% load experiments %}`` gives templates every experiment tag.
from django_experiments.tracking.tags import track as _track  # noqa: E402

register.simple_tag(takes_context=True, name="track")(_track)
