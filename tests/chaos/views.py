"""The view the chaos suite sends its traffic to, through the real middleware stack."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


def track(request: HttpRequest, name: str) -> JsonResponse:
    """Run experiment ``name`` for the visitor and track one "chaos" event per ``seq``.

    The sequence numbers let a test tell exactly which events were sent and which arrived.
    """
    exp = request.experiment(name)  # type: ignore[attr-defined]
    seqs = [int(s) for s in request.GET.getlist("seq")]
    for seq in seqs:
        exp.track("chaos", seq=seq)
    return JsonResponse({"variant": exp.assigned.name, "tracked": len(seqs)})
