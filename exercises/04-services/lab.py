"""Exercise 04's starting lab: two web pods behind node1, a client outside.

    pod1 10.244.1.2:8080   pod2 10.244.1.3:8080     (each answers with its name)
            \\              /
             cni0 10.244.1.1  node1  eth0 192.168.0.1 ---- 192.168.0.2 eth0 ext
"""

from taplab.exercises.webservers import serve_names

REQUIRES = ("iptables",)
PODS = {"pod1": "10.244.1.2", "pod2": "10.244.1.3"}


def build(lab) -> None:
    node1, ext = lab.add_host("node1"), lab.add_host("ext")
    lab.add_link(node1, ext, intfName1="eth0", intfName2="eth0")
    pods = {name: lab.add_host(name) for name in PODS}
    for i, pod in enumerate(pods.values(), start=1):
        lab.add_link(pod, node1, intfName1="eth0", intfName2=f"veth-pod{i}")
    lab.start()
    node1.cmd("ip link add cni0 type bridge && ip link set cni0 up")
    node1.cmd("ip addr add 10.244.1.1/24 dev cni0")
    node1.setIP("192.168.0.1/24", intf="eth0")
    node1.cmd("ip route add default via 192.168.0.2")  # where service addresses would go
    node1.cmd("sysctl -qw net.ipv4.ip_forward=1")
    ext.setIP("192.168.0.2/24", intf="eth0")
    for i, (name, pod) in enumerate(pods.items(), start=1):
        node1.cmd(f"ip link set veth-pod{i} master cni0 up")
        pod.setIP(f"{PODS[name]}/24", intf="eth0")
        pod.cmd("ip route add default via 10.244.1.1")
    serve_names(lab, {name: 8080 for name in PODS})
