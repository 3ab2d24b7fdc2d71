# Stage 3 — perturbed copies of the test split; ("none", 0) is the clean copy.


rule perturb:
    input:
        "results/data/{dataset}/test.npz",
    output:
        "results/perturbed/{dataset}/{perturbation}/{severity}.npz",
    log:
        log_path("perturb", "dataset", "perturbation", "severity"),
    benchmark:
        benchmark_path("perturb", "dataset", "perturbation", "severity")
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["seed"],
    script:
        "../scripts/perturb.py"
