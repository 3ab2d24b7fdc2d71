"""CAM metric table (every score, every condition, with bootstrap CIs), the box-versus-mask table and
paired Wilcoxon-Holm comparisons of methods. Each score file's keys come in params.input_keys."""

import pandas as pd

from camsweep import comparisons, io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        conditions.append(tables.Condition(keys, pd.read_parquet(path)))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = tables.cam_metric_table(conditions, settings, job.params.seed)
    io.save_csv(job.output.table, table)
    io.save_csv(job.output.box_vs_mask, tables.box_vs_mask_table(table))
    per_image = pd.concat([condition.frame.assign(**condition.keys) for condition in conditions], ignore_index=True)
    condition_keys = ("dataset", "model", "perturbation", "severity")
    io.save_csv(job.output.comparisons, comparisons.paired_comparisons(
        per_image, tables.SCORE_COLUMNS, condition_keys, baselines=list(job.params.baselines)))
    io.save_json(job.output.provenance, io.provenance(job.params.aggregate, seed=job.params.seed, inputs=sorted(job.input)))
