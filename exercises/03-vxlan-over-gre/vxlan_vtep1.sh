# node: vtep1
# Exercise 03: vtep1's end of the VXLAN overlay. Runs in vtep1; h1 is "$LAB-h1".
# TODO 3: a VXLAN device vxlan42 (VNI 42, UDP port 4789) from this VTEP's address
#         (10.1.1.2) to the other VTEP's, enslaved to br0, up.
# TODO 4: the MTU of vxlan42, br0 and h1's eth0: 1500 minus GRE's 24 bytes minus
#         VXLAN's 50.
