"""Names shared by the Snakefile and the package, importable without torch or xarray (the
Snakefile imports them at parse time, and dry runs must stay quick). One source each."""

# Preferred-stimulus modes (docs/method.md): leak-free "train", and the published "paper".
PS_MODES: tuple[str, ...] = ("train", "paper")

# Within-animal splits: whole stimulus blocks held out, or random trials (the published recipe).
SPLITS: tuple[str, ...] = ("block", "trial")

# A cross-animal combo: TRAIN+TRAIN__TEST, e.g. M0+M1__M3.
ANIMALS_PATTERN = r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*"
COMBO_PATTERN = rf"{ANIMALS_PATTERN}__{ANIMALS_PATTERN}"

# The report's figures, in order (workflow/report/<name>.rst is each one's caption).
FIGURES: tuple[str, ...] = (
    "fig1_raster",
    "fig2a_example_units",
    "fig2b_pca_responses",
    "fig3_preferred_stimuli",
    "fig5_neural_images",
    "fig6a_within",
    "fig6b_cross",
    "fig7_embeddings",
    "fig8_controls",
    "fig9_subclasses",
    "fig10_regions",
    "fig11_arousal",
    "fig12_unit_counts",
    "fig13_time_confound",
    "fig14_rule_benchmarks",
    "fig15_transfer",
    "fig16_retention",
    "fig17_blank_control",
    "fig18_drift_control",
)

# glibc malloc settings every job inherits (Snakefile; a user's own environment wins): freed
# blocks up to 32 MB (glibc's largest mmap threshold) come from the heap and stay there for
# reuse, instead of being unmapped and paid for again page by page by the next array.
MALLOC_REUSE: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30),
    "MALLOC_TOP_PAD_": str(256 * 2**20),
}
