"""Exercise 04's starting lab: two web pods behind node1, a client outside.

pod1 10.244.1.2:8080   pod2 10.244.1.3:8080     (each answers with its name)
        \\              /
         cni0 10.244.1.1  node1  eth0 192.168.0.1 ---- 192.168.0.2 eth0 ext
"""

from taplab.exercises.podnet import add_pods, wire_pods
from taplab.exercises.webservers import serve_names

REQUIRES = ("iptables",)
PODS = {"pod1": "10.244.1.2", "pod2": "10.244.1.3"}


def build(lab) -> None:
    node1, ext = lab.add_host("node1"), lab.add_host("ext")
    lab.add_link(node1, ext, intfName1="eth0", intfName2="eth0")
    pods = add_pods(lab, node1, PODS)
    lab.start()
    wire_pods(node1, pods)
    node1.setIP("192.168.0.1/24", intf="eth0")
    node1.cmd("ip route add default via 192.168.0.2")  # where service addresses would go
    node1.cmd("sysctl -qw net.ipv4.ip_forward=1")
    ext.setIP("192.168.0.2/24", intf="eth0")
    serve_names(lab, {name: 8080 for name in PODS})
