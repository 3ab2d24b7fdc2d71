"""Every method shared with pytorch-grad-cam 1.5.7 gives the same maps on ResNet-18 and ResNet-50.

pytorch-grad-cam returns maps min–max normalised, resized to the input with cv2 (bilinear) and normalised
again; :func:`their_normalisation` applies exactly that to camsweep's layer-resolution maps, so the
comparison is a maximum absolute difference (≤ 1e-4), with no correlation fallback needed.

Ablation-CAM is compared with both sides in float64. Its weights (y − y_k) / y subtract nearly equal logits:
in float32 that difference carries the CPU kernels' rounding (ResNet-50 layer4.2 moved by 1.2e-4 on one CPU
and 3.0e-4 on another), so a float32 comparison would test the machine, not the method. In float64 that
rounding is ~1e-12 and what remains is the reference's own float32 post-processing (cv2.resize), well inside
1e-4. The other methods are well conditioned in float32 and are compared there (float64 would only cost time).
"""

import cv2
import numpy as np
import pytest
import torch
import torchvision

from camsweep import cams
from camsweep.cams import eigen

grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

THEIR_CLASSES = {
    "gradcam": grad_cam.GradCAM,
    "gradcam++": grad_cam.GradCAMPlusPlus,
    "xgradcam": grad_cam.XGradCAM,
    "layercam": grad_cam.LayerCAM,
    "hirescam": grad_cam.HiResCAM,
    "scorecam": grad_cam.ScoreCAM,
    "ablationcam": grad_cam.AblationCAM,
    "eigencam": grad_cam.EigenCAM,
}
TOLERANCE = 1e-4


def their_normalisation(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam's scale_cam_image (min-max, cv2.resize) and its multi-layer aggregation (again)."""
    result = []
    for image in maps.numpy().astype(np.float32):
        image = image - image.min()
        image = image / (1e-7 + image.max())
        image = cv2.resize(np.float32(image), (size[1], size[0]))
        image = image - image.min()
        result.append(image / (1e-7 + image.max()))
    return np.float32(result)


def model_and_inputs(architecture: str, size: int, count: int, dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    model = getattr(torchvision.models, architecture)().eval().to(dtype)
    images = torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(1)).to(dtype)
    with torch.no_grad():
        logits = model(images)
    targets = logits.argmax(dim=1)
    assert (logits.max(dim=1).values > 0).all()  # Ablation-CAM's |y| guard equals the paper's y here
    return model, images, targets


def theirs(method, model, module, images, targets):
    their_cam = THEIR_CLASSES[method](model=model, target_layers=[module])
    if method == "scorecam":
        their_cam.batch_size = 64
    return their_cam(input_tensor=images, targets=[ClassifierOutputTarget(int(t)) for t in targets])


FLOAT64 = {"ablationcam"}  # ill-conditioned in float32 (module docstring)
CASES = [
    # (architecture, input size, images, layer, methods)
    ("resnet18", 112, 2, "layer4.1", ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam"]),
    ("resnet18", 112, 2, "layer3", ["gradcam", "hirescam"]),
    # The re-running methods on one image: the reference re-runs the network per channel, one image at a time
    # (multi-image batching is checked against per-image loops in test_cam_methods.py).
    ("resnet18", 112, 1, "layer3", ["ablationcam"]),
    ("resnet18", 112, 1, "layer4.1", ["scorecam"]),
    ("resnet18", 112, 1, "layer4.1", ["ablationcam"]),
    ("resnet50", 112, 2, "layer4.2", ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam"]),
    # ResNet-50's re-running methods (2,048 channels, re-run by the reference one batch at a time) take
    # minutes: the full tier only; the quick tier checks both methods on ResNet-18.
    pytest.param("resnet50", 64, 1, "layer4.2", ["scorecam"], marks=pytest.mark.full),
    pytest.param("resnet50", 64, 1, "layer4.2", ["ablationcam"], marks=pytest.mark.full),
    pytest.param("resnet50", 64, 1, "layer3.5", ["ablationcam"], marks=pytest.mark.full),
]


@pytest.mark.parametrize(("architecture", "size", "count", "layer", "methods"), CASES)
def test_maps_equal_pytorch_grad_cam(architecture, size, count, layer, methods):
    dtype = torch.float64 if FLOAT64 & set(methods) else torch.float32
    assert dtype == torch.float32 or set(methods) <= FLOAT64  # a case is all float64 or all float32
    model, images, targets = model_and_inputs(architecture, size, count, dtype)
    module = dict(model.named_modules())[layer]
    ours = cams.compute_many(model, images, methods, [layer], targets)
    for method in methods:
        expected = theirs(method, model, module, images, targets)
        got = their_normalisation(ours[method][layer], (size, size))
        if method == "eigencam":  # their singular vector's sign is arbitrary; ours is fixed (see eigen.py)
            flipped = their_normalisation(torch.relu(-eigen.projection(_activations(model, module, images))), (size, size))
            per_image = np.minimum(np.abs(got - expected).max(axis=(1, 2)), np.abs(flipped - expected).max(axis=(1, 2)))
            difference = per_image.max()
        else:
            difference = np.abs(got - expected).max()
        assert difference <= TOLERANCE, f"{method} on {architecture}.{layer}: max |Δ| = {difference:.2e}"
        assert expected.max() > 0.99  # a real map, not two empty ones agreeing


def _activations(model, module, images):
    store = {}
    handle = module.register_forward_hook(lambda _m, _a, output: store.setdefault("a", output.detach()))
    with torch.no_grad():
        model(images)
    handle.remove()
    return store["a"]


# --- vision transformers: pytorch-grad-cam's documented reshape_transforms ---------------------------------
def vit_reshape(tensor, height=14, width=14):
    """pytorch-grad-cam's ViT example: drop the class token, tokens → (N, C, 14, 14)."""
    return tensor[:, 1:, :].reshape(tensor.size(0), height, width, tensor.size(2)).permute(0, 3, 1, 2)


def swin_reshape(tensor):
    """pytorch-grad-cam's Swin example, for torchvision's channels-last (N, h, w, C) stages."""
    return tensor.permute(0, 3, 1, 2)


SHARED = ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam"]
TRANSFORMER_CASES = [
    # (architecture, layer, reshape_transform, methods)
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", vit_reshape, SHARED),
    ("swin_t", "features.7.1.norm2", swin_reshape, SHARED),
    # The stage's output feeds a LayerNorm, which makes Σ_k G_k·A_k zero at every position: HiResCAM there
    # is rounding noise on both sides (docs/cam-engine.md), so it is compared at norm2 above only.
    ("swin_t", "features.7", swin_reshape, [m for m in SHARED if m != "hirescam"]),
]


@pytest.mark.parametrize(("architecture", "layer", "reshape", "methods"), TRANSFORMER_CASES)
def test_transformer_maps_equal_pytorch_grad_cam(architecture, layer, reshape, methods, capsys):
    torch.manual_seed(0)
    model = getattr(torchvision.models, architecture)().eval()
    if architecture.startswith("vit"):
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision zero-initialises it: no gradient
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        targets = model(images).argmax(dim=1)
    module = dict(model.named_modules())[layer]
    ours = cams.compute_many(model, images, methods, [layer], targets)
    differences = {}
    for method in methods:
        their_cam = THEIR_CLASSES[method](model=model, target_layers=[module], reshape_transform=reshape)
        expected = their_cam(input_tensor=images, targets=[ClassifierOutputTarget(int(t)) for t in targets])
        got = their_normalisation(ours[method][layer], (224, 224))
        difference = np.abs(got - expected).max(axis=(1, 2))
        if method == "eigencam":  # their singular vector's sign is arbitrary; ours is fixed (see eigen.py)
            grid = reshape(_activations(model, module, images))
            flipped = their_normalisation(torch.relu(-eigen.projection(grid)), (224, 224))
            difference = np.minimum(difference, np.abs(flipped - expected).max(axis=(1, 2)))
        differences[method] = difference.max()
        assert expected.max() > 0.99  # a real map, not two empty ones agreeing
    with capsys.disabled():  # the agreement is part of CI's log
        listed = ", ".join(f"{method} {value:.1e}" for method, value in differences.items())
        print(f"\npytorch-grad-cam agreement, {architecture} {layer}: max |Δ| {listed}")
    assert max(differences.values()) <= TOLERANCE, differences
