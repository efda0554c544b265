"""deepvideo: large-scale video classification with CNNs (Karpathy et al. 2014; Ng et al. 2015)."""

__version__ = "0.1.0"
