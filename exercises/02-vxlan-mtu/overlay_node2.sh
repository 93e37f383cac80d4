# node: node2
# Exercise 02, node2's half of the overlay. Runs inside node2's namespace; pod2's
# namespace is "$LAB-pod2".
# TODO 1: create a VXLAN device vxlan42: VNI 42, UDP port 4789, from node2's underlay
#         address to node1's (192.168.0.1), over eth0.
# TODO 2: make vxlan42 a port of br0 and bring it up.
# TODO 3: set pod2's eth0 MTU so its packets fit in the tunnel.
