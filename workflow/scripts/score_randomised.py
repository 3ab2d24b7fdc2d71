"""Per-image scores of one method's maps of the randomised model (the sanity check's first step), on the
clean test images: localisation, RMSE to the trained model's maps, and faithfulness measured with the
trained model — what each metric says about a map that no longer explains the model."""

from camsweep import io, jobs, scoring
from camsweep.data import check_ids
from camsweep.metrics import faithfulness_frame
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = jobs.load(job)  # the trained model and this job's shard of the test split
    randomised, meta = io.load_npz(job.input.randomised)
    trained, _ = io.load_npz(job.input.trained)
    for maps, path in ((randomised, job.input.randomised), (trained, job.input.trained)):
        check_ids(maps["ids"], inputs.split, path)
    layers = list(meta["layers"])
    settings = LocalisationSettings.from_config(job.params.metrics)
    frame = scoring.score_maps(
        {layer: randomised[layer] for layer in layers}, {layer: trained[layer] for layer in layers}, inputs.split,
        settings, job.params.metrics["stability_scale"], targets=randomised["targets"],
    )
    if job.params.faithfulness_layers:
        scored = faithfulness_frame.per_image_scores(
            inputs.model, inputs.spec, inputs.images(), randomised, inputs.split.ids, job.params.faithfulness_layers,
            job.params.faithfulness, settings, seed=job.params.seed,
        )
        frame = frame.merge(scored.drop(columns="target"), on=["id", "layer"], how="left", validate="one_to_one")
    params = {**dict(job.wildcards.items()), "layers": layers, "faithfulness_layers": list(job.params.faithfulness_layers)}
    io.save_parquet(job.output[0], frame, io.provenance(params))
