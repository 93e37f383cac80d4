# node: leaf1
# Exercise 03: leaf1's end of the GRE tunnel between the leaves. Runs in leaf1.
#   sudo taplab exercise run 03 gre_leaf1.sh gre_leaf2.sh vxlan_vtep1.sh vxlan_vtep2.sh
# TODO 1: a GRE device gre1 from this leaf's address towards spine1 to the other
#         leaf's (ttl 64), with 172.16.0.1/30 inside the tunnel, MTU 1476, up.
# TODO 2: route the other VTEP's network (10.1.X.0/24) through gre1, via the other
#         end of the tunnel (ip route replace ... via 172.16.0.Y dev gre1).
