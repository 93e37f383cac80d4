# node: vtep1
# Exercise 03, solution for vtep1: VXLAN VNI 42 to the other VTEP (its packets go
# through the GRE tunnel), on br0, and MTU 1426 = 1476 (GRE) - 50 (VXLAN) for h1.
ip link add vxlan42 type vxlan id 42 dstport 4789 local 10.1.1.2 remote 10.1.2.2
ip link set vxlan42 master br0 mtu 1426 up
ip link set br0 mtu 1426
ip -n "$LAB-h1" link set eth0 mtu 1426
