"""Studies run by the benchmarks: false-positive calibration, fidelity to Allen."""
