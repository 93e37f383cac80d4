# node: node1
# Exercise 04: a ClusterIP (10.96.0.10:80) and a NodePort (30080) for the web pods
# pod1 10.244.1.2:8080 and pod2 10.244.1.3:8080, the way kube-proxy does it.
# Runs inside node1. Run: sudo taplab exercise run 04 services.sh
iptables -t nat -N KUBE-SERVICES
iptables -t nat -N KUBE-SVC-WEB
# TODO 1: send packets arriving at node1 (PREROUTING) and packets node1 itself sends
#         (OUTPUT) through KUBE-SERVICES.
# TODO 2: in KUBE-SERVICES, jump to KUBE-SVC-WEB for TCP to 10.96.0.10 port 80 ...
# TODO 3: ... and for TCP to node1's address 192.168.0.1 port 30080 (the NodePort).
# TODO 4: in KUBE-SVC-WEB, DNAT half of the new connections to pod1:8080
#         (-p tcp -m statistic --mode random --probability 0.5) and the rest to pod2:8080.
