"""CAMs of channels-last and token layers: the layout rules, their errors, and every method against
independent per-channel loops written here with plain hooks (no camsweep code on the reference side)."""

import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from camsweep import cams
from camsweep.cams import layouts
from camsweep.cams.layouts import Layout, LayoutError


# --- resolving layouts from rules and shapes -----------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "size", "layout", "expected"),
    [
        ((2, 512, 7, 7), (224, 224), None, ("nchw", None, 7, 7)),
        ((2, 64, 56, 56), (224, 224), None, ("nchw", None, 56, 56)),  # nhwc reads 64×56: strides 3.5 and 4
        ((2, 7, 7, 768), (224, 224), None, ("nhwc", None, 7, 7)),  # Swin's last stage
        ((2, 2048, 4, 5), (100, 150), None, ("nchw", None, 4, 5)),  # a ResNet on a 100×150 image
        ((2, 197, 768), (224, 224), None, ("tokens", 1, 14, 14)),  # ViT-B/16: class token + 14×14
        ((2, 198, 192), (224, 224), Layout("tokens", 2), ("tokens", 2, 14, 14)),  # DeiT: class + distillation
        ((2, 261, 384), (256, 256), None, ("tokens", 5, 16, 16)),  # class + 4 register tokens
        ((2, 49 * 2, 64), (112, 224), Layout("tokens", 0), ("tokens", 0, 7, 14)),  # a PVT block, wide image
    ],
)
def test_layouts_resolve_from_rules_and_shapes(shape, size, layout, expected):
    view = layouts.resolve("layer", shape, size, layout)
    assert (view.layout.kind, view.layout.prefix_tokens, view.height, view.width) == expected


@pytest.mark.parametrize(
    ("shape", "size", "layout", "message"),
    [
        ((4, 6, 6, 6), (6, 6), None, r"layer 'blocks\.1' output of shape \(4, 6, 6, 6\) .*ambiguous.*nchw as 6×6, nhwc as 6×6"),
        ((4, 17, 8), (32, 32), None, r"layer 'blocks\.1' output of shape \(4, 17, 8\) .*ambiguous.*tokens:1 as 4×4.*"),
        ((4, 50, 8), (32, 32), None, r"layer 'blocks\.1' output of shape \(4, 50, 8\) .*fits no layout"),
        ((4, 7, 7, 768), (224, 224), Layout("nchw"), r"layer 'blocks\.1' output of shape \(4, 7, 7, 768\) .*does not fit layout nchw"),
        ((4, 197, 768), (224, 224), Layout("tokens", 0), r"does not fit layout tokens:0"),
        ((4, 768), (224, 224), None, r"layer 'blocks\.1' output of shape \(4, 768\).*only 4-D"),
    ],
)
def test_an_undeterminable_layout_raises_naming_layer_and_shape(shape, size, layout, message):
    with pytest.raises(LayoutError, match=message):
        layouts.resolve("blocks.1", shape, size, layout)


def test_layout_names_parse_and_reject():
    assert Layout.parse("tokens:2") == Layout("tokens", 2) and str(Layout.parse("nhwc")) == "nhwc"
    for bad in ("nchw:1", "tokens:x", "hwc"):
        with pytest.raises(ValueError, match=f"unknown layer layout '{bad}'"):
            Layout.parse(bad)


def test_views_read_tokens_row_major_and_write_them_back():
    count, height, width, channels = 2, 3, 4, 5
    tokens = torch.randn(count, 1 + height * width, channels)
    view = layouts.resolve("x", tuple(tokens.shape), (48, 64), Layout("tokens", 1))
    grid = view.to_nchw(tokens)
    assert grid.shape == (count, channels, height, width)
    assert torch.equal(grid[1, :, 2, 1], tokens[1, 1 + 2 * width + 1])  # token 1 + r·w + c is cell (r, c)
    assert torch.equal(view.restore(grid, tokens), tokens)
    nhwc = torch.randn(count, height, width, channels)
    view = layouts.resolve("x", tuple(nhwc.shape), (24, 32), None)
    assert view.layout.kind == "nhwc" and torch.equal(view.restore(view.to_nchw(nhwc), nhwc), nhwc)


# --- small transformers and a channels-last network ----------------------------------------------------
def small_vit() -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=3
    )
    nn.init.normal_(model.heads.head.weight, std=0.5)  # torchvision zero-initialises the head: no gradients
    return model.eval()


def small_swin() -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.SwinTransformer(
        patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[2, 2], num_classes=3
    )
    return model.eval()


class ChannelsLast(nn.Module):
    """A 6×6 image whose layer outputs (N, 6, 6, 6): square grid, as many channels as cells per side."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.block = nn.Sequential(nn.LayerNorm(6), nn.GELU())
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.block(self.conv(x).permute(0, 2, 3, 1)).mean(dim=(1, 2)))


def vit_grid(tokens):  # pytorch-grad-cam's documented reshape_transform for ViT, for a 4×4 grid
    return tokens[:, 1:].reshape(tokens.shape[0], 4, 4, tokens.shape[2]).permute(0, 3, 1, 2)


def vit_tokens(grid, like):
    return torch.cat([like[:, :1], grid.permute(0, 2, 3, 1).reshape(like.shape[0], -1, like.shape[2])], dim=1)


CASES = {
    # name: (model factory, layer, raw → (N, C, h, w), (N, C, h, w) + raw → raw, image size, layouts override)
    "vit": (small_vit, "encoder.layers.encoder_layer_1.ln_1", vit_grid, vit_tokens, 32, None),
    "swin-stage": (small_swin, "features.3", lambda a: a.permute(0, 3, 1, 2), lambda g, _: g.permute(0, 2, 3, 1), 32, None),
    "swin-block": (small_swin, "features.3.1.norm2", lambda a: a.permute(0, 3, 1, 2), lambda g, _: g.permute(0, 2, 3, 1), 32, None),
    "override": (ChannelsLast, "block", lambda a: a.permute(0, 3, 1, 2), lambda g, _: g.permute(0, 2, 3, 1), 6, {"block": "nhwc"}),
}


def _inputs(size):
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))


def _raw_output(model, layer, images, replace=None):
    """(logits, the layer's raw output); ``replace(raw)`` substitutes the layer's output."""
    store = {}

    def hook(_module, _args, output):
        store["raw"] = output
        return None if replace is None else replace(output)

    handle = dict(model.named_modules())[layer].register_forward_hook(hook)
    try:
        logits = model(images)
    finally:
        handle.remove()
    return logits, store["raw"]


def reference_gradient_maps(model, layer, images, targets, to_grid):
    with torch.enable_grad():
        logits, raw = _raw_output(model, layer, images)
        (grads,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), raw)
    a, g = to_grid(raw.detach()), to_grid(grads)
    return {
        "gradcam": torch.relu((g.mean(dim=(2, 3))[..., None, None] * a).sum(1)),
        "layercam": torch.relu((torch.relu(g) * a).sum(1)),
        "hirescam": torch.relu((g * a).sum(1)),
    }


def reference_ablation(model, layer, images, targets, to_grid, to_raw):
    with torch.no_grad():
        logits, raw = _raw_output(model, layer, images)
        a = to_grid(raw)
        y = logits.gather(1, targets[:, None])[:, 0]
        drops = torch.zeros(a.shape[:2])
        for k in range(a.shape[1]):
            ablated = a.clone()
            ablated[:, k] = 0
            out, _ = _raw_output(model, layer, images, replace=lambda r, ablated=ablated: to_raw(ablated, r))
            drops[:, k] = y - out.gather(1, targets[:, None])[:, 0]
    weights = drops / y.abs().clamp_min(1e-7)[:, None]
    return torch.relu((weights[..., None, None] * a).sum(1))


def reference_score(model, layer, images, targets, to_grid):
    with torch.no_grad():
        _, raw = _raw_output(model, layer, images)
        a = to_grid(raw)
        scores = torch.zeros(a.shape[:2])
        for n in range(len(images)):
            for k in range(a.shape[1]):
                m = a[n, k]
                m = (m - m.min()) / (m.max() - m.min() + 1e-8)
                mask = F.interpolate(m[None, None], size=images.shape[2:], mode="bilinear", align_corners=True)
                scores[n, k] = model(images[n : n + 1] * mask)[0, targets[n]]
    weights = torch.softmax(scores, dim=1)
    return torch.relu((weights[..., None, None] * a).sum(1))


@pytest.mark.parametrize("case", CASES)
def test_every_method_reads_the_layer_through_its_layout(case):
    factory, layer, to_grid, to_raw, size, override = CASES[case]
    model, images = factory(), _inputs(size)
    with torch.no_grad():
        targets = model(images).argmax(1)
    settings = cams.CamSettings(layouts=override)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a model torch.fx cannot cut falls back to full re-runs (tested below)
        ours = cams.compute_many(model, images, list(cams.METHODS), [layer], targets, settings=settings)
    expected = reference_gradient_maps(model, layer, images, targets, to_grid)
    expected["ablationcam"] = reference_ablation(model, layer, images, targets, to_grid, to_raw)
    expected["scorecam"] = reference_score(model, layer, images, targets, to_grid)
    grid = to_grid(_raw_output(model, layer, images)[1].detach()).shape[2:]
    for method, maps in ours.items():
        assert maps[layer].shape == (2, *grid), method
        if method in expected:
            scale = expected[method].amax().clamp_min(1e-12)
            difference = ((maps[layer] - expected[method]).abs().max() / scale).item()
            assert difference < 1e-4, f"{case} {method}: max relative |Δ| {difference:.1e}"
            assert expected[method].amax() > 0, f"{case} {method}: an empty reference map proves nothing"


def test_swin_stage_output_is_no_longer_read_as_channels_first():
    """The bug: features.7 of swin_t (N, 7, 7, 768) gave a (1, 2, 768) "map" of a 2×2 grid, no error."""
    model = torchvision.models.swin_t().eval()
    images = _inputs(64)
    maps = cams.compute(model, images, "gradcam", ["features.7"], [0, 1])["features.7"]
    assert maps.shape == (2, 2, 2)
    expected = reference_gradient_maps(model, "features.7", images, torch.tensor([0, 1]), lambda a: a.permute(0, 3, 1, 2))
    assert expected["gradcam"].amax() > 0
    torch.testing.assert_close(maps, expected["gradcam"], rtol=1e-4, atol=1e-6 * expected["gradcam"].amax().item())


def test_an_ambiguous_layer_raises_until_its_layout_is_given():
    model, images = ChannelsLast(), _inputs(6)
    with pytest.raises(LayoutError, match=r"layer 'block' output of shape \(2, 6, 6, 6\) \(input 6×6\) is ambiguous"):
        cams.compute(model, images, "gradcam", ["block"], [0, 1])
    with pytest.raises(LayoutError, match=r"does not fit layout tokens"):
        cams.compute(model, images, "gradcam", ["block"], [0, 1], settings=cams.CamSettings(layouts={"block": "tokens"}))


class Untraceable(nn.Module):
    """The small ViT behind Python control flow on a tensor value, which torch.fx cannot trace."""

    def __init__(self):
        super().__init__()
        self.vit = small_vit()

    def forward(self, x):
        logits = self.vit(x)
        return -logits if logits.sum() > 1e9 else logits  # never true: the same logits


def test_ablation_on_tokens_cuts_the_tail_and_falls_back_with_a_warning_where_it_cannot():
    images, layer = _inputs(32), "encoder.layers.encoder_layer_1.ln_1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.fx cuts torchvision's ViT: tail-only re-runs, no warning
        tail = cams.compute(small_vit(), images, "ablationcam", [layer], [0, 1])[layer]
    with pytest.warns(UserWarning, match="re-runs the whole model"):
        full = cams.compute(Untraceable(), images, "ablationcam", [f"vit.{layer}"], [0, 1])[f"vit.{layer}"]
    torch.testing.assert_close(tail, full, rtol=1e-4, atol=1e-4 * full.amax().item())


def test_a_channels_last_layer_inside_a_channels_first_network_is_read_by_its_shape():
    """ConvNeXt's rule is nchw, but the LayerNorm inside its blocks runs on (N, h, w, C)."""
    torch.manual_seed(0)
    model, images = torchvision.models.convnext_tiny().eval(), _inputs(64)
    layer = "features.7.2.block.2"  # (N, 2, 2, 768): nchw would be a 2×768 grid of a 64×64 image
    maps = cams.compute(model, images, "gradcam", [layer], [0, 1])[layer]
    expected = reference_gradient_maps(model, layer, images, torch.tensor([0, 1]), lambda a: a.permute(0, 3, 1, 2))
    assert expected["gradcam"].amax() > 0
    torch.testing.assert_close(maps, expected["gradcam"], rtol=1e-4, atol=1e-6 * expected["gradcam"].amax().item())


@pytest.mark.parametrize(
    ("name", "layer", "size", "prefix", "grid"),
    [
        ("deit_tiny_distilled_patch16_224", "blocks.11.norm1", 224, 2, 14),  # class + distillation tokens
        ("vit_small_patch14_reg4_dinov2", "blocks.11.norm1", 56, 5, 4),  # class + 4 register tokens
        ("pvt_v2_b0", "stages.3.blocks.1", 64, 0, 2),  # a PVT-v2 block: (N, L, C), no prefix
    ],
)
def test_timm_token_layers_read_their_prefix_tokens_from_the_model(name, layer, size, prefix, grid):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    extra = {"img_size": size} if "dinov2" in name else {}
    model = timm.create_model(name, pretrained=False, num_classes=3, **extra).eval()
    images = _inputs(size)

    def to_grid(tokens):
        return tokens[:, prefix:].reshape(len(tokens), grid, grid, -1).permute(0, 3, 1, 2)

    maps = cams.compute_many(model, images, ["gradcam", "hirescam"], [layer], [0, 1])
    expected = reference_gradient_maps(model, layer, images, torch.tensor([0, 1]), to_grid)
    for method in ("gradcam", "hirescam"):
        assert maps[method][layer].shape == (2, grid, grid) and expected[method].amax() > 0
        torch.testing.assert_close(maps[method][layer], expected[method], rtol=1e-4,
                                   atol=1e-5 * expected[method].amax().item())


@pytest.mark.parametrize(("layer", "to_grid"), [
    ("layers.3.blocks.1", lambda a: a.permute(0, 3, 1, 2)),  # a block's output: (N, 7, 7, C)
    ("layers.3.blocks.1.norm2", lambda a: a.reshape(len(a), 7, 7, -1).permute(0, 3, 1, 2)),  # (N, 49, C) tokens
])
def test_timm_swin_blocks_and_their_token_norms_are_read_as_such(layer, to_grid):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=3).eval()
    assert model.output_fmt == "NHWC"  # what the rule reads
    images = _inputs(224)
    maps = cams.compute(model, images, "gradcam", [layer], [0, 1])[layer]
    expected = reference_gradient_maps(model, layer, images, torch.tensor([0, 1]), to_grid)
    assert maps.shape == (2, 7, 7) and expected["gradcam"].amax() > 0
    torch.testing.assert_close(maps, expected["gradcam"], rtol=1e-4, atol=1e-5 * expected["gradcam"].amax().item())
