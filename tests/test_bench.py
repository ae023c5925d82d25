import pandas as pd

from strata.bench import summarise_benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_summarise_benchmarks_groups_jobs_by_rule(tmp_path):
    jobs = {
        "train_probe/m/a.tsv": (2.0, 100),
        "train_probe/m/b.tsv": (4.0, 300),
        "report/report.tsv": (1.5, 50),
    }
    for name, (seconds, rss) in jobs.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    table = summarise_benchmarks(tmp_path)
    assert list(table.index) == ["train_probe", "report"]  # by total time, largest first
    probe = table.loc["train_probe"]
    assert (probe["jobs"], probe["total_s"], probe["mean_s"], probe["max_s"]) == (2, 6.0, 3.0, 4.0)
    assert probe["peak_rss_mb"] == 300
    assert isinstance(table, pd.DataFrame)
