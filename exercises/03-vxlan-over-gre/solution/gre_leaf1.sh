# node: leaf1
# Exercise 03, solution for leaf1: the GRE tunnel to the other leaf, and the route
# that sends the other VTEP's network through it.
ip link add gre1 type gre local 10.0.1.2 remote 10.0.2.2 ttl 64
ip addr add 172.16.0.1/30 dev gre1
ip link set gre1 mtu 1476 up
ip route replace 10.1.2.0/24 via 172.16.0.2 dev gre1
