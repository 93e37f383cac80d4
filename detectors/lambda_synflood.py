"""Lambda: floods, per destination; a flood's real source is blocked for 30 s.

    sudo taplab lambda load detectors/lambda_synflood.py      (from the repository)

SYN floods by non-parametric CUSUM, UDP, ICMP, ACK and RST floods by their
unanswered rate. Only a named source is blocked: the one host whose
interface sent most of the flood. A distributed flood's alert lists its top
sources; a flood from forged addresses names none, so no forged address (a
benign pod's included) is ever blocked.
"""

from taplab.detectors.cusum import CusumSynFlood
from taplab.detectors.lambda_wrapper import detector_lambda
from taplab.detectors.packet_flood import PacketFlood

syn_flood = detector_lambda(CusumSynFlood(), block_seconds=30)
flood = detector_lambda(PacketFlood(), block_seconds=30)
