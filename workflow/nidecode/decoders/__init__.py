"""Decoders: the registry, the reference decoders, the network and its backbones."""
