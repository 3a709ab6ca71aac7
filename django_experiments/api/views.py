"""``GET <prefix>/assignments/?experiments=a,b``: the current visitor's client-visible variants.

Only experiments marked *client visible* in the admin that are running (or paused, for a
visitor with a stored variant) are answered; any other name (unknown, hidden, draft, concluded
or misspelled) is simply absent from the result, so the endpoint reveals nothing about
experiments that are not meant for browsers (``django_experiments.published``). The anonymous
actor cookie is set exactly as a page would set it, and each returned experiment is published
(assignment event), since the client is about to show it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_experiments.api.serializers import AssignmentSerializer, AssignmentsQuerySerializer
from django_experiments.api.throttles import AssignmentsThrottle
from django_experiments.engine import definitions
from django_experiments.engine.experiment import split_name
from django_experiments.engine.registry import experiment
from django_experiments.middleware import scope_of
from django_experiments.published import is_client_visible


class AssignmentsView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AssignmentsThrottle]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        query = AssignmentsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope = scope_of(request)
        user = request.user  # DRF's authenticated user (session, token, ...)
        actor = user if user is not None and user.is_authenticated else None
        assignments: dict[str, Any] = {}
        for name in query.validated_data["experiments"]:
            bare, full_name = split_name(name)
            definition = definitions.get_definition(bare)
            if definition is None or not definition.client_visible:
                continue
            exp = experiment(full_name, scope=scope, actor=actor)
            exp.decision  # noqa: B018 - resolve first: a paused experiment reads the store
            if not is_client_visible(definition, exp.context.key):
                continue
            signature = exp.publish()
            assignments[bare] = AssignmentSerializer(
                {**signature, "payload": exp.assigned.payload}
            ).data
        response = Response({"experiments": assignments})
        # Per-visitor content: never cached by shared caches or the browser's back button.
        response["Cache-Control"] = "private, no-store"
        return response
