# node: root
"""Exercise 12, solution: a switch agent sending flow records to the lab's lambda server
with the telemetry protocol (version 2), one record per transaction, without ACK or
stop-and-wait with ACK, over a link that loses a fraction of the datagrams.

    sudo taplab exercise run 12 agent.py            # 500 records each way, 5 % loss
    python agent.py --ack --loss 0.05 --records 500 --switch-id 7    (what the grader runs)
"""

import argparse
import os
import random
import socket
import time
from pathlib import Path

from taplab.controllers.telemetry import V2, FlowRecord, build, flow_event
from taplab.lab import LabHandle
from taplab.state import find_lab

ACK_TIMEOUT = 0.02  # seconds: localhost answers in well under a millisecond
MAX_TRIES = 50


class LossyLink:
    """A UDP socket to the lambda server that loses datagrams both ways."""

    def __init__(self, port: int, loss: float, seed: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.loss, self.rng = loss, random.Random(seed)
        self.sent = self.lost = 0

    def send(self, datagram: bytes) -> None:
        self.sent += 1
        if self.rng.random() < self.loss:
            self.lost += 1
        else:
            self.sock.send(datagram)

    def receive(self, timeout: float) -> bytes | None:
        """The next datagram that arrives within timeout (and is not lost), or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                reply = self.sock.recv(2048)
            except TimeoutError:
                return None
            if self.rng.random() >= self.loss:
                return reply
        return None


def records(n: int) -> list[FlowRecord]:
    return [FlowRecord("10.0.0.1", "10.0.0.2", 6, 10000 + i, 80, i, 60 * i) for i in range(n)]


def send_no_ack(link: LossyLink, key: bytes, switch_id: int, epoch: int, flows) -> None:
    for seq, flow in enumerate(flows, start=1):
        link.send(build(V2, switch_id, seq, [flow_event(flow)], key, epoch))


def send_acked(link: LossyLink, key: bytes, switch_id: int, epoch: int, flows) -> int:
    """Stop-and-wait: each transaction is sent until its ACK arrives; return retransmits."""
    retransmits = 0
    for seq, flow in enumerate(flows, start=1):
        datagram = build(V2, switch_id, seq, [flow_event(flow, ack=True)], key, epoch)
        ack = build(V2, switch_id, seq, [], key, epoch)  # what the server answers
        for attempt in range(MAX_TRIES):
            retransmits += attempt > 0
            link.send(datagram)
            if link.receive(ACK_TIMEOUT) == ack:
                break
        else:
            raise TimeoutError(f"transaction {seq} was never acknowledged")
    return retransmits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ack", action="store_true", help="stop-and-wait with ACK")
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--switch-id", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    controller = LabHandle(find_lab(os.environ.get("LAB"))).controller  # as user nobody
    key = bytes.fromhex(Path(controller["telemetry_key_file"]).read_text().strip())
    modes = [args.ack] if args.switch_id else [False, True]
    for ack in modes:
        switch_id = args.switch_id or (2 if ack else 1)
        link = LossyLink(controller["telemetry_port"], args.loss, args.seed)
        epoch = time.time_ns()
        flows = records(args.records)
        if ack:
            retransmits = send_acked(link, key, switch_id, epoch, flows)
            print(
                f"switch {switch_id}: {len(flows)} records with ACK, {link.sent} datagrams "
                f"sent ({link.lost} lost), {retransmits} retransmissions"
            )
        else:
            send_no_ack(link, key, switch_id, epoch, flows)
            print(f"switch {switch_id}: {len(flows)} records without ACK, {link.lost} lost")


if __name__ == "__main__":
    main()
