"""Metrics: FID/KID on a named feature network, mode-collapse numbers, PSNR/SSIM."""
from gancompress.metrics.features import (FEATURE_NETS, InceptionFeatures, load_feature_net,  # noqa: F401
                                          resolve_feature_net)
from gancompress.metrics.fidelity import psnr_ssim, rgb_to_y  # noqa: F401
from gancompress.metrics.generative import class_statistics, evaluate_generated, fid_kid  # noqa: F401
