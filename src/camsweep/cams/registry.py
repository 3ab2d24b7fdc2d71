"""Every CAM method, declared once: its name (pytorch-grad-cam's), how it runs, and its implementation.

Two kinds, which decide how :func:`camsweep.cams.compute_many` batches them and how the workflow splits
them into jobs (``SHARED_PASS_METHODS`` / ``RERUN_METHODS``, read by ``workflow/rules/common.smk``):

* ``shared`` — the map is a function of one layer's activations A (N, K, h, w) and, when
  ``needs_gradients``, of the target's gradients G = ∂y/∂A: ``implementation(A, G or None) → (N, h, w)``.
  One forward (and, if any of them needs gradients, one backward) pass per batch serves every shared
  method and every layer at once.
* ``rerun`` — the method re-runs the network (Score-CAM, Ablation-CAM), so it gets passes (and a workflow
  job) of its own: ``implementation(model, layers, settings)`` is called once per ``compute_many`` call,
  in eval mode, to prepare what every batch reuses (a fused copy, ``torch.fx`` cuts), and returns
  ``run(batch, targets) → {layer: (N, h, w)}``.

Maps are returned after the method's final ReLU. ``needs_targets=False`` marks a class-agnostic method,
which may run with ``targets=None``; ``needs_inputs=True`` hands a shared method the batch's model inputs as
a third argument; ``baseline=True`` marks a map that knows nothing (:mod:`~camsweep.cams.baselines`), which
tables show beside the methods and comparisons test every method against.

Adding a method takes this one module: write its implementation (a shared map function or a rerun
``prepare``) and declare it with one ``Method(...)`` line in ``_BUILT_IN`` below. ``compute`` /
``compute_many``, the workflow's jobs and the config's validation follow: ``camsweep.config.load_schema``
fills the schema's ``$defs/cam_method`` enum from :func:`names`. Code outside
camsweep can call :func:`register` instead, e.g.::

    registry.register(registry.Method("constant", "shared", lambda a, g: a.new_ones(a[:, 0].shape),
                                       needs_gradients=False, needs_targets=False))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from camsweep.cams import ablation, baselines, eigen, fusion, gradient, layouts, score
from camsweep.cams.targets import Targets

if TYPE_CHECKING:
    from camsweep.cams import CamSettings

KINDS = ("shared", "rerun")

SharedMap = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
RerunBatch = Callable[[torch.Tensor, Targets], dict[str, torch.Tensor]]
RerunPrepare = Callable[[nn.Module, Sequence[str], "CamSettings"], RerunBatch]


@dataclass(frozen=True)
class Method:
    """A CAM method: ``implementation`` is a :data:`SharedMap` for ``shared`` methods and a
    :data:`RerunPrepare` for ``rerun`` ones (module docstring)."""

    name: str
    kind: Literal["shared", "rerun"]
    implementation: SharedMap | RerunPrepare
    needs_gradients: bool = True  # shared methods: the pass must backpropagate the targets' scores
    needs_targets: bool = True  # False: class-agnostic, runs without targets
    needs_inputs: bool = False  # shared methods: implementation(A, G, inputs), the batch's model inputs
    baseline: bool = False  # a map that knows nothing (camsweep.cams.baselines): scores are read against it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"CAM method {self.name!r}: unknown kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if self.needs_gradients and not self.needs_targets:
            raise ValueError(f"CAM method {self.name!r}: gradients need targets to differentiate")
        if self.needs_inputs and self.kind != "shared":
            raise ValueError(f"CAM method {self.name!r}: only shared methods take the inputs (rerun ones run the model)")


def _score_cam(model: nn.Module, layers: Sequence[str], settings: CamSettings) -> RerunBatch:
    rerun_model = fusion.inference_copy(model)  # re-runs score masked inputs on a conv–BN-fused copy
    resolver = layouts.Resolver(model, settings.layouts)
    return lambda batch, targets: score.score_cam(
        model, batch, list(layers), targets, settings.memory_budget_mb, settings.scorecam_top_k, rerun_model,
        resolver,
    )


def _ablation_cam(model: nn.Module, layers: Sequence[str], settings: CamSettings) -> RerunBatch:
    cuts = {layer: ablation.cut_for(model, layer, settings.ablation_strategy) for layer in layers}
    resolver = layouts.Resolver(model, settings.layouts)
    return lambda batch, targets: {
        layer: ablation.ablation_cam(
            model, batch, layer, targets, settings.memory_budget_mb, cuts[layer],
            closed_form=settings.ablation_strategy == "auto", resolver=resolver,
        )
        for layer in layers
    }


_BUILT_IN = (
    *(Method(name, "shared", function) for name, function in gradient.METHODS.items()),
    Method("eigencam", "shared", lambda activations, _: eigen.eigencam(activations), needs_gradients=False,
           needs_targets=False),
    Method("scorecam", "rerun", _score_cam),
    Method("ablationcam", "rerun", _ablation_cam),
    *(Method(name, "shared", function, needs_gradients=False, needs_targets=False, needs_inputs=True, baseline=True)
      for name, function in baselines.METHODS.items()),
)

_METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` (its name must be new); returns it."""
    if method.name in _METHODS:
        raise ValueError(f"CAM method {method.name!r} is already registered")
    _METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added with :func:`register` (for tests)."""
    del _METHODS[name]


def get(name: str) -> Method:
    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(f"unknown CAM method {name!r}; valid: {', '.join(_METHODS)}") from None


def names(kind: str | None = None, baseline: bool | None = None) -> tuple[str, ...]:
    """Every registered method's name (of ``kind``, and baseline or not, if given), in registration order."""
    return tuple(name for name, method in _METHODS.items()
                 if (kind is None or method.kind == kind) and (baseline is None or method.baseline == baseline))


for _method in _BUILT_IN:
    register(_method)
