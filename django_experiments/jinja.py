"""Jinja2 support: the template tags as Jinja2 globals, one implementation for both engines.

Either name the environment helper in the Jinja2 backend's options::

    TEMPLATES = [{
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "OPTIONS": {"environment": "django_experiments.jinja.environment"},
        ...
    }]

or add the extension to an environment of your own
(``extensions=["django_experiments.jinja.ExperimentsExtension"]``). Then::

    {{ experiment("cta") }}                          {# the behaviour's result, escaped #}
    {% set cta = get_experiment("cta", actor=user) %}{{ cta.assigned.payload.label }}
    {% if ifvariant("cta", "candidate") %}New copy{% else %}Old copy{% endif %}
    {{ experiments_json() }}                         {# window.experiments script #}
    {{ track("cta", "clicked", value=1) }}           {# records an event, renders nothing #}

Each global calls the same function as its Django tag
(``django_experiments.templatetags.experiments``) with the Jinja2 context, whose ``request`` the
Django backend provides, so the actor default, the control fallback without a request, error
handling and publishing are the same in both engines.
"""

from __future__ import annotations

from typing import Any, cast

from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context
from markupsafe import Markup

from django_experiments.engine.experiment import Experiment
from django_experiments.templatetags import experiments as tags
from django_experiments.tracking.tags import track as track_tag


@pass_context
def experiment(context: Context, name: Any, variant: Any = None, /, **kwargs: Any) -> Any:
    """``{{ experiment("cta") }}``: as ``{% experiment "cta" %}``."""
    return tags.experiment_result(context, name, variant, kwargs)


@pass_context
def get_experiment(
    context: Context, name: Any, variant: Any = None, /, **kwargs: Any
) -> Experiment:
    """``{% set cta = get_experiment("cta") %}``: as ``{% experiment "cta" as cta %}``."""
    return tags.bound_experiment(context, name, variant, kwargs)


@pass_context
def ifvariant(context: Context, name: Any, /, *variants: Any, **kwargs: Any) -> bool:
    """``{% if ifvariant("cta", "candidate") %}``: as ``{% ifvariant "cta" "candidate" %}``."""
    if not variants:
        raise TypeError('ifvariant() takes a name and one or more variants: ifvariant("cta", "b")')
    return tags.in_variant(context, name, variants, kwargs)


@pass_context
def experiments_json(context: Context) -> Markup:
    """``{{ experiments_json() }}``: as ``{% experiments_json %}``."""
    # The tag reads only ``.get()`` of its context, which a Jinja2 context has too.
    return Markup(tags.experiments_json(cast(Any, context)))


@pass_context
def track(context: Context, name: str, event: str, value: Any = None, **kwargs: Any) -> str:
    """``{{ track("cta", "clicked", value=1) }}``: as ``{% track "cta" "clicked" value=1 %}``."""
    return track_tag(context, name, event, value, **kwargs)


GLOBALS: dict[str, Any] = {
    "experiment": experiment,
    "get_experiment": get_experiment,
    "ifvariant": ifvariant,
    "experiments_json": experiments_json,
    "track": track,
}


class ExperimentsExtension(Extension):
    """Adds the experiment globals to the environment it is loaded into."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals.update(GLOBALS)


def environment(**options: Any) -> Environment:
    """An ``Environment`` with ``ExperimentsExtension``, for the Django Jinja2 backend."""
    extensions = list(options.pop("extensions", []))
    if ExperimentsExtension not in extensions and _dotted(ExperimentsExtension) not in extensions:
        extensions.append(ExperimentsExtension)
    return Environment(extensions=extensions, **options)


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
