"""nidecode: decode visual stimuli from Neuropixels recordings through neural images.

Reproduces and extends Iqbal et al. (IJCNN 2019) on the Allen Brain Observatory Visual Coding -
Neuropixels dataset. One module per workflow stage: ``simulate`` (embedded default data),
``stimuli``, ``nwb`` (reader), ``responses``, and the decoding stages.
"""

__version__ = "0.1.0"
