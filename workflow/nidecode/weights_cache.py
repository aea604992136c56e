"""Names of pretrained-weight files, importable without torch (the Snakefile uses them)."""

# torchvision's GoogLeNet_Weights.IMAGENET1K_V1 is cached under $TORCH_HOME/hub/checkpoints/.
GOOGLENET_IMAGENET_FILE = "googlenet-1378be20.pth"
