"""Latency percentiles per configuration, one panel per request mix, from
the runner's latest.json. Usage: plot.py latest.json latency.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

report = json.load(open(sys.argv[1]))
runs = [r for r in report["runs"] if r["load"] == "FixedRate"]
mixes = list(dict.fromkeys(r["mix"] for r in runs))
configs = list(dict.fromkeys(r["config"] for r in runs))
pcts = [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p999_us", "p99.9")]

fig, axes = plt.subplots(1, len(mixes), figsize=(4 * len(mixes), 4), squeeze=False)
for ax, mix in zip(axes[0], mixes):
    for config in configs:
        run = next((r for r in runs if r["mix"] == mix and r["config"] == config), None)
        if run:
            ax.plot([p[1] for p in pcts], [run[p[0]] for p in pcts], marker="o", label=config)
    ax.set_title(f"{mix} @ {report['rate']} rps")
    ax.set_ylabel("latency (µs)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
axes[0][0].legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
print(f"wrote {sys.argv[2]}")
