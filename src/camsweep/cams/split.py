"""Cutting a model at a layer with ``torch.fx``: a head that computes everything crossing the cut, and a
tail that runs only what depends on the layer.

The tail holds exactly the nodes that depend (transitively) on the layer's output; everything else —
the layer itself, the encoder of a U-Net, its skip tensors — runs once in the head. The values crossing
the cut are the head nodes the tail reads (the layer's output first). The split modules share the
user's submodules (no copies, no mutation), so eval mode set on the model applies to them.

:func:`linear_readout` recognises tails of the form ``global average pool → flatten → linear`` (with
optional dropout/identity), for which the effect of changing the layer's channels has a closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn

_PASS_THROUGH = (nn.Dropout, nn.Dropout2d, nn.Identity)


class _LayerAsLeaf(fx.Tracer):
    """Traces through every module except the target layer (and torch's own leaf modules)."""

    def __init__(self, layer: str):
        super().__init__()
        self.layer = layer

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        if qualified_name == self.layer:
            return True
        if self.layer.startswith(qualified_name + ".") or not qualified_name:
            return False  # an ancestor of the layer must be traced through
        return super().is_leaf_module(module, qualified_name)


@dataclass
class Split:
    """``head(x)`` returns the tuple of values crossing the cut (the layer's output first);
    ``tail(*crossing)`` returns the model's output."""

    head: fx.GraphModule
    tail: fx.GraphModule
    crossing: list[str]


def split_at(model: nn.Module, layer: str) -> Split:
    """Split ``model`` at ``layer`` (a ``named_modules`` name). Raises ``SplitError`` if it cannot be traced
    or the layer is not called exactly once."""
    tracer = _LayerAsLeaf(layer)
    try:
        graph = tracer.trace(model)
    except Exception as error:  # fx raises many types for untraceable code
        hooked = [name or "<model>" for name, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
        hint = f" (forward hooks on {', '.join(hooked)} run during tracing and may be the cause)" if hooked else ""
        raise SplitError(
            f"torch.fx cannot trace {type(model).__name__}{hint}: {type(error).__name__}: {error}"
        ) from error
    calls = [node for node in graph.nodes if node.op == "call_module" and node.target == layer]
    if len(calls) != 1:
        raise SplitError(f"layer {layer!r} is called {len(calls)} times in the traced graph; need exactly once")
    cut = calls[0]

    downstream: set[fx.Node] = set()
    for node in graph.nodes:  # fx orders nodes topologically, so one sweep finds every descendant
        if node is not cut and any(arg is cut or arg in downstream for arg in node.all_input_nodes):
            downstream.add(node)
    crossing = [cut]
    for node in graph.nodes:
        if node in downstream:
            for arg in node.all_input_nodes:
                if arg not in downstream and arg not in crossing and arg.op != "get_attr":
                    crossing.append(arg)

    head_graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        if node in downstream or node.op == "output":
            continue
        env[node] = head_graph.node_copy(node, lambda n: env[n])
    head_graph.output(tuple(env[node] for node in crossing))
    head = fx.GraphModule(tracer.root, head_graph)
    head.graph.eliminate_dead_code()
    head.recompile()

    tail_graph = fx.Graph()
    env = {}
    for node in crossing:
        env[node] = tail_graph.placeholder(_placeholder_name(node))
    for node in graph.nodes:
        if node in downstream:
            for arg in node.all_input_nodes:
                if arg not in env:  # parameters/buffers read with get_attr
                    env[arg] = tail_graph.node_copy(arg, lambda n: env[n])
            env[node] = tail_graph.node_copy(node, lambda n: env[n])
    tail = fx.GraphModule(tracer.root, tail_graph)
    tail.graph.lint()
    return Split(head, tail, [node.name for node in crossing])


def _placeholder_name(node: fx.Node) -> str:
    return f"cut_{node.name}"


class SplitError(RuntimeError):
    """The model cannot be cut at the requested layer."""


@dataclass(frozen=True)
class LinearReadout:
    """The tail is ``y = linear(mean_hw(A))``: y = weight @ mean(A) + bias."""

    weight: torch.Tensor  # (classes, channels)
    bias: torch.Tensor | None


def linear_readout(split: Split) -> LinearReadout | None:
    """The readout if the tail is global average pool → flatten → linear (dropout/identity allowed)."""
    if len(split.crossing) != 1:
        return None
    modules = dict(split.tail.named_modules())
    nodes = [node for node in split.tail.graph.nodes if node.op not in ("placeholder", "output")]
    stages = []
    for node in nodes:
        if node.op == "call_module":
            module = modules[node.target]
            if isinstance(module, _PASS_THROUGH):
                continue
            if isinstance(module, nn.AdaptiveAvgPool2d) and _is_one(module.output_size):
                stages.append("pool")
            elif isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
                stages.append("flatten")
            elif isinstance(module, nn.Linear):
                stages.append(("linear", module))
            else:
                return None
        elif node.op == "call_function" and node.target is torch.flatten and _flatten_from_one(node):
            stages.append("flatten")
        elif node.op == "call_method" and node.target == "flatten" and _flatten_from_one(node):
            stages.append("flatten")
        else:
            return None
        if len(node.users) != 1:
            return None
    if len(stages) != 3 or stages[:2] != ["pool", "flatten"] or not isinstance(stages[2], tuple):
        return None
    linear = stages[2][1]
    return LinearReadout(linear.weight.detach(), None if linear.bias is None else linear.bias.detach())


def _is_one(size) -> bool:
    return size == 1 or tuple(size) == (1, 1)


def _flatten_from_one(node: fx.Node) -> bool:
    """``torch.flatten(x, 1)`` or ``x.flatten(1)``: both have the tensor as first argument."""
    args = node.args[1:]
    start = args[0] if args else node.kwargs.get("start_dim", 0)
    end = args[1] if len(args) > 1 else node.kwargs.get("end_dim", -1)
    return start == 1 and end == -1
