# lambda
"""Exercise 10, solution: a SYN-flood detector lambda.

The switches copy every TCP SYN to the lambda server. Count each source's SYNs
in one-second windows; a source that sends THRESHOLD or more in a window is
reported once and blocked for BLOCK_SECONDS.
"""

from taplab.lambdas import Alert, Block, on

WINDOW = 1.0  # seconds
THRESHOLD = 50  # SYNs per window: a browser opens a handful, a flood thousands
BLOCK_SECONDS = 30


@on("packet_in")
def synflood(event, ctx):
    if event.data.get("proto") != "tcp" or event.data.get("flags") != "S":
        return []
    window = int(event.time // WINDOW)
    count = ctx.store.incr(("syn", event.src, window), ttl=2 * WINDOW)
    if count < THRESHOLD or ("blocked", event.src) in ctx.store:
        return []
    ctx.store.set(("blocked", event.src), True, ttl=BLOCK_SECONDS)
    ctx.log.info("%s sent %d SYNs within %g s", event.src, count, WINDOW)
    return [
        Alert("syn-flood", src=event.src, dst=event.dst, detail=f"{count:g} SYNs in {WINDOW:g} s"),
        Block(src=event.src, seconds=BLOCK_SECONDS),
    ]
