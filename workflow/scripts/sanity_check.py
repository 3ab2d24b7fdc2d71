"""Model-randomisation test for one method: maps of the trained model and of randomised copies, compared at
every step of the cascading and the independent variant; the step-0 randomised maps are kept as a maps file."""

import logging

from camsweep import cams, io, jobs, sanity
from camsweep.data import check_ids
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = jobs.load(job)  # the model and this job's shard of the test split (all of it when unsharded)
    trained_maps, _ = io.load_npz(job.input.maps)
    check_ids(trained_maps["ids"], inputs.split, job.input.maps)
    method, layers = job.wildcards.method, list(job.params.layers)
    options = job.params.sanity
    steps = sanity.randomisation_steps(inputs.model, options["randomise_from"], options["blocks"])
    frame, randomised_maps = sanity.randomisation_test(
        inputs.model, inputs.preprocessed(), inputs.split, trained_maps, method, layers, steps, job.params.seed,
        cams.CamSettings(**job.params.settings),
    )
    params = {**dict(job.wildcards.items()), "layers": layers, "randomised_modules": list(steps[0].cascading),
              **options}
    io.save_parquet(job.output.scores, frame, io.provenance(params))
    # Written as the CAM stage writes a maps file, so that the scoring code reads it like one.
    io.save_npz(job.output.maps, {**randomised_maps, "ids": inputs.split.ids, "targets": trained_maps["targets"]},
                io.provenance(params, layers=layers))
    for step in steps:
        logging.info("step %d (%s): %d modules cascading, %d independent", step.index, step.block,
                     len(step.cascading), len(step.independent))
    logging.info("%s: mean rank correlation per variant, step and layer:\n%s", method,
                 frame.groupby(["variant", "step", "layer"])["rank_correlation"].mean().round(3).unstack().to_string())
