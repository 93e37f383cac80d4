"""Lambda: the threshold baselines (Zeek-like, Snort-like, fan-out, heavy hitter); alerts only.

sudo taplab lambda load detectors/lambda_baselines.py      (from the repository)
"""

from taplab.detectors.fanout import FanOut
from taplab.detectors.heavy_hitter import HeavyHitter
from taplab.detectors.lambda_wrapper import detector_lambda
from taplab.detectors.snort_like import SnortLikeScan
from taplab.detectors.zeek_like import ZeekLikeScan

zeek = detector_lambda(ZeekLikeScan())
snort = detector_lambda(SnortLikeScan())
fan_out = detector_lambda(FanOut())
heavy_hitter = detector_lambda(HeavyHitter())
