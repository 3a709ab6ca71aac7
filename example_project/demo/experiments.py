"""The demo app's code-defined experiments (imported at startup by autodiscovery).

``headline``: ``python manage.py seed_demo`` creates its admin row (or create it in the admin:
running, treatments ``control`` and ``candidate``), then open /headline/. Without the row the
page serves control and tracks nothing.
"""

from __future__ import annotations

from typing import Any

from django_experiments import Experiment, candidate, control, exclude, register, segment


@register
class HeadlineExperiment(Experiment):
    """Hypothesis: a benefit-led headline gets more newsletter sign-ups than a feature-led one.

    Success metric: ``subscribed`` events per assigned context. Owner: the demo team.
    """

    name = "headline"

    @control
    def feature_led(self) -> str:
        return "A/B/n experiments for Django, edited in the admin"

    @candidate
    def benefit_led(self) -> str:
        return "Ship the better page, and know it is better"

    @exclude
    def staff(self) -> bool:
        """Staff look at the page every day: keep them out of the results."""
        return bool(getattr(self._actor(), "is_staff", False))

    @segment("candidate")
    def beta_testers(self) -> bool:
        """Beta testers always see the new headline (stored like any assignment)."""
        email = getattr(self._actor(), "email", "") or ""
        return email.endswith("@beta.example.com")

    def _actor(self) -> Any:
        return self.context.value.get("actor")
