# node: node1
# Exercise 02, node1's half of the overlay. Runs inside node1's namespace; pod1's
# namespace is "$LAB-pod1". Run: sudo taplab exercise run 02 overlay_node1.sh overlay_node2.sh
# TODO 1: create a VXLAN device vxlan42: VNI 42, UDP port 4789, from node1's underlay
#         address to node2's (192.168.0.2), over eth0.
# TODO 2: make vxlan42 a port of br0 and bring it up.
# TODO 3: the tunnel costs 50 bytes per packet: set pod1's eth0 MTU so its packets fit.
