"""Lambda: port and host scans, by threshold random walk; the scanner is blocked for 30 s.

    sudo taplab lambda load detectors/lambda_scan.py      (from the repository)

Stealth probes count too, and the alert names the host whose interface sent the
probes: with decoys (nmap -D), only the real scanner is blocked, never a decoy.
"""

from taplab.detectors.lambda_wrapper import detector_lambda
from taplab.detectors.trw import ThresholdRandomWalk

scan = detector_lambda(ThresholdRandomWalk(), block_seconds=30)
