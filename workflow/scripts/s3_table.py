"""S3's λ table: accuracy, ROC-AUC, Youden's J and DP of every classifier by its cross-entropy weight λ."""

import pandas as pd

from camsweep import io, tables
from camsweep.scripting import job_context

with job_context(globals()) as job:
    table = tables.s3_lambda_table(pd.read_csv(job.input[0]), dict(job.params.ce_weights))
    io.save_csv(job.output[0], table)
