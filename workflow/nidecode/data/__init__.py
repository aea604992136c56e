"""Data: sources, the NWB reader and writer, the simulator and its clock, stimuli,
responses, and which units and trials an analysis selects."""
