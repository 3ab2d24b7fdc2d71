"""Dataset-level WSOL table (MaxBoxAccV2, MaxBoxAcc per δ, PxAP) with bootstrap CIs over images."""

from camsweep import io, stats, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    conditions = []
    for path, keys in zip(job.input, job.params.input_keys, strict=True):
        arrays, _ = io.load_npz(path)
        evidence = {"best_iou": {}, "pixel_counts": {}}
        for key, value in arrays.items():
            if ":" in key:
                kind, layer = key.split(":", 1)
                evidence[kind][layer] = value
        conditions.append((keys, evidence))
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    io.save_csv(job.output.table, tables.wsol_table(conditions, settings, job.params.seed))
