"""Shortcut figure: accuracy, ROC-AUC and mask EPG of the cross-entropy and attention models with the marker
as in training, absent and shuffled; below, both models' maps on the same shuffled-marker test images (seed
index 0's models)."""

import pandas as pd

from camsweep import io, plots
from camsweep.data import check_ids, load_split
from camsweep.scripting import job_context
from camsweep.studies.attention_training.figures import shortcut_figure

with job_context(globals()) as job:
    table = pd.read_csv(job.input.table)
    table = table[(table["dataset"] == job.wildcards.dataset) & (table["model"] == job.wildcards.model)]
    if table.empty:
        raise ValueError(f"{job.input.table} has no rows for {job.wildcards.dataset}/{job.wildcards.model}")
    split = load_split(job.input.test)
    maps, predictions = {}, {}
    for training, path in zip(job.params.trainings, job.input.maps, strict=True):
        arrays, _ = io.load_npz(path)
        check_ids(arrays["ids"], split, path)
        maps[training], predictions[training] = arrays["maps"], arrays["predictions"]
    seeds = int(table["seeds"].iloc[0])
    level = f"{job.params.confidence:.0%}"
    intervals = f"{level} t-intervals over seeds" if seeds > 1 else f"{level} image-bootstrap intervals"
    title = (f"Shortcut test: {job.wildcards.model} trained on {job.wildcards.dataset} with a class marker "
             f"({seeds} seed{'s' if seeds > 1 else ''}, {intervals})")
    explain = job.params.explain
    maps_title = (f"Marker shuffled to another class: {explain['method']} at {explain['layer']} of each model's "
                  f"predicted class" + (" (the models of seed index 0)" if seeds > 1 else ""))
    figure = shortcut_figure(table, split, maps, predictions, title, maps_title)
    plots.save(figure, job.output.png, job.output.pdf)
