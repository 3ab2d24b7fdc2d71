"""WSOL metric speed: camsweep's MaxBoxAccV2 and PxAP against straightforward per-threshold references
(same maps, same run, same numbers), plus the per-image localisation suite on the same maps.

Data: random smooth maps (Gaussian-blurred noise plus a blurred copy of the object, so maps localise
partly), each with one random elliptical object mask and its tight box. The references follow the
published definitions literally: per map and threshold, ``cv2.findContours`` (RETR_TREE) on s ≥ τ and
``cv2.boundingRect`` per contour for MaxBoxAccV2; per threshold, a full scan of all pooled pixels for
PxAP. The script checks that both give the same values. Single-threaded OpenCV, about a minute.

Usage: python benchmarks/wsol.py [--maps 1000] [--size 224] [--seed 0]
"""

import argparse
import time

import cv2
import numpy as np

from camsweep import maps as saliency_maps, regions
from camsweep.metrics import localisation, wsol


def make_dataset(n_maps, size, seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_maps, size, size), dtype=np.uint8)
    maps = np.empty((n_maps, size, size), dtype=np.float32)
    for i in range(n_maps):
        centre = tuple(int(v) for v in rng.integers(size // 8, size - size // 8, 2))
        axes = tuple(int(v) for v in rng.integers(size // 16, size // 3, 2))
        cv2.ellipse(masks[i], centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)
        noise = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), rng.uniform(4, 12))
        noise = (noise - noise.min()) / (noise.max() - noise.min())
        target = cv2.GaussianBlur(masks[i].astype(np.float32), (0, 0), rng.uniform(4, 16))
        maps[i] = noise + rng.uniform(0.1, 0.8) * target
    masks = masks.astype(bool)
    return maps, masks, regions.boxes_from_masks(masks)


def inclusive_iou(a, b):
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    intersection = max(width, 0) * max(height, 0)
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return intersection / (area - intersection)


def reference_max_box_acc_v2(maps, boxes, thresholds, deltas=(0.3, 0.5, 0.7)):
    hits = np.zeros((len(deltas), len(thresholds)))
    for saliency, box in zip(maps, boxes, strict=True):
        normalised = saliency_maps.normalise(saliency[None])[0]
        constant = normalised.max() == 0
        box = [int(v) for v in box]
        for k, threshold in enumerate(thresholds):
            binary = (normalised >= threshold).astype(np.uint8)
            contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
            best = 0.0
            for contour in [] if constant else contours:
                x, y, w, h = cv2.boundingRect(contour)
                best = max(best, inclusive_iou((x, y, x + w - 1, y + h - 1), box))
            for i, delta in enumerate(deltas):
                hits[i, k] += best >= delta
    return float((hits / len(maps)).max(axis=1).mean())


def reference_pxap(maps, masks, thresholds):
    normalised = saliency_maps.normalise(maps)
    positives = masks.sum()
    average_precision, previous_recall = 0.0, 0.0
    for threshold in np.append(thresholds, 1.0)[::-1]:
        predicted = normalised >= threshold
        true_pos = np.count_nonzero(predicted & masks)
        n_predicted = np.count_nonzero(predicted)
        if n_predicted == 0:
            continue
        recall = true_pos / positives
        average_precision += true_pos / n_predicted * (recall - previous_recall)
        previous_recall = recall
    return average_precision


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    maps, masks, boxes = make_dataset(args.maps, args.size, args.seed)
    thresholds = wsol.threshold_grid()
    n = len(maps)
    print(f"{n} maps of {args.size}×{args.size}, {len(thresholds)} thresholds")

    ours_box, ours_box_s = timed(lambda: wsol.max_box_acc_v2(maps, boxes, thresholds))
    ref_box, ref_box_s = timed(lambda: reference_max_box_acc_v2(maps, boxes, thresholds))
    assert ours_box.value == ref_box, f"MaxBoxAccV2 disagrees: {ours_box.value} vs {ref_box}"

    ours_px, ours_px_s = timed(lambda: wsol.pxap(maps, masks, thresholds))
    ref_px, ref_px_s = timed(lambda: reference_pxap(maps, masks, thresholds))
    assert abs(ours_px.value - ref_px) < 1e-12, f"PxAP disagrees: {ours_px.value} vs {ref_px}"

    # The per-image suite, in chunks of 250 maps to bound its float64 temporaries.
    start = time.perf_counter()
    for first in range(0, n, 250):
        chunk = slice(first, first + 250)
        localisation.scores(maps[chunk], masks[chunk], boxes[chunk])
    suite_s = time.perf_counter() - start

    print(f"MaxBoxAccV2 = {ours_box.value:.4f} (MaxBoxAcc at δ 0.3/0.5/0.7: "
          + ", ".join(f"{v:.3f}" for v in ours_box.max_box_acc) + f"); PxAP = {ours_px.value:.4f}")
    print(f"{'metric':<28}{'camsweep maps/s':>16}{'reference maps/s':>18}{'ratio':>8}")
    for name, ours_s, ref_s in (("MaxBoxAccV2", ours_box_s, ref_box_s), ("PxAP", ours_px_s, ref_px_s)):
        print(f"{name:<28}{n / ours_s:>16.0f}{n / ref_s:>18.0f}{ref_s / ours_s:>7.1f}×")
    print(f"{'localisation.scores':<28}{n / suite_s:>16.0f}{'-':>18}{'-':>8}")


if __name__ == "__main__":
    main()
