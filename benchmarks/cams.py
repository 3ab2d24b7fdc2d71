"""CAM speed: camsweep against pytorch-grad-cam 1.5.7, measured in the same run on the same inputs.

ResNet-50, ViT-B/16 and Swin-T (torchvision, random weights), one 224×224 image, CPU with 2 threads (the
issue's setting). Prints, per model and method, seconds per image for both, the ratio, and camsweep's cost
in plain forward passes; then the cost of Grad-CAM on 8 ResNet-50 layers at once relative to its shallowest
layer alone. The transformers are explained at pytorch-grad-cam's documented layers with its documented
``reshape_transform`` (and ``AblationLayerVit`` for ViT); camsweep reads the same layers through its layout
rules. Fast methods take the best of several repeats; the slow pytorch-grad-cam runs (minutes) run once.

Usage: python benchmarks/cams.py [--threads 2] [--size 224] [--models resnet50 vit_b_16 swin_t] [--skip-reference-slow]
(needs grad-cam: pip install --no-deps grad-cam==1.5.7 ttach==0.0.3)
"""

import argparse
import contextlib
import io
import time
import warnings

import torch
import torchvision

from camsweep import cams

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytorch_grad_cam
    from pytorch_grad_cam.ablation_layer import AblationLayerVit
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

EIGHT_LAYERS = ["layer1.2", "layer2.0", "layer2.3", "layer3.0", "layer3.5", "layer4.0", "layer4.1", "layer4.2"]


def best_of(repeats, function):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def quietly(function):
    """pytorch-grad-cam prints tqdm bars for its slow methods."""

    def run():
        with contextlib.redirect_stderr(io.StringIO()):
            function()

    return run


def vit_reshape(tensor):
    """pytorch-grad-cam's ViT example: drop the class token, 14×14 tokens → (N, C, 14, 14)."""
    grid = int((tensor.shape[1] - 1) ** 0.5)
    return tensor[:, 1:, :].reshape(tensor.size(0), grid, grid, tensor.size(2)).permute(0, 3, 1, 2)


def swin_reshape(tensor):
    """torchvision's Swin stages are channels-last (N, h, w, C)."""
    return tensor.permute(0, 3, 1, 2)


# name: (label, the layer, reshape_transform, pytorch-grad-cam's ablation layer). pytorch-grad-cam has no
# ablation layer for channels-last outputs: its default zeroes index k of dimension 1, a row of Swin's
# (N, h, w, C), and fails past h; so Swin's Ablation-CAM has no reference row.
MODELS = {
    "resnet50": ("ResNet-50", "layer4.2", None, None),
    "vit_b_16": ("ViT-B/16", "encoder.layers.encoder_layer_11.ln_1", vit_reshape, AblationLayerVit),
    "swin_t": ("Swin-T", "features.7.1.norm2", swin_reshape, False),
}


def build(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    if name.startswith("vit"):
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision zero-initialises it: no gradient
    return model


def benchmark(name, args):
    label, layer, reshape, ablation_layer = MODELS[name]
    model = build(name)
    image = torch.randn(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        target = int(model(image).argmax())
    modules = dict(model.named_modules())

    def forward():
        with torch.inference_mode():
            model(image)

    forward_s = best_of(5, forward)
    print(f"\n{label}, 1 image {args.size}×{args.size}, {args.threads} threads, torch {torch.__version__}")
    print(f"plain forward pass: {forward_s * 1000:.1f} ms")
    print(f"{'method (layer)':52s} {'camsweep s':>11s} {'pytorch-grad-cam s':>19s} {'ratio':>8s} {'÷ forward':>10s}")

    def ours(method, layers=(layer,), **settings):
        return lambda: cams.compute(model, image, method, list(layers), [target], settings=cams.CamSettings(**settings))

    def theirs(method_class, at=layer):
        options = {"reshape_transform": reshape} if reshape else {}
        if method_class is pytorch_grad_cam.AblationCAM and ablation_layer:
            options["ablation_layer"] = ablation_layer()

        def run():
            # A fresh object per call, released at once: its hooks would otherwise stay on the model.
            with method_class(model=model, target_layers=[modules[at]], **options) as cam:
                cam(input_tensor=image, targets=[ClassifierOutputTarget(target)])

        return quietly(run)

    rows = [
        ("gradcam", layer, ours("gradcam"), theirs(pytorch_grad_cam.GradCAM), 10, False),
        ("gradcam++", layer, ours("gradcam++"), theirs(pytorch_grad_cam.GradCAMPlusPlus), 10, False),
        ("eigencam", layer, ours("eigencam"), theirs(pytorch_grad_cam.EigenCAM), 10, False),
        ("ablationcam", layer, ours("ablationcam"),
         None if ablation_layer is False else theirs(pytorch_grad_cam.AblationCAM), 5, True),
    ]
    if name == "resnet50":
        rows += [
            ("ablationcam, tail re-runs", layer, ours("ablationcam", ablation_strategy="tail"), None, 5, True),
            ("ablationcam", "layer3.5", ours("ablationcam", ["layer3.5"]), theirs(pytorch_grad_cam.AblationCAM, "layer3.5"), 1, True),
        ]
    rows.append(("scorecam", layer, ours("scorecam"), theirs(pytorch_grad_cam.ScoreCAM), 1, True))
    for method, at, our_run, their_run, repeats, slow in rows:
        if not slow:
            our_run()  # warm-up (one-off allocations); negligible next to the slow methods' minutes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            our_s = best_of(repeats, our_run)
        if their_run is None or (slow and args.skip_reference_slow):
            their_text, ratio_text = "—", "—"
        else:
            their_s = best_of(1 if slow else repeats, their_run)
            their_text, ratio_text = f"{their_s:.3f}", f"{their_s / our_s:.1f}×"
        row = f"{method} ({at})"
        print(f"{row:52s} {our_s:11.3f} {their_text:>19s} {ratio_text:>8s} {our_s / forward_s:9.1f}×", flush=True)
    if name == "resnet50":
        shallowest = best_of(10, ours("gradcam", EIGHT_LAYERS[:1]))
        together = best_of(10, ours("gradcam", EIGHT_LAYERS))
        print(f"Grad-CAM on 8 layers at once ({', '.join(EIGHT_LAYERS)}): {together * 1000:.1f} ms")
        print(f"Grad-CAM on the shallowest ({EIGHT_LAYERS[0]}) alone: {shallowest * 1000:.1f} ms")
        print(f"ratio 8 layers / shallowest: {together / shallowest:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--skip-reference-slow", action="store_true", help="skip pytorch-grad-cam's Score/Ablation-CAM")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        benchmark(name, args)


if __name__ == "__main__":
    main()
