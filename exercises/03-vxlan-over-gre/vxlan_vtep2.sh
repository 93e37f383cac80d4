# node: vtep2
# Exercise 03: vtep2's end of the VXLAN overlay. Runs in vtep2; h2 is "$LAB-h2".
# TODO 3: a VXLAN device vxlan42 (VNI 42, UDP port 4789) from this VTEP's address
#         (10.1.2.2) to the other VTEP's, enslaved to br0, up.
# TODO 4: the MTU of vxlan42, br0 and h2's eth0: 1500 minus GRE's 24 bytes minus
#         VXLAN's 50.
