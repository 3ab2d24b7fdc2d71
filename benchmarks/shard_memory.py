"""Peak memory of one shard's job: the shared loader (camsweep.jobs) against reading the whole archives.

Builds two prepared test splits (with masks) and their clean perturbed-images archives, written by
camsweep's own writers, at two dataset sizes, and cuts both into shards of the same size. Each
measurement runs in a fresh subprocess, which loads one shard's split rows and images and reports its peak
RSS (VmHWM, and how much of it is above the imports' RSS): the shared loader (memory-mapped archives, the shard's rows copied out), then the old way
(``load_split`` + ``load_images`` of everything, then the shard's rows). Prints archive sizes, the peaks
and, per way, the ratio of the two peaks: ~1 when a shard's memory does not grow with the dataset.

Usage: python benchmarks/shard_memory.py [--sizes 2000 8000] [--image-size 128] [--shard 100]
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from camsweep import io, shards
from camsweep.data import ImageSet, save_split, synthetic

CHILD = """
import sys
from types import SimpleNamespace
import numpy as np
from camsweep import jobs, shards
from camsweep.data import load_images, load_split
from camsweep.scripting import NamedList

def status(key):
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1]) // 1024


root, way = sys.argv[1], sys.argv[2]
imported = status("VmRSS:")  # torch and camsweep, before any data
inputs = {"split": f"{root}/test.npz", "images": f"{root}/images.npz", "plan": f"{root}/plan.json"}
job = SimpleNamespace(input=NamedList([], inputs), wildcards=NamedList([], {"shard": "1"}), threads=1)
if way == "shared loader":
    loaded = jobs.load(job)
    split, images = loaded.split, loaded.images()
else:
    whole = load_split(inputs["split"])
    rows = shards.job_rows(job)
    split, images = whole.subset(np.arange(len(whole))[rows]), load_images(inputs["images"], whole)[rows]
assert len(split) == len(images)
print(status("VmHWM:"), imported)
"""


def prepare(root: Path, count: int, image_size: int, images_per_shard: int) -> None:
    """A split of ``count`` images: a few synthetic ones repeated under unique ids (drawing is slow)."""
    seed_split = synthetic.generate(synthetic.SyntheticSpec(image_size=image_size), 50, "test", seed=0)
    index = np.arange(count) % len(seed_split)
    split = ImageSet(
        images=seed_split.images[index], labels=seed_split.labels[index],
        ids=np.array([f"img{i:06d}" for i in range(count)]), class_names=seed_split.class_names,
        masks=seed_split.masks[index], boxes=seed_split.boxes[index],
    )
    save_split(root / "test.npz", split)
    io.save_npz(root / "images.npz", {"images": split.images, "ids": split.ids})
    shards.save_plan(root / "plan.json", count, images_per_shard)


def peak_mb(root: Path, way: str) -> tuple[int, int]:
    """(peak RSS, RSS after the imports) of a subprocess that loads one shard ``way``, in MB."""
    result = subprocess.run([sys.executable, "-c", CHILD, str(root), way], capture_output=True, text=True, check=True)
    peak, imported = map(int, result.stdout.split())
    return peak, imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[2000, 8000])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--shard", type=int, default=100, help="images per shard")
    args = parser.parse_args()
    ways = ("shared loader", "old: whole archives")
    peaks: dict[str, list[int]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.sizes:
            root = Path(scratch, str(count))
            root.mkdir()
            prepare(root, count, args.image_size, args.shard)
            sizes = {name: (root / name).stat().st_size / 2**20 for name in ("test.npz", "images.npz")}
            print(f"{count} images of {args.image_size} px, shard of {args.shard}: "
                  f"split {sizes['test.npz']:.0f} MB, images {sizes['images.npz']:.0f} MB")
            for way in ways:
                peak, imported = peak_mb(root, way)
                peaks[way].append(peak)
                print(f"  {way:20s} peak RSS {peak:5d} MB ({peak - imported:4d} MB above the {imported} MB of the imports)")
    for way in ways:
        small, large = peaks[way]
        print(f"{way:20s} peak ratio {args.sizes[1]}/{args.sizes[0]} images: {large / small:.2f}")


if __name__ == "__main__":
    main()
