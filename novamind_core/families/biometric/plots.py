"""The cohort result as pictures: a lag × pair heatmap of coefficients with significance
marked, and the directed graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmap(tests: pd.DataFrame, settings, path: Path) -> Path:
    """Rows: biometric → symptom; columns: lag in days; colour: r; * where q ≤ FDR."""
    plt = _pyplot()
    pairs = [(b, s) for b in settings.biometrics for s in settings.symptoms]
    lags = np.arange(settings.max_lag + 1)
    grid = np.full((len(pairs), len(lags)), np.nan)
    marks = np.zeros(grid.shape, dtype=bool)
    index = {pair: i for i, pair in enumerate(pairs)}
    for row in tests.itertuples():
        i = index[(row.biometric, row.symptom)]
        grid[i, row.lag_days] = row.coefficient
        marks[i, row.lag_days] = row.significant
    limit = max(0.1, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * len(lags), 0.9 + 0.32 * len(pairs)))
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i, j in zip(*np.nonzero(marks), strict=True):
        ax.text(j, i, "*", ha="center", va="center", fontsize=11)
    ax.set_xticks(lags, [str(lag) for lag in lags])
    ax.set_yticks(range(len(pairs)), [f"{b} → {s}" for b, s in pairs], fontsize=7)
    ax.set_xlabel("lag (days the biometric leads)")
    ax.set_title(f"{settings.method} r; * q ≤ {settings.fdr:g}", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def causal_graph(edges: pd.DataFrame, settings, path: Path) -> Path:
    """Biometrics on the left, symptoms on the right; an arrow per edge, its width the
    strength, red for a rise, blue for a fall, labelled with its lag."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    left = {
        b: (0.0, 1 - i / max(len(settings.biometrics) - 1, 1))
        for i, b in enumerate(settings.biometrics)
    }
    right = {
        s: (1.0, 1 - i / max(len(settings.symptoms) - 1, 1))
        for i, s in enumerate(settings.symptoms)
    }
    for name, (x, y) in {**left, **right}.items():
        ax.text(
            x,
            y,
            name,
            ha="right" if x == 0 else "left",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )
    for e in edges.itertuples():
        (x0, y0), (x1, y1) = left[e.biometric], right[e.symptom]
        colour = "tab:red" if e.strength > 0 else "tab:blue"
        ax.annotate(
            "",
            xy=(x1 - 0.02, y1),
            xytext=(x0 + 0.02, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "lw": 0.5 + 8 * abs(e.strength),
                "color": colour,
                "alpha": 0.7,
            },
        )
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"lag {e.lag_days}", fontsize=7, ha="center")
    if edges.empty:
        ax.text(0.5, 0.5, "no directed relation found", ha="center", fontsize=9)
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.15, 1.15)
    ax.axis("off")
    ax.set_title("directed relations (Granger-style)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
