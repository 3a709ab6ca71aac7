"""The ``{% track %}`` template tag.

Load it with ``{% load experiment_tracking %}`` after registering this module as a template
library (``TEMPLATES[...]["OPTIONS"]["libraries"] = {"experiment_tracking":
"django_experiments.tracking.tags"}``) or through the templatetags module that re-exports it.

``{% track "cta" "viewed_pricing" value=1 plan="pro" %}`` records an event for the request's
visitor (or ``actor=...``) and renders nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.conf import settings as django_settings

from django_experiments.tracking.events import InvalidEventError

logger = logging.getLogger("django_experiments.tracking")

register = template.Library()

CONTEXT_KWARGS = ("actor", "only_assigned", "sticky_to")


@register.simple_tag(takes_context=True)
def track(context: Any, name: str, event: str, value: Any = None, **kwargs: Any) -> str:
    """Also the Jinja2 ``track()`` (django_experiments.jinja): ``context`` needs ``.get()``."""
    from django_experiments.engine.registry import experiment

    context_values = {k: kwargs.pop(k) for k in CONTEXT_KWARGS if k in kwargs}
    request = context.get("request")
    if "actor" not in context_values and request is not None:
        user = getattr(request, "user", None)
        context_values["actor"] = user if user is not None and user.is_authenticated else None
    factory = getattr(request, "experiment", None) if request is not None else None
    if callable(factory):
        exp = factory(name, **context_values)
    else:
        exp = experiment(name, **context_values)
    try:
        exp.track(event, value=value, **kwargs)
    except InvalidEventError:
        # A template must not turn a bad property into a 500 in production; in DEBUG, fail
        # loudly so the developer sees it.
        if django_settings.DEBUG:
            raise
        logger.exception("{%% track %r %r %%} ignored an invalid event", name, event)
    return ""
