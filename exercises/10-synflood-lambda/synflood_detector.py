# lambda
"""Exercise 10: a SYN-flood detector lambda.

The switches copy every TCP SYN to the lambda server. Count each source's SYNs
in one-second windows; a source that sends THRESHOLD or more in a window is
reported once and blocked for BLOCK_SECONDS.
Load it: sudo taplab exercise run 10 synflood_detector.py
"""

from taplab.lambdas import Alert, Block, on  # noqa: F401 - Alert and Block: TODO 2

WINDOW = 1.0  # seconds
THRESHOLD = 50  # SYNs per window: a browser opens a handful, a flood thousands
BLOCK_SECONDS = 30


@on("packet_in")
def synflood(event, ctx):
    if event.data.get("proto") != "tcp" or event.data.get("flags") != "S":
        return []
    window = int(event.time // WINDOW)
    count = ctx.store.incr(("syn", event.src, window), ttl=2 * WINDOW)
    ctx.log.debug("%s: %d SYNs in this window", event.src, count)
    # TODO 1: below THRESHOLD, or when this source was already reported (remember
    #         that in ctx.store with a ttl of BLOCK_SECONDS), return nothing.
    # TODO 2: otherwise return an Alert named "syn-flood" (src, dst, a detail with
    #         the count) and a Block of the source for BLOCK_SECONDS.
    return []
