"""Who really sent a packet: source addresses checked against ARP's address-to-MAC bindings.

A decoy scan (nmap -D) or a spoofed flood forges the IP source address, but a
host cannot forge the MAC address its frames carry on the link without
also answering ARP for it: the frames still come from the attacker's
interface. ARP requests and replies bind each address to the MAC that
announced it; an IP packet whose frame comes from a MAC bound to another
address was sent by that address's owner. Frames without a MAC (pcaps of
decapsulated tunnels, controller events) and MACs that never spoke ARP where
the sensor sits (routers reached through static neighbour entries) keep their
claimed source. A router's MAC that did speak ARP there would take the blame
for what it forwards: run the sensor where frames enter from their senders
(a node's bridge ports, its default place).
"""

from taplab.detectors.observation import Observation

MAX_FORGED = 64  # forged addresses kept per sender (a random-source flood forges thousands)


class AddressBinding:
    """Learns IP-to-MAC bindings from ARP; names each packet's real sender."""

    def __init__(self):
        self.mac_of: dict[str, str] = {}  # address -> MAC that announced it
        self.owner: dict[str, str] = {}  # MAC -> the address it announced first
        self.forged: dict[str, set[str]] = {}  # real sender -> addresses it forged

    def sender(self, obs: Observation) -> str:
        """The address that really sent obs (learning from it when it is ARP)."""
        if obs.proto == "arp":
            if obs.mac and obs.src != "0.0.0.0":
                self.mac_of.setdefault(obs.src, obs.mac)
                self.owner.setdefault(obs.mac, obs.src)
            return obs.src
        owner = self.owner.get(obs.mac) if obs.mac else None
        if owner is None or owner == obs.src or self.mac_of.get(obs.src) == obs.mac:
            return obs.src
        forged = self.forged.setdefault(owner, set())
        if len(forged) < MAX_FORGED:
            forged.add(obs.src)
        return owner

    def decoys(self, sender: str) -> list[str]:
        """The addresses sender forged so far."""
        return sorted(self.forged.get(sender, ()))
