# node: node1
# Exercise 02, solution for node1: VXLAN VNI 42 to node2, on br0; pod1's MTU.
ip link add vxlan42 type vxlan id 42 dstport 4789 local 192.168.0.1 remote 192.168.0.2 dev eth0
ip link set vxlan42 master br0 up
ip -n "$LAB-pod1" link set eth0 mtu 1450
