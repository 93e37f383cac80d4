"""Exercise 09's starting lab: a client pod and a server pod on node1's bridge.

    pod1 10.244.1.2 (client)   pod2 10.244.1.3 (server, where the policy goes)
               \\                 /
                cni0 10.244.1.1  node1
"""

REQUIRES = ("tc_bpf", "bcc", "iptables", "iperf3")
PODS = {"pod1": "10.244.1.2", "pod2": "10.244.1.3"}


def build(lab) -> None:
    node1 = lab.add_host("node1")
    pods = {name: lab.add_host(name) for name in PODS}
    for i, pod in enumerate(pods.values(), start=1):
        lab.add_link(pod, node1, intfName1="eth0", intfName2=f"veth-pod{i}")
    lab.start()
    node1.cmd("ip link add cni0 type bridge && ip link set cni0 up")
    node1.cmd("ip addr add 10.244.1.1/24 dev cni0")
    for i, (name, pod) in enumerate(pods.items(), start=1):
        node1.cmd(f"ip link set veth-pod{i} master cni0 up")
        pod.setIP(f"{PODS[name]}/24", intf="eth0")
