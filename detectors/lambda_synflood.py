"""Lambda: SYN floods, by non-parametric CUSUM per destination; the top source is blocked for 30 s.

    sudo taplab lambda load detectors/lambda_synflood.py      (from the repository)
"""

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.lambda_wrapper import detector_lambda

syn_flood = detector_lambda(CusumSynFlood(), block_seconds=30)
