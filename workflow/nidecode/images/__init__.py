"""Neural images: preferred stimuli and each trial's stimulus weights W."""
