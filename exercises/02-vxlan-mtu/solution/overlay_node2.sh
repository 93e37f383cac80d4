# node: node2
# Exercise 02, solution for node2: VXLAN VNI 42 to node1, on br0; pod2's MTU.
ip link add vxlan42 type vxlan id 42 dstport 4789 local 192.168.0.2 remote 192.168.0.1 dev eth0
ip link set vxlan42 master br0 up
ip -n "$LAB-pod2" link set eth0 mtu 1450
