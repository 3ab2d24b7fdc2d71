# Stage 3 — perturbed copies of the test split, one file per condition; ("none", 0) is the clean copy.
# Two jobs per dataset (CONDITION_BATCHES): `perturb_clean` copies the clean images, `perturb` writes
# every perturbed condition.
for suffix, conditions in CONDITION_BATCHES.items():

    rule:
        name:
            f"perturb{suffix}"
        input:
            "results/data/{dataset}/test.npz",
        output:
            condition_paths(
                "results/perturbed/{{dataset}}/{perturbation}/{severity}.npz",
                conditions,
            ),
        log:
            log_path(f"perturb{suffix}", "dataset"),
        benchmark:
            benchmark_path(f"perturb{suffix}", "dataset")
        conda:
            ENV
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            conditions=conditions,
            seed=config["seed"],
        script:
            "../scripts/perturb.py"
